//! Group bookkeeping: counts, bounds, samples and the resolve/ignore/reopen lifecycle.

use kiseki_model::SpanKind;

use super::*;
use crate::errors::ErrorSource;

const MINUTE: u64 = NANOS_PER_MINUTE;
const START: u64 = 1_795_308_000 * 1_000_000_000;

fn report(message: &str, endpoint: &str, version: &str) -> ErrorReport {
    ErrorReport {
        service: Str::new("checkout"),
        endpoint: Str::new(endpoint),
        error_type: Str::new("OrderNotFound"),
        message: Str::new(message),
        stacktrace: Str::default(),
        version: Str::new(version),
        environment: Str::new("prod"),
        source: ErrorSource::Exception,
        span_kind: SpanKind::Server,
    }
}

fn occurrence(n: u64, at: u64) -> Occurrence {
    Occurrence {
        time_unix_nano: at,
        trace_id: TraceId::from_hex(&format!("{:032x}", n + 1)).unwrap(),
        span_id: SpanId::from_hex(&format!("{:016x}", n + 1)).unwrap(),
    }
}

#[test]
fn occurrences_of_one_error_share_a_group() {
    let mut groups = ErrorGroups::default();
    let first = groups.record(
        &report("order 1 not found", "GET /orders/{id}", "1.0"),
        occurrence(1, START + MINUTE),
    );
    let second =
        groups.record(&report("order 2 not found", "POST /orders", "1.1"), occurrence(2, START));
    let third = groups.record(
        &report("order 3 not found", "GET /orders/{id}", "1.1"),
        occurrence(3, START + 3 * MINUTE),
    );
    let Recorded::New(fingerprint) = first else { panic!("{first:?}") };
    assert_eq!(second, Recorded::Existing(fingerprint));
    assert_eq!(third, Recorded::Existing(fingerprint));
    assert_eq!(groups.len(), 1);

    let group = groups.get(fingerprint).unwrap();
    assert_eq!(group.count, 3);
    assert_eq!(
        (group.first_seen_unix_nano, group.last_seen_unix_nano),
        (START, START + 3 * MINUTE)
    );
    assert_eq!(group.first_message, "order 1 not found");
    assert_eq!(group.key.normalised_message, "order <num> not found");
    assert_eq!(
        group.endpoints.iter().collect::<Vec<_>>(),
        [("GET /orders/{id}", 2), ("POST /orders", 1)]
    );
    assert_eq!(group.versions.iter().collect::<Vec<_>>(), [("1.0", 1), ("1.1", 2)]);
    assert_eq!(group.services.iter().collect::<Vec<_>>(), [("checkout", 3)]);
    assert_eq!(group.environments.iter().collect::<Vec<_>>(), [("prod", 3)]);
    assert_eq!(
        group.occurrences_per_minute().collect::<Vec<_>>(),
        [(START, 1), (START + MINUTE, 1), (START + 3 * MINUTE, 1)]
    );
    assert_eq!(group.status, GroupStatus::Open);
}

#[test]
fn minutes_are_bounded_to_the_newest() {
    let config = ErrorGroupsConfig { minutes_kept: 3, ..ErrorGroupsConfig::default() };
    let mut groups = ErrorGroups::new(config);
    let r = report("boom", "GET /", "1");
    let mut fingerprint = None;
    for minute in [5, 1, 2, 2, 4, 3, 0] {
        let recorded = groups.record(&r, occurrence(minute, START + minute * MINUTE + 7));
        if let Recorded::New(f) = recorded {
            fingerprint = Some(f);
        }
    }
    let group = groups.get(fingerprint.unwrap()).unwrap();
    assert_eq!(group.count, 7);
    let minutes: Vec<_> = group.occurrences_per_minute().collect();
    assert_eq!(
        minutes,
        [(START + 3 * MINUTE, 1), (START + 4 * MINUTE, 1), (START + 5 * MINUTE, 1)]
    );
}

#[test]
fn value_sets_and_samples_are_bounded() {
    let config = ErrorGroupsConfig {
        max_values: 2,
        first_samples: 2,
        newest_samples: 3,
        ..ErrorGroupsConfig::default()
    };
    let mut groups = ErrorGroups::new(config);
    let mut fingerprint = None;
    for n in 0..10u64 {
        let r = report("boom", &format!("GET /e{n}"), "1");
        if let Recorded::New(f) = groups.record(&r, occurrence(n, START + n)) {
            fingerprint = Some(f);
        }
    }
    let group = groups.get(fingerprint.unwrap()).unwrap();
    assert_eq!(group.endpoints.len(), 2);
    assert_eq!(group.endpoints.other(), 8);
    let first: Vec<u64> = group.first_samples().iter().map(|o| o.time_unix_nano - START).collect();
    assert_eq!(first, [0, 1]);
    let newest: Vec<u64> = group.newest_samples().map(|o| o.time_unix_nano - START).collect();
    assert_eq!(newest, [9, 8, 7]);
}

#[test]
fn group_limit_counts_the_overflow() {
    let config = ErrorGroupsConfig { max_groups: 2, ..ErrorGroupsConfig::default() };
    let mut groups = ErrorGroups::new(config);
    let messages = ["a failed", "b failed", "c failed", "c failed", "a failed"];
    let recorded: Vec<_> = messages
        .iter()
        .enumerate()
        .map(|(n, m)| groups.record(&report(m, "GET /", "1"), occurrence(n as u64, START)))
        .collect();
    assert!(matches!(recorded[0], Recorded::New(_)));
    assert!(matches!(recorded[1], Recorded::New(_)));
    assert!(matches!(recorded[2], Recorded::Overflow(_)));
    assert!(matches!(recorded[3], Recorded::Overflow(_)));
    assert!(matches!(recorded[4], Recorded::Existing(_)));
    assert_eq!(groups.len(), 2);
    assert_eq!(groups.overflow_occurrences(), 2);
}

#[test]
fn a_new_occurrence_reopens_a_resolved_group_with_its_version() {
    let mut groups = ErrorGroups::default();
    let Recorded::New(fingerprint) =
        groups.record(&report("boom", "GET /", "1.4.1"), occurrence(1, START))
    else {
        panic!("not new")
    };
    groups.resolve(fingerprint, START + MINUTE).unwrap();
    assert_eq!(groups.get(fingerprint).unwrap().status, GroupStatus::Resolved);

    // A late span from before the fix does not reopen.
    let late =
        groups.record(&report("boom", "GET /", "1.4.1"), occurrence(2, START + 30_000_000_000));
    assert_eq!(late, Recorded::Existing(fingerprint));
    assert_eq!(groups.get(fingerprint).unwrap().status, GroupStatus::Resolved);

    let again = groups.record(&report("boom", "GET /", "1.4.2"), occurrence(3, START + 2 * MINUTE));
    assert_eq!(again, Recorded::Reopened(fingerprint));
    let group = groups.get(fingerprint).unwrap();
    assert_eq!(group.status, GroupStatus::Open);
    assert_eq!(group.reopen_count, 1);
    assert_eq!(
        group.last_reopening,
        Some(Reopening { time_unix_nano: START + 2 * MINUTE, version: Str::new("1.4.2") })
    );
    assert_eq!(group.count, 3);

    let next = groups.record(&report("boom", "GET /", "1.4.2"), occurrence(4, START + 3 * MINUTE));
    assert_eq!(next, Recorded::Existing(fingerprint));
    assert_eq!(groups.get(fingerprint).unwrap().reopen_count, 1);
}

#[test]
fn an_ignored_group_keeps_counting_and_stays_ignored() {
    let mut groups = ErrorGroups::default();
    let Recorded::New(fingerprint) =
        groups.record(&report("boom", "GET /", "1"), occurrence(1, START))
    else {
        panic!("not new")
    };
    groups.ignore(fingerprint).unwrap();
    for n in 2..5 {
        let recorded =
            groups.record(&report("boom", "GET /", "2"), occurrence(n, START + n * MINUTE));
        assert_eq!(recorded, Recorded::Existing(fingerprint));
    }
    let group = groups.get(fingerprint).unwrap();
    assert_eq!((group.status, group.count, group.reopen_count), (GroupStatus::Ignored, 4, 0));
    groups.reopen(fingerprint).unwrap();
    assert_eq!(groups.get(fingerprint).unwrap().status, GroupStatus::Open);
}

#[test]
fn unknown_groups_are_an_error() {
    let mut groups = ErrorGroups::default();
    let missing = Fingerprint(7);
    assert_eq!(groups.resolve(missing, 0), Err(ErrorGroupsError::UnknownGroup(missing)));
    assert_eq!(groups.ignore(missing), Err(ErrorGroupsError::UnknownGroup(missing)));
    assert_eq!(groups.reopen(missing), Err(ErrorGroupsError::UnknownGroup(missing)));
    assert_eq!(
        ErrorGroupsError::UnknownGroup(missing).to_string(),
        "no error group 0000000000000007"
    );
}
