//! The four Zipkin encodings, their content types, and telling them apart by their first bytes.
//!
//! Zipkin's collector accepts JSON and Thrift on `/api/v1/spans` and JSON and proto3 on
//! `/api/v2/spans`, and refuses a body of the other version with a message that says so. The same
//! byte-level rules are here so a receiver can give that message before decoding.

use std::fmt;

/// One of Zipkin's span list encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// `POST /api/v1/spans`, `application/json`: a JSON array of v1 spans.
    V1Json,
    /// `POST /api/v1/spans`, `application/x-thrift`: a TBinaryProtocol `list<Span>`.
    V1Thrift,
    /// `POST /api/v2/spans`, `application/json`: a JSON array of v2 spans.
    V2Json,
    /// `POST /api/v2/spans`, `application/x-protobuf`: a proto3 `zipkin.proto3.ListOfSpans`.
    V2Proto,
}

/// The API version of the path a body was posted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiVersion {
    /// `/api/v1/spans`
    V1,
    /// `/api/v2/spans`
    V2,
}

impl Encoding {
    /// The content type Zipkin uses for this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::V1Json | Encoding::V2Json => "application/json",
            Encoding::V1Thrift => "application/x-thrift",
            Encoding::V2Proto => "application/x-protobuf",
        }
    }

    pub fn api_version(self) -> ApiVersion {
        match self {
            Encoding::V1Json | Encoding::V1Thrift => ApiVersion::V1,
            Encoding::V2Json | Encoding::V2Proto => ApiVersion::V2,
        }
    }

    /// The encoding a request asks for by its path and `Content-Type` header, as Zipkin's
    /// collector routes it: Thrift and protobuf by content type, JSON otherwise (tracers often send
    /// no content type, or `text/plain`). `None` when the content type names the other version's
    /// binary encoding (Thrift on v2, protobuf on v1), which Zipkin refuses.
    pub fn for_request(version: ApiVersion, content_type: Option<&str>) -> Option<Encoding> {
        let media_type = content_type
            .and_then(|value| value.split(';').next())
            .map(|value| value.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let thrift = matches!(
            media_type.as_str(),
            "application/x-thrift" | "application/vnd.apache.thrift.binary"
        );
        let protobuf =
            matches!(media_type.as_str(), "application/x-protobuf" | "application/protobuf");
        match (version, thrift, protobuf) {
            (ApiVersion::V1, true, _) => Some(Encoding::V1Thrift),
            (ApiVersion::V1, _, true) => None,
            (ApiVersion::V1, false, false) => Some(Encoding::V1Json),
            (ApiVersion::V2, _, true) => Some(Encoding::V2Proto),
            (ApiVersion::V2, true, _) => None,
            (ApiVersion::V2, false, false) => Some(Encoding::V2Json),
        }
    }

    /// Words for an error message that tell the client where this encoding belongs.
    pub(crate) fn hint_for(self, expected: Encoding) -> &'static str {
        match (self.api_version(), expected.api_version()) {
            (ApiVersion::V1, ApiVersion::V2) => " (post it to /api/v1/spans)",
            (ApiVersion::V2, ApiVersion::V1) => " (post it to /api/v2/spans)",
            _ => "",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::V1Json => "a Zipkin v1 JSON span list",
            Encoding::V1Thrift => "a Zipkin v1 Thrift span list",
            Encoding::V2Json => "a Zipkin v2 JSON span list",
            Encoding::V2Proto => "a Zipkin v2 proto3 span list",
        })
    }
}

/// Guesses the encoding of a span list from its bytes, by the rules of Zipkin's collector: a
/// TBinaryProtocol list starts with its element type (12 = struct; 11 is also seen), a proto3
/// `ListOfSpans` with the tag of field 1 (`0x0A`) followed by a non-zero length, JSON with `[`.
/// JSON that names an endpoint (`…Endpoint"`) or has `"tags"` is v2, other JSON is v1.
///
/// `None` for an empty body or one that is none of these. A v2 JSON span with neither endpoints
/// nor tags looks exactly like a v1 span; it is reported as v1, as Zipkin does.
pub fn sniff(body: &[u8]) -> Option<Encoding> {
    match body.first()? {
        // A JSON body may start with a newline, which is also proto3's first byte.
        b'\n' if looks_like_json_array(body) => json_version(body),
        10 if body.get(1).is_some_and(|&b| b != 0) => Some(Encoding::V2Proto),
        11 | 12 => Some(Encoding::V1Thrift),
        _ if looks_like_json_array(body) => json_version(body),
        _ => None,
    }
}

fn json_version(body: &[u8]) -> Option<Encoding> {
    if looks_like_v2_json(body) { Some(Encoding::V2Json) } else { Some(Encoding::V1Json) }
}

/// Starts with `[` and ends with `]`, ignoring JSON whitespace.
fn looks_like_json_array(body: &[u8]) -> bool {
    first_non_whitespace(body) == Some(b'[')
        && body.iter().rev().copied().find(|&b| !is_json_whitespace(b)) == Some(b']')
}

/// Checks that a body can be a span list in `expected`, with Zipkin's collector's rules for
/// telling versions apart; the error names what the body is instead. An empty body passes.
///
/// JSON is told apart by Zipkin's markers (`Endpoint"` or `"tags"` only in v2,
/// `binaryAnnotations"` only in v1); the JSON decoders also find these fields themselves, so a
/// receiver that calls them needs this only for an early, cheap answer.
pub fn check_encoding(expected: Encoding, body: &[u8]) -> Result<(), super::DecodeError> {
    use super::DecodeError::{NotAList, WrongEncoding};
    if body.is_empty() {
        return Ok(());
    }
    let found = sniff(body);
    match expected {
        Encoding::V1Json | Encoding::V2Json => {
            if first_non_whitespace(body) != Some(b'[') {
                return Err(match found {
                    Some(found) => WrongEncoding { expected, found },
                    None => NotAList { expected },
                });
            }
            if expected == Encoding::V1Json && looks_like_v2_json(body) {
                return Err(WrongEncoding { expected, found: Encoding::V2Json });
            }
            if expected == Encoding::V2Json && contains(body, b"yAnnotations\"") {
                return Err(WrongEncoding { expected, found: Encoding::V1Json });
            }
            Ok(())
        }
        Encoding::V1Thrift | Encoding::V2Proto => match found {
            Some(found) if found == expected => Ok(()),
            Some(found) => Err(WrongEncoding { expected, found }),
            None => Err(NotAList { expected }),
        },
    }
}

fn looks_like_v2_json(body: &[u8]) -> bool {
    contains(body, b"Endpoint\"") || contains(body, b"\"tags\"")
}

fn first_non_whitespace(body: &[u8]) -> Option<u8> {
    body.iter().copied().find(|&b| !is_json_whitespace(b))
}

fn is_json_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_follows_zipkins_first_byte_rules() {
        assert_eq!(sniff(&[12, 0, 0, 0, 1]), Some(Encoding::V1Thrift));
        assert_eq!(sniff(&[11, 0, 0, 0, 1]), Some(Encoding::V1Thrift));
        assert_eq!(sniff(&[10, 0x50, 0x0a]), Some(Encoding::V2Proto));
        assert_eq!(sniff(&[10, 0]), None);
        assert_eq!(sniff(b"[]"), Some(Encoding::V1Json));
        assert_eq!(sniff(b" \n[{\"traceId\":\"1\"}]"), Some(Encoding::V1Json));
        assert_eq!(sniff(b"\n[{\"tags\":{}}]\n"), Some(Encoding::V2Json));
        assert_eq!(sniff(b"[{\"traceId\":"), None);
        assert_eq!(sniff(br#"[{"localEndpoint":{}}]"#), Some(Encoding::V2Json));
        assert_eq!(sniff(br#"[{"tags":{}}]"#), Some(Encoding::V2Json));
        assert_eq!(sniff(br#"[{"binaryAnnotations":[{"endpoint":{}}]}]"#), Some(Encoding::V1Json));
        assert_eq!(sniff(b"{}"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn check_names_the_encoding_that_was_sent() {
        let v2 = br#"[{"traceId":"1","id":"1","localEndpoint":{"serviceName":"a"}}]"#;
        let err = check_encoding(Encoding::V1Json, v2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected a Zipkin v1 JSON span list, but the body is a Zipkin v2 JSON span list \
             (post it to /api/v2/spans)"
        );
        let v1 = br#"[{"traceId":"1","id":"1","binaryAnnotations":[]}]"#;
        assert!(check_encoding(Encoding::V2Json, v1).is_err());
        assert!(check_encoding(Encoding::V2Json, v2).is_ok());
        assert!(check_encoding(Encoding::V1Json, v1).is_ok());
        // A v2 span with only ids and a name is also a valid v1 span: both accept it.
        let bare = br#"[{"traceId":"1","id":"1","name":"get"}]"#;
        assert!(check_encoding(Encoding::V1Json, bare).is_ok());
        assert!(check_encoding(Encoding::V2Json, bare).is_ok());
        assert!(matches!(
            check_encoding(Encoding::V2Proto, &[12, 0, 0, 0, 0]),
            Err(crate::zipkin::DecodeError::WrongEncoding { found: Encoding::V1Thrift, .. })
        ));
        assert!(check_encoding(Encoding::V1Thrift, b"hello").is_err());
        assert!(check_encoding(Encoding::V1Thrift, b"").is_ok());
    }

    #[test]
    fn request_routing_by_path_and_content_type() {
        use ApiVersion::{V1, V2};
        assert_eq!(Encoding::for_request(V1, None), Some(Encoding::V1Json));
        assert_eq!(
            Encoding::for_request(V1, Some("application/x-thrift")),
            Some(Encoding::V1Thrift)
        );
        assert_eq!(
            Encoding::for_request(V2, Some("Application/X-Protobuf; charset=binary")),
            Some(Encoding::V2Proto)
        );
        assert_eq!(
            Encoding::for_request(V2, Some("application/json; charset=utf-8")),
            Some(Encoding::V2Json)
        );
        assert_eq!(Encoding::for_request(V2, Some("application/x-thrift")), None);
        assert_eq!(Encoding::for_request(V1, Some("application/x-protobuf")), None);
        for encoding in [Encoding::V1Json, Encoding::V1Thrift, Encoding::V2Json, Encoding::V2Proto]
        {
            assert_eq!(
                Encoding::for_request(encoding.api_version(), Some(encoding.content_type())),
                Some(encoding)
            );
        }
    }
}
