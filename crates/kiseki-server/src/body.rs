//! Reading request bodies safely: size limits before and after decompression, and media types.

use std::io::Read;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};

use crate::error::{ApiError, Reason};

/// Bounds on what one request may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// Largest body accepted as sent on the wire.
    pub max_request_bytes: usize,
    /// Largest body accepted after decompression, so a small gzip bomb cannot fill memory.
    pub max_decompressed_bytes: usize,
}

impl Default for BodyLimits {
    fn default() -> Self {
        Self { max_request_bytes: 16 << 20, max_decompressed_bytes: 64 << 20 }
    }
}

/// A request body as it arrived, and decompressed.
pub struct RequestBody {
    /// Bytes received on the wire, for the received-bytes metric.
    pub wire_len: usize,
    pub bytes: Bytes,
}

/// Reads the whole body within the limits and undoes `Content-Encoding`.
pub async fn read(
    headers: &HeaderMap,
    body: Body,
    limits: BodyLimits,
) -> Result<RequestBody, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(declared) = declared
        && declared > limits.max_request_bytes as u64
    {
        return Err(too_large(limits.max_request_bytes, "request body"));
    }
    let encoding = content_encoding(headers)?;
    let raw = match Limited::new(body, limits.max_request_bytes).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            return Err(too_large(limits.max_request_bytes, "request body"));
        }
        Err(error) => {
            return Err(ApiError::malformed(format!("reading the request body failed: {error}")));
        }
    };
    let wire_len = raw.len();
    let bytes = match encoding {
        Encoding::Identity => raw,
        Encoding::Gzip => decompress(flate2::read::MultiGzDecoder::new(&raw[..]), limits, "gzip")?,
        Encoding::Deflate => {
            decompress(flate2::read::ZlibDecoder::new(&raw[..]), limits, "deflate")?
        }
    };
    Ok(RequestBody { wire_len, bytes })
}

enum Encoding {
    Identity,
    Gzip,
    Deflate,
}

fn content_encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(Encoding::Identity);
    };
    let value = value.to_str().unwrap_or("").trim().to_ascii_lowercase();
    match value.as_str() {
        "" | "identity" => Ok(Encoding::Identity),
        "gzip" | "x-gzip" => Ok(Encoding::Gzip),
        "deflate" => Ok(Encoding::Deflate),
        other => Err(ApiError::new(
            Reason::UnsupportedMediaType,
            format!("content encoding {other:?} is not supported; use gzip, deflate or none"),
        )),
    }
}

fn decompress(reader: impl Read, limits: BodyLimits, name: &str) -> Result<Bytes, ApiError> {
    let mut out = Vec::new();
    let limit = limits.max_decompressed_bytes as u64;
    match reader.take(limit + 1).read_to_end(&mut out) {
        Ok(_) if out.len() as u64 > limit => {
            Err(too_large(limits.max_decompressed_bytes, "decompressed request body"))
        }
        Ok(_) => Ok(Bytes::from(out)),
        Err(error) => Err(ApiError::malformed(format!("{name} body is corrupt: {error}"))),
    }
}

fn too_large(limit: usize, what: &str) -> ApiError {
    ApiError::new(Reason::TooLarge, format!("{what} is larger than the limit of {limit} bytes"))
}

/// The media type of a request without parameters, lowercased (`application/json`), or `None`.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let media = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    (!media.is_empty()).then_some(media)
}

/// A 415 that names what was sent and what is understood.
pub fn unsupported_media_type(sent: Option<&str>, supported: &[&str]) -> ApiError {
    let sent = sent.unwrap_or("none");
    ApiError::new(
        Reason::UnsupportedMediaType,
        format!(
            "content type {sent:?} is not supported here; send one of: {}",
            supported.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[tokio::test]
    async fn gzip_is_undone_and_counted_as_sent() {
        let compressed = gzip(&[b'a'; 1000]);
        let h = headers(&[(header::CONTENT_ENCODING, "gzip")]);
        let body = read(&h, Body::from(compressed.clone()), BodyLimits::default()).await.unwrap();
        assert_eq!(body.bytes.len(), 1000);
        assert_eq!(body.wire_len, compressed.len());
    }

    #[tokio::test]
    async fn limits_hold_before_and_after_decompression() {
        let limits = BodyLimits { max_request_bytes: 100, max_decompressed_bytes: 500 };
        let error =
            read(&HeaderMap::new(), Body::from(vec![0u8; 101]), limits).await.err().unwrap();
        assert_eq!(error.reason, Reason::TooLarge);
        let declared = headers(&[(header::CONTENT_LENGTH, "1000000")]);
        let error = read(&declared, Body::empty(), limits).await.err().unwrap();
        assert_eq!(error.reason, Reason::TooLarge);
        let bomb = gzip(&[0u8; 100_000]);
        let small_on_the_wire = BodyLimits { max_request_bytes: bomb.len(), ..limits };
        let h = headers(&[(header::CONTENT_ENCODING, "gzip")]);
        let error = read(&h, Body::from(bomb), small_on_the_wire).await.err().unwrap();
        assert_eq!(error.reason, Reason::TooLarge);
        assert!(error.message.contains("decompressed"), "{}", error.message);
    }

    #[tokio::test]
    async fn corrupt_gzip_and_unknown_encodings_are_refused() {
        let h = headers(&[(header::CONTENT_ENCODING, "gzip")]);
        let error = read(&h, Body::from(&b"not gzip at all"[..]), BodyLimits::default())
            .await
            .err()
            .unwrap();
        assert_eq!(error.reason, Reason::Malformed);
        let h = headers(&[(header::CONTENT_ENCODING, "br")]);
        let error = read(&h, Body::from(&b"x"[..]), BodyLimits::default()).await.err().unwrap();
        assert_eq!(error.reason, Reason::UnsupportedMediaType);
    }

    #[test]
    fn media_type_drops_parameters() {
        let h = headers(&[(header::CONTENT_TYPE, "Application/JSON; charset=utf-8")]);
        assert_eq!(media_type(&h).as_deref(), Some("application/json"));
        assert_eq!(media_type(&HeaderMap::new()), None);
    }
}
