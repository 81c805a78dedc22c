//! Error spans from real tracer libraries (`testdata/tracers/*`), decoded with kiseki's codecs:
//! every span the emitter says failed gives an error report and no other span does, and what
//! each report says (type, message, top frames) holds whatever format carried it.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use kiseki_codec::{datadog, jaeger, otlp, zipkin};
use kiseki_model::{Span, SpanKind};
use kiseki_pipeline::errors::{ErrorGroupKey, ErrorGroups, ErrorReport, ErrorSource, Recorded};
use serde_json::Value;

const TRACERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/tracers");

/// Every span a capture folder holds, decoded by the codec its port and path call for.
fn decode_folder(folder: &str) -> Vec<Span> {
    let dir = Path::new(TRACERS).join(folder);
    let mut bodies: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{folder}: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "body"))
        .collect();
    bodies.sort();
    let mut spans = Vec::new();
    for path in bodies {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let request: Value =
            serde_json::from_slice(&std::fs::read(path.with_extension("json")).unwrap()).unwrap();
        let header = |wanted: &str| {
            request["headers"].as_object().and_then(|headers| {
                headers
                    .iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case(wanted))
                    .and_then(|(_, value)| value.as_str().map(str::to_owned))
            })
        };
        let mut body = std::fs::read(&path).unwrap();
        if header("content-encoding").is_some_and(|e| e.contains("gzip")) {
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut plain).unwrap();
            body = plain;
        }
        let what = format!("{folder}/{name}");
        let decoded: Vec<Span> = if name.contains("-8126-v0-4-traces") {
            datadog::decode_v04_msgpack(&body).unwrap_or_else(|e| panic!("{what}: {e}"))
        } else if name.contains("-8126-v0-5-traces") {
            datadog::decode_v05(&body).unwrap_or_else(|e| panic!("{what}: {e}"))
        } else if name.contains("-8126-") {
            continue; // /info and tracer telemetry
        } else if name.contains("-6831-") {
            jaeger::decode_udp_compact(&body).unwrap_or_else(|e| panic!("{what}: {e}"))
        } else if name.contains("-6832-") {
            jaeger::decode_udp_binary(&body).unwrap_or_else(|e| panic!("{what}: {e}"))
        } else if name.contains("-14268-") {
            let protocol = jaeger::sniff_thrift_batch_protocol(&body).expect("thrift protocol");
            jaeger::decode_thrift_batch(&body, protocol).unwrap_or_else(|e| panic!("{what}: {e}"))
        } else if name.contains("-14250-") {
            jaeger::decode_proto_post_spans(&body).unwrap_or_else(|e| panic!("{what}: {e}"))
        } else if name.contains("-4317-") {
            otlp::decode_traces_proto(&body).unwrap_or_else(|e| panic!("{what}: {e}")).spans
        } else if name.contains("-4318-") {
            let json = header("content-type").is_some_and(|c| c.contains("json"));
            let decoded = if json {
                otlp::decode_traces_json(&body)
            } else {
                otlp::decode_traces_proto(&body)
            };
            decoded.unwrap_or_else(|e| panic!("{what}: {e}")).spans
        } else if name.contains("-9411-") {
            let encoding = zipkin::sniff(&body).expect("zipkin encoding");
            zipkin::decode(encoding, &body).unwrap_or_else(|e| panic!("{what}: {e}"))
        } else {
            panic!("{what}: no decoder for this capture")
        };
        spans.extend(decoded);
    }
    spans
}

/// The span ids (16 hex) the emitter says ended in error.
fn expected_error_spans(folder: &str) -> BTreeSet<String> {
    let path = Path::new(TRACERS).join(folder).join("expected.json");
    let expected: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut ids = BTreeSet::new();
    for trace in expected["traces"].as_array().unwrap() {
        for span in trace["spans"].as_array().unwrap() {
            if span["error"].as_bool() == Some(true) {
                ids.insert(span["span_id"].as_str().unwrap().to_owned());
            }
        }
    }
    ids
}

fn folders() -> Vec<String> {
    let mut folders: Vec<String> = std::fs::read_dir(TRACERS)
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.path().join("expected.json").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    folders
}

#[test]
fn exactly_the_spans_the_emitters_failed_report_an_error() {
    let mut problems = Vec::new();
    for folder in folders() {
        let expected = expected_error_spans(&folder);
        let reported: BTreeSet<String> = decode_folder(&folder)
            .iter()
            .filter(|span| ErrorReport::of(span).is_some())
            .map(|span| span.span_id.to_string())
            .collect();
        if reported != expected {
            problems.push(format!("{folder}: expected {expected:?}, reported {reported:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// (folder, span name) → the report and key of the error that span carries.
fn keys_of_every_capture() -> BTreeMap<(String, String), (ErrorReport, ErrorGroupKey)> {
    let mut keys = BTreeMap::new();
    for folder in folders() {
        for span in decode_folder(&folder) {
            if let Some(report) = ErrorReport::of(&span) {
                let key = ErrorGroupKey::of(&report);
                keys.insert((folder.clone(), span.name.to_lowercase()), (report, key));
            }
        }
    }
    keys
}

fn frames(key: &ErrorGroupKey) -> Vec<String> {
    key.frames.iter().map(ToString::to_string).collect()
}

/// The Python OpenTelemetry emitters send one exception over seven transports and two SDK
/// releases that qualify the type differently: one key wherever the stack trace survived.
#[test]
fn python_opentelemetry_error_has_one_key_over_every_transport() {
    let keys = keys_of_every_capture();
    let python_otel: Vec<_> = keys
        .iter()
        .filter(|((folder, _), _)| {
            folder.starts_with("python-otel-") && !folder.ends_with("zipkin-json-v1")
        })
        .collect();
    assert_eq!(
        python_otel.len(),
        10,
        "{:?}",
        python_otel.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    for ((folder, span), (report, key)) in &python_otel {
        assert_eq!(span, "validate-coupon", "{folder}");
        assert_eq!(report.service, "checkout", "{folder}");
        assert_eq!(report.message, "coupon SPRING24 expired — gültig bis 2024-01-01", "{folder}");
        assert_eq!(
            (report.version.as_str(), report.environment.as_str()),
            ("1.4.2", "staging"),
            "{folder}"
        );
        assert_eq!(key.error_type, "CouponExpired", "{folder}");
        assert_eq!(report.source, ErrorSource::Exception, "{folder}");
        // Zipkin has no kind for internal spans.
        let kind =
            if folder.contains("zipkin") { SpanKind::Unspecified } else { SpanKind::Internal };
        assert_eq!(report.span_kind, kind, "{folder}");
        assert_eq!(key.normalised_message, "coupon <id> expired — gültig bis <ts>", "{folder}");
        assert_eq!(
            frames(key),
            ["_otel_trace:_check_coupon", "_otel_trace:emit_traces"],
            "{folder}"
        );
    }
    let fingerprints: BTreeSet<_> =
        python_otel.iter().map(|(_, (_, key))| key.fingerprint()).collect();
    assert_eq!(fingerprints.len(), 1);

    // Zipkin v1 cuts tag values at 128 characters, and the stack trace with them.
    let (_, v1) = &keys[&("python-otel-zipkin-json-v1".to_owned(), "validate-coupon".to_owned())];
    assert!(v1.frames.is_empty());
    assert_eq!(v1.normalised_message, "coupon <id> expired — gültig bis <ts>");
}

#[test]
fn datadog_python_error_carries_type_message_and_frame() {
    let keys = keys_of_every_capture();
    for folder in ["python-ddtrace-v04", "python-ddtrace-v04-native-events", "python-ddtrace-v05"] {
        let (report, key) = &keys[&(folder.to_owned(), "coupon.validate".to_owned())];
        assert_eq!(report.error_type, "_ddtrace_trace.CouponExpired", "{folder}");
        assert!(report.stacktrace.starts_with("Traceback (most recent call last):"), "{folder}");
        assert_eq!(frames(key), ["_ddtrace_trace:run"], "{folder}");
        assert_eq!(report.environment, "staging", "{folder}");
    }
}

/// Node emitters: the exception keeps its type, message and the application's frames (the
/// emitter script differs per capture, so only the frames of the shared library are compared);
/// the failed HTTP client span without an exception is typed by its status.
#[test]
fn node_errors_over_every_transport() {
    let keys = keys_of_every_capture();
    let mut checked = 0;
    for ((folder, span), (report, key)) in &keys {
        if !folder.starts_with("node-") {
            continue;
        }
        checked += 1;
        match span.as_str() {
            "charge card" | "charge.card" => {
                assert_eq!(report.message, "card declined: insufficient funds", "{folder}");
                let stack_survives = !folder.contains("zipkin");
                if stack_survives {
                    assert_eq!(report.error_type, "PaymentDeclinedError", "{folder}");
                    let top = frames(key);
                    assert!(
                        top[0] == "otel:emitTraces"
                            || top[0] == "jaegerclient:run"
                            || top[0] == "ddtrace:Object.run",
                        "{folder}: {top:?}"
                    );
                    assert!(key.frames.iter().all(|f| f.in_app), "{folder}");
                } else {
                    // Zipkin annotations carry only the event's name.
                    assert_eq!(report.error_type, "Error", "{folder}");
                    assert_eq!(report.source, ErrorSource::Status, "{folder}");
                    assert!(key.frames.is_empty(), "{folder}");
                }
            }
            "post /payments" | "http.request" => {
                assert_eq!(report.error_type, "HTTP 402", "{folder}");
                assert_eq!(report.source, ErrorSource::HttpStatus, "{folder}");
                assert!(key.frames.is_empty(), "{folder}");
            }
            other => panic!("{folder}: unexpected error span {other}"),
        }
    }
    assert_eq!(checked, 30);
}

#[test]
fn every_capture_grouped_together() {
    let mut groups = ErrorGroups::default();
    for folder in folders() {
        for span in decode_folder(&folder) {
            if let Some(recorded) = groups.record_span(&span) {
                assert!(!matches!(recorded, Recorded::Overflow(_)), "{folder}");
            }
        }
    }
    // One group for the Python OpenTelemetry exception over nine transports (service checkout,
    // stack intact), not one per capture.
    let checkout: Vec<_> = groups.iter().filter(|g| g.key.service == "checkout").collect();
    let biggest = checkout.iter().map(|g| g.count).max().unwrap();
    assert_eq!(biggest, 10);
    for group in &groups.iter().collect::<Vec<_>>() {
        assert!(group.count >= 1);
        assert!(!group.first_samples().is_empty());
        assert!(group.first_seen_unix_nano <= group.last_seen_unix_nano);
    }
}
