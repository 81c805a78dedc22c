//! Input made to hurt: huge counts, deep nesting, invalid UTF-8, truncation. Each must be an
//! error (or, where the content is merely odd, a result) without panicking or allocating
//! what the body does not contain.

use kiseki_model::AnyValue;

use crate::limits::{LimitError, MAX_ATTRIBUTES, MAX_EVENTS, MAX_LINKS, MAX_VALUE_DEPTH};

use super::super::*;
use super::support::{Mp, map, s, span_map, strings, v04};

fn problem(result: Result<Vec<kiseki_model::Span>, DecodeError>) -> Problem {
    match result {
        Err(DecodeError::Malformed { problem, .. }) => problem,
        other => panic!("expected a malformed payload, got {other:?}"),
    }
}

#[test]
fn counts_larger_than_the_body_are_refused_before_allocating() {
    // An array of 4 billion traces in 6 bytes.
    assert_eq!(
        problem(decode_v04_msgpack(&[0xdd, 0xff, 0xff, 0xff, 0xff, 0x90])),
        Problem::CountTooLarge { count: u64::from(u32::MAX) }
    );
    // A span map, a meta map and a string table that each promise more than there is.
    let span = [0x91, 0x91, 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, b'a'];
    assert!(matches!(problem(decode_v04_msgpack(&span)), Problem::CountTooLarge { .. }));
    let meta = v04(vec![vec![span_map(1, 2, vec![("meta", Mp::Raw(vec![0xdf, 0, 1, 0, 0]))])]]);
    assert!(matches!(problem(decode_v04_msgpack(&meta)), Problem::CountTooLarge { .. }));
    let table = [0x92, 0xdd, 0x7f, 0xff, 0xff, 0xff, 0x90];
    assert!(matches!(problem(decode_v05(&table)), Problem::CountTooLarge { .. }));
    let chunks = map(vec![("chunks", Mp::Raw(vec![0xdd, 0xff, 0, 0, 0]))]).encode();
    assert!(matches!(problem(decode_v07(&chunks)), Problem::CountTooLarge { .. }));
}

#[test]
fn string_table_indexes_out_of_range() {
    let span = |service: Mp| {
        let mut fields = vec![service];
        fields.extend([1u64, 1, 5, 6, 0, 0, 1, 0].map(Mp::U));
        fields.extend([Mp::M(vec![]), Mp::M(vec![]), Mp::U(0)]);
        Mp::A(vec![Mp::A(vec![s(""), s("x")]), Mp::A(vec![Mp::A(vec![Mp::A(fields)])])]).encode()
    };
    assert!(decode_v05(&span(Mp::U(1))).is_ok());
    assert_eq!(problem(decode_v05(&span(Mp::U(2)))), Problem::StringIndex { index: 2, len: 2 });
    assert_eq!(
        problem(decode_v05(&span(Mp::U(u64::MAX)))),
        Problem::StringIndex { index: u64::MAX, len: 2 }
    );
    assert!(matches!(problem(decode_v05(&span(s("svc")))), Problem::UnexpectedType { .. }));
    assert!(matches!(problem(decode_v05(&span(Mp::F64(1.0)))), Problem::UnexpectedType { .. }));
}

#[test]
fn more_attributes_events_or_links_than_the_limits() {
    let meta: Vec<(String, String)> =
        (0..=MAX_ATTRIBUTES).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let meta = Mp::M(meta.iter().map(|(k, v)| (s(k), s(v))).collect());
    let result = decode_v04_msgpack(&v04(vec![vec![span_map(1, 2, vec![("meta", meta)])]]));
    assert_eq!(
        result.unwrap_err(),
        DecodeError::Limit(LimitError::TooManyAttributes { count: MAX_ATTRIBUTES + 1 })
    );

    // Under the limit each, over it together.
    let many = |prefix: &str, value: Mp| {
        Mp::M(
            (0..MAX_ATTRIBUTES / 2 + 1)
                .map(|i| (s(&format!("{prefix}{i}")), value.clone()))
                .collect(),
        )
    };
    let body = v04(vec![vec![span_map(
        1,
        2,
        vec![("meta", many("a", s("v"))), ("metrics", many("b", Mp::U(1)))],
    )]]);
    assert!(matches!(
        decode_v04_msgpack(&body).unwrap_err(),
        DecodeError::Limit(LimitError::TooManyAttributes { .. })
    ));

    let events = Mp::A(vec![map(vec![("name", s("e"))]); MAX_EVENTS + 1]);
    let body = v04(vec![vec![span_map(1, 2, vec![("span_events", events)])]]);
    assert!(matches!(
        decode_v04_msgpack(&body).unwrap_err(),
        DecodeError::Limit(LimitError::TooManyEvents { .. })
    ));
    let links =
        Mp::A(vec![map(vec![("trace_id", Mp::U(1)), ("span_id", Mp::U(1))]); MAX_LINKS + 1]);
    let body = v04(vec![vec![span_map(1, 2, vec![("span_links", links)])]]);
    assert!(matches!(
        decode_v04_msgpack(&body).unwrap_err(),
        DecodeError::Limit(LimitError::TooManyLinks { .. })
    ));
}

#[test]
fn deep_nesting_in_msgpack() {
    // A million nested arrays under an unknown key are skipped without recursion.
    let mut nested = vec![0x91; 1_000_000];
    nested.push(0xc0);
    let body = v04(vec![vec![span_map(1, 2, vec![("future", Mp::Raw(nested.clone()))])]]);
    assert_eq!(decode_v04_msgpack(&body).unwrap().len(), 1);

    // Unknown v0.7 payload keys too.
    let body = map(vec![("future", Mp::Raw(nested))]).encode();
    assert!(decode_v07(&body).unwrap().is_empty());

    // Typed event values nest as deep as the limit allows, and no deeper.
    let mut value = map(vec![("type", Mp::U(0)), ("string_value", s("leaf"))]);
    for _ in 0..=MAX_VALUE_DEPTH {
        value = map(vec![
            ("type", Mp::U(4)),
            ("array_value", map(vec![("values", Mp::A(vec![value]))])),
        ]);
    }
    let event = map(vec![("name", s("e")), ("attributes", map(vec![("deep", value)]))]);
    let body = v04(vec![vec![span_map(1, 2, vec![("span_events", Mp::A(vec![event]))])]]);
    assert_eq!(decode_v04_msgpack(&body).unwrap_err(), DecodeError::Limit(LimitError::TooDeep));
}

#[test]
fn deep_nesting_in_json() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(decode_v04_json(deep.as_bytes()).unwrap_err(), DecodeError::Json(_)));
    // Under an unknown key it is skipped, as in msgpack, without recursion.
    let in_span = format!(
        r#"[[{{"trace_id": 1, "span_id": 1, "x": {}{}}}]]"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert_eq!(decode_v04_json(in_span.as_bytes()).unwrap().len(), 1);
    // Deep JSON inside meta `events` is not taken as events; it stays the string it was.
    let events = format!(
        r#"[{{"name":"e","attributes":{{"a":{}1{}}}}}]"#,
        "[".repeat(1000),
        "]".repeat(1000)
    );
    let body = v04(vec![vec![span_map(1, 2, vec![("meta", strings(&[("events", &events)]))])]]);
    let span = decode_v04_msgpack(&body).unwrap().remove(0);
    assert!(span.events.is_empty());
    assert_eq!(span.attributes.get_str("events"), Some(events.as_str()));
}

#[test]
fn invalid_utf8_is_an_error_where_it_is() {
    let bad = Mp::Raw(vec![0xa3, b'a', 0xff, b'b']);
    let body = v04(vec![vec![span_map(1, 2, vec![("meta", Mp::M(vec![(s("k"), bad.clone())]))])]]);
    let error = decode_v04_msgpack(&body).unwrap_err();
    assert!(
        matches!(
            error,
            DecodeError::Malformed { problem: Problem::InvalidUtf8, at } if at.field == Some("meta") && at.span == Some(0)
        ),
        "{error}"
    );

    let body = Mp::A(vec![Mp::A(vec![s(""), bad.clone()]), Mp::A(vec![])]).encode();
    assert!(matches!(problem(decode_v05(&body)), Problem::InvalidUtf8));
    let body = map(vec![("hostname", bad.clone())]).encode();
    assert!(matches!(problem(decode_v07(&body)), Problem::InvalidUtf8));
    let body = v04(vec![vec![Mp::M(vec![(bad, s("x"))])]]);
    assert!(matches!(problem(decode_v04_msgpack(&body)), Problem::InvalidUtf8));

    let mut json = br#"[[{"trace_id": 1, "span_id": 1, "name": "a"#.to_vec();
    json.push(0xff);
    json.extend_from_slice(br#""}]]"#);
    assert!(matches!(decode_v04_json(&json).unwrap_err(), DecodeError::Json(_)));
}

#[test]
fn every_truncation_is_an_error() {
    let v04_body = v04(vec![vec![
        span_map(
            1,
            2,
            vec![("meta", strings(&[("a", "b")])), ("metrics", map(vec![("m", Mp::F64(1.0))]))],
        ),
        span_map(1, 3, vec![("parent_id", Mp::U(2))]),
    ]]);
    let spans = decode_v04_msgpack(&v04_body).unwrap();
    let v05_body = encode_v05(&spans);
    let v07_body = map(vec![
        ("hostname", s("h")),
        (
            "chunks",
            Mp::A(vec![map(vec![
                ("priority", Mp::U(1)),
                ("spans", Mp::A(vec![span_map(1, 2, vec![])])),
            ])]),
        ),
    ])
    .encode();
    for (body, decoder) in [
        (&v04_body, decode_v04_msgpack as fn(&[u8]) -> Result<_, _>),
        (&v05_body, decode_v05),
        (&v07_body, decode_v07),
    ] {
        assert!(decoder(body).is_ok());
        for end in 0..body.len() {
            assert!(decoder(&body[..end]).is_err(), "prefix of {end} bytes of {body:x?}");
        }
    }
    let json = br#"[[{"trace_id": 1, "span_id": 2, "meta": {"a": "b"}}]]"#;
    assert!(decode_v04_json(json).is_ok());
    for end in 0..json.len() {
        assert!(
            decode_v04_json(&json[..end]).is_err(),
            "{}",
            String::from_utf8_lossy(&json[..end])
        );
    }
}

#[test]
fn garbage_and_wrong_shapes() {
    for body in [&b"hello"[..], b"", b"\xc1", b"{}", b"\x80", b"\xd4\x01\x02"] {
        assert!(decode_v04_msgpack(body).is_err() || body == b"\x80", "{body:x?}");
        assert!(decode_v05(body).is_err(), "{body:x?}");
        assert!(decode_v04_json(body).is_err(), "{body:x?}");
    }
    // A v0.7 payload is a map; an empty one has no spans.
    assert!(decode_v07(b"\x80").unwrap().is_empty());
    assert!(decode_v07(b"\x90").is_err());
    // A trace that is a map, a span that is an array.
    assert!(decode_v04_msgpack(&Mp::A(vec![Mp::M(vec![])]).encode()).is_err());
    assert!(decode_v04_msgpack(&Mp::A(vec![Mp::A(vec![Mp::A(vec![])])]).encode()).is_err());
    // Extension values where numbers belong.
    let body = v04(vec![vec![span_map(1, 2, vec![("start", Mp::Raw(vec![0xd4, 1, 2]))])]]);
    let error = decode_v04_msgpack(&body).unwrap_err();
    assert!(error.to_string().ends_with("expected a number, found an extension value"), "{error}");
    // An id that is a string.
    let body = v04(vec![vec![map(vec![("trace_id", s("123")), ("span_id", Mp::U(1))])]]);
    assert!(matches!(
        problem(decode_v04_msgpack(&body)),
        Problem::UnexpectedType { expected: "a number", found: "a string" }
    ));
    // A metric that is a string.
    let body = v04(vec![vec![span_map(1, 2, vec![("metrics", strings(&[("a", "1")]))])]]);
    assert!(decode_v04_msgpack(&body).is_err());
    // An event attribute value that is not the typed map.
    let event = map(vec![("attributes", map(vec![("a", Mp::U(1))]))]);
    let body = v04(vec![vec![span_map(1, 2, vec![("span_events", Mp::A(vec![event]))])]]);
    assert!(decode_v04_msgpack(&body).is_err());
    // Unknown typed value types read as empty, as the agent leaves them unset.
    let event = map(vec![("attributes", map(vec![("a", map(vec![("type", Mp::U(9))]))]))]);
    let body = v04(vec![vec![span_map(1, 2, vec![("span_events", Mp::A(vec![event]))])]]);
    let span = decode_v04_msgpack(&body).unwrap().remove(0);
    assert_eq!(span.events[0].attributes.get("a"), Some(&AnyValue::Empty));
}
