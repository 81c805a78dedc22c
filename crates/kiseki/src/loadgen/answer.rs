//! Reading what a server answers beyond its status: OTLP's `partial_success`, and how long it
//! asks a client to wait (HTTP `Retry-After`, gRPC `RetryInfo`).

use std::time::Duration;

use kiseki_codec::otlp::wire::{Reader, WireError, WireType};

/// Spans an OTLP server refused inside an acknowledged export, from the protobuf
/// `ExportTraceServiceResponse`; 0 when it says nothing or cannot be read.
pub fn otlp_rejected_spans_proto(body: &[u8]) -> u64 {
    fn read(body: &[u8]) -> Result<u64, WireError> {
        let mut rejected = 0;
        let mut response = Reader::new(body);
        while let Some((field, wire_type)) = response.field()? {
            if field != 1 || wire_type != WireType::Len {
                response.skip(wire_type)?;
                continue;
            }
            let mut partial = Reader::new(response.bytes()?);
            while let Some((field, wire_type)) = partial.field()? {
                match (field, wire_type) {
                    (1, WireType::Varint) => rejected = partial.varint()?,
                    _ => partial.skip(wire_type)?,
                }
            }
        }
        Ok(rejected)
    }
    read(body).unwrap_or(0)
}

/// The same from the JSON response, where the int64 may be a string or a number.
pub fn otlp_rejected_spans_json(body: &[u8]) -> u64 {
    let Ok(response) = serde_json::from_slice::<serde_json::Value>(body) else { return 0 };
    let partial = response.get("partialSuccess").or_else(|| response.get("partial_success"));
    let rejected = partial.and_then(|p| p.get("rejectedSpans").or_else(|| p.get("rejected_spans")));
    match rejected {
        Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(serde_json::Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

/// An HTTP `Retry-After` in seconds. The HTTP-date form is not read (kiseki and the collectors
/// send seconds); the caller then waits its default.
pub fn retry_after_header(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The delay of a `google.rpc.RetryInfo` among the details of a gRPC status (the binary
/// `grpc-status-details-bin`, a `google.rpc.Status` message).
pub fn grpc_retry_info(status_details: &[u8]) -> Option<Duration> {
    const RETRY_INFO: &[u8] = b"type.googleapis.com/google.rpc.RetryInfo";
    fn read(details: &[u8]) -> Result<Option<Duration>, WireError> {
        let mut status = Reader::new(details);
        while let Some((field, wire_type)) = status.field()? {
            if field != 3 || wire_type != WireType::Len {
                status.skip(wire_type)?;
                continue;
            }
            // An `Any`: the type URL, then the message.
            let mut any = Reader::new(status.bytes()?);
            let (mut type_url, mut value) = (&[][..], &[][..]);
            while let Some((field, wire_type)) = any.field()? {
                match (field, wire_type) {
                    (1, WireType::Len) => type_url = any.bytes()?,
                    (2, WireType::Len) => value = any.bytes()?,
                    _ => any.skip(wire_type)?,
                }
            }
            if type_url != RETRY_INFO {
                continue;
            }
            let mut retry_info = Reader::new(value);
            while let Some((field, wire_type)) = retry_info.field()? {
                if field != 1 || wire_type != WireType::Len {
                    retry_info.skip(wire_type)?;
                    continue;
                }
                // A `google.protobuf.Duration`.
                let (mut seconds, mut nanos) = (0u64, 0u64);
                let mut duration = Reader::new(retry_info.bytes()?);
                while let Some((field, wire_type)) = duration.field()? {
                    match (field, wire_type) {
                        (1, WireType::Varint) => seconds = duration.varint()?,
                        (2, WireType::Varint) => nanos = duration.varint()?,
                        _ => duration.skip(wire_type)?,
                    }
                }
                // Negative values arrive as huge varints; they are not a delay.
                if seconds > i64::MAX as u64 || nanos >= 1_000_000_000 {
                    return Ok(None);
                }
                return Ok(Some(Duration::new(seconds, nanos as u32)));
            }
        }
        Ok(None)
    }
    read(status_details).ok().flatten()
}

#[cfg(test)]
mod tests {
    use kiseki_codec::otlp::wire::Writer;
    use kiseki_codec::otlp::{encode_response_json, encode_response_proto};

    use super::*;

    #[test]
    fn partial_success_is_read_in_both_encodings() {
        assert_eq!(otlp_rejected_spans_proto(&encode_response_proto(0, "")), 0);
        assert_eq!(otlp_rejected_spans_proto(&encode_response_proto(7, "bad ids")), 7);
        assert_eq!(otlp_rejected_spans_json(&encode_response_json(0, "")), 0);
        assert_eq!(otlp_rejected_spans_json(&encode_response_json(7, "bad ids")), 7);
        assert_eq!(otlp_rejected_spans_json(br#"{"partialSuccess":{"rejectedSpans":3}}"#), 3);
        assert_eq!(otlp_rejected_spans_proto(b"\x0a\x05garbage"), 0);
        assert_eq!(otlp_rejected_spans_json(b"not json"), 0);
    }

    #[test]
    fn retry_after_takes_seconds() {
        assert_eq!(retry_after_header(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(retry_after_header("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(retry_after_header("-1"), None);
    }

    fn status_with_retry_info(seconds: u64, nanos: u64) -> Vec<u8> {
        let mut status = Writer::new();
        status.uint64(1, 8);
        status.bytes(2, b"slow down");
        status.message(3, |any| {
            any.bytes(1, b"type.googleapis.com/google.rpc.DebugInfo");
            any.bytes(2, b"\x12\x03abc");
        });
        status.message(3, |any| {
            any.bytes(1, b"type.googleapis.com/google.rpc.RetryInfo");
            any.message(2, |retry_info| {
                retry_info.message(1, |duration| {
                    duration.uint64(1, seconds);
                    duration.uint64(2, nanos);
                })
            });
        });
        status.out
    }

    #[test]
    fn grpc_retry_info_is_found_among_the_details() {
        let details = status_with_retry_info(2, 500_000_000);
        assert_eq!(grpc_retry_info(&details), Some(Duration::from_millis(2_500)));
        assert_eq!(grpc_retry_info(&status_with_retry_info(u64::MAX, 0)), None);
        assert_eq!(grpc_retry_info(b""), None);
        assert_eq!(grpc_retry_info(b"\x1a\xff"), None);
    }
}
