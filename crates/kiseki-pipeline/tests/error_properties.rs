//! Properties of message normalisation, stack parsing and fingerprints over generated input.

#![allow(clippy::unwrap_used)]

use kiseki_model::{SpanKind, Str};
use kiseki_pipeline::errors::{
    ErrorReport, ErrorSource, Fingerprint, MAX_NORMALISED_LEN, normalise_message, parse_frames,
};
use proptest::prelude::*;

/// Text shaped like error messages: words, numbers, ids, punctuation, quotes, unicode.
fn message_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Z]{1,10}",
        "[0-9]{1,12}",
        "[0-9a-f]{6,40}",
        "[A-Z0-9]{6,12}",
        "[ \t\n]{1,3}",
        "[-_:;,.=/()\\[\\]{}<>#@+%?*&]",
        "['\"`“”]",
        "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(:[0-9]{2,5})?",
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]([T ][0-2][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?Z?)?",
        "https?://[a-z]{1,8}(\\.[a-z]{2,5})?(:[0-9]{2,5})?(/[a-z0-9]{1,8}){0,3}(\\?[a-z]=[0-9a-z]{1,5})?",
        "[a-z.]{1,8}@[a-z]{1,8}\\.[a-z]{2,3}",
        "[äöüß東京🚀é]{1,3}",
        "0x[0-9a-f]{1,16}",
        "<(num|hex|id|str|ts|ip|uuid|email|query)>",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

/// One kind of value that normalisation must erase.
fn value_of_kind(kind: usize) -> BoxedStrategy<String> {
    let pattern = [
        "[1-9][0-9]{0,9}",
        "[0-9a-f]{16,32}",
        "[A-Z]{4}[0-9][A-Z0-9]{3,8}",
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "1?[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}",
        "[a-z]{1,8}@[a-z]{1,8}\\.(com|org|io)",
        "'[a-z0-9 -]{1,12}'",
        "0x[0-9a-f]{4,12}",
        "20[0-9]{2}-0[1-9]-1[0-9]T1[0-9]:[0-5][0-9]:[0-5][0-9]Z",
    ][kind];
    proptest::string::string_regex(pattern).expect("valid pattern").boxed()
}

/// Two values of one kind, which may differ between two occurrences of one error.
fn two_values() -> impl Strategy<Value = (String, String)> {
    (0usize..9).prop_flat_map(|kind| (value_of_kind(kind), value_of_kind(kind)))
}

fn report(message: &str) -> ErrorReport {
    ErrorReport {
        service: Str::new("checkout"),
        endpoint: Str::new("POST /checkout"),
        error_type: Str::new("OrderFailed"),
        message: Str::new(message),
        stacktrace: Str::default(),
        version: Str::default(),
        environment: Str::default(),
        source: ErrorSource::Exception,
        span_kind: SpanKind::Server,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn normalising_is_idempotent(message in message_like()) {
        let once = normalise_message(&message);
        prop_assert_eq!(normalise_message(&once), once.clone(), "from {:?}", message);
        prop_assert!(once.len() <= MAX_NORMALISED_LEN);
    }

    #[test]
    fn normalising_any_text_is_idempotent_and_bounded(message in "\\PC{0,400}") {
        let once = normalise_message(&message);
        prop_assert_eq!(normalise_message(&once), once.clone());
        prop_assert!(once.len() <= MAX_NORMALISED_LEN);
        prop_assert!(!once.contains("  ") && !once.starts_with(' ') && !once.ends_with(' '));
    }

    #[test]
    fn messages_differing_only_in_values_share_a_fingerprint(
        words in prop::collection::vec("[a-z]{2,9}", 1..8),
        slots in prop::collection::vec((0usize..8, two_values()), 1..4),
    ) {
        let mut first = words.clone();
        let mut second = words.clone();
        for (place, (a, b)) in slots.iter().rev() {
            let place = place % (first.len() + 1);
            first.insert(place, a.clone());
            second.insert(place, b.clone());
        }
        let (first, second) = (first.join(" "), second.join(" "));
        prop_assert_eq!(normalise_message(&first), normalise_message(&second));
        prop_assert_eq!(Fingerprint::of(&report(&first)), Fingerprint::of(&report(&second)));
    }

    #[test]
    fn messages_differing_in_a_word_get_different_fingerprints(
        words in prop::collection::vec("[a-z]{2,9}", 1..8),
        extra in "[a-z]{2,9}",
    ) {
        let base = words.join(" ");
        let other = format!("{base} {extra}");
        prop_assert_ne!(Fingerprint::of(&report(&base)), Fingerprint::of(&report(&other)));
    }

    #[test]
    fn stack_parsing_never_panics(trace in "(\\PC{0,60}\n){0,20}") {
        let _ = parse_frames(&trace);
    }

    #[test]
    fn stack_lines_in_any_mix_never_panic(lines in prop::collection::vec(prop_oneof![
        Just("Traceback (most recent call last):".to_owned()),
        "  File \"[/a-z_]{0,20}(\\.py)?\", line [0-9]{1,4}(, in [a-z_<>]{0,10})?",
        "    at [a-zA-Z.<>$ \\[\\]]{0,30}( \\([/a-zA-Z.:0-9 ]{0,30}\\))?",
        "goroutine [0-9]{1,3} \\[running\\]:",
        "[a-z/.()*]{0,30}\\([0-9a-fx, ]{0,20}\\)",
        "\t[/a-z]{0,20}\\.go:[0-9]{1,4} \\+0x[0-9a-f]{1,4}",
        "[/a-z]{0,20}\\.rb:[0-9]{1,3}:in [`'][a-z #()0-9]{0,20}'",
        Just("--- End of inner exception stack trace ---".to_owned()),
        "Caused by: [a-z.]{0,20}",
        "\\PC{0,40}",
    ], 0..30)) {
        let frames = parse_frames(&lines.join("\n"));
        for frame in frames {
            prop_assert!(!frame.function.contains('\n'));
        }
    }
}
