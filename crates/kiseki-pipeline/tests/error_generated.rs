//! Error grouping on the seeded shop traffic of `kiseki-testkit`: every error kind the topology
//! injects lands in exactly one group of its service, every error span is counted once, and the
//! groups are few and the same whatever the seed.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use kiseki_model::semconv;
use kiseki_pipeline::errors::{ErrorGroup, ErrorGroups, ErrorReport, Fingerprint, Recorded};
use kiseki_testkit::Generator;
use kiseki_testkit::topology::{ENDPOINTS, Step};

const START: u64 = 1_795_308_000 * 1_000_000_000;
const TRACES: usize = 20_000;

struct Grouped {
    groups: ErrorGroups,
    error_spans: u64,
    /// (service, exception.type) → spans carrying that exception.
    exceptions: BTreeMap<(String, String), u64>,
}

fn grouped(seed: u64) -> Grouped {
    let mut generator = Generator::new(seed);
    let mut grouped =
        Grouped { groups: ErrorGroups::default(), error_spans: 0, exceptions: BTreeMap::new() };
    for n in 0..TRACES {
        for span in generator.trace(START + n as u64 * 10_000_000) {
            let Some(recorded) = grouped.groups.record_span(&span) else {
                continue;
            };
            assert!(!matches!(recorded, Recorded::Overflow(_)));
            grouped.error_spans += 1;
            let exception = span.events.iter().find(|e| e.name == semconv::EXCEPTION_EVENT);
            if let Some(kind) =
                exception.and_then(|e| e.attributes.get_str(semconv::EXCEPTION_TYPE))
            {
                *grouped
                    .exceptions
                    .entry((span.service_name().to_owned(), kind.to_owned()))
                    .or_default() += 1;
            }
        }
    }
    grouped
}

/// The last segment of a qualified type, as the fingerprint keeps it.
fn unqualified(kind: &str) -> &str {
    kind.rsplit(['.', ':']).next().unwrap_or(kind)
}

fn frames_shown(group: &ErrorGroup) -> Vec<String> {
    group.key.frames.iter().map(ToString::to_string).collect()
}

#[test]
fn every_injected_error_kind_is_one_group_of_its_service() {
    let grouped = grouped(1);
    let injected: Vec<(&str, &str)> = ENDPOINTS
        .iter()
        .flat_map(|endpoint| {
            endpoint.steps.iter().filter_map(move |step| match step {
                Step::Fail { exception, .. } => Some((endpoint.service, *exception)),
                _ => None,
            })
        })
        .collect();
    assert!(injected.len() >= 4, "{injected:?}");
    for (service, exception) in injected {
        let matching: Vec<_> = grouped
            .groups
            .iter()
            .filter(|g| g.key.service == service && g.key.error_type == unqualified(exception))
            .collect();
        assert_eq!(matching.len(), 1, "{service} {exception}");
        let group = matching[0];
        let spans = grouped.exceptions[&(service.to_owned(), exception.to_owned())];
        assert_eq!(group.count, spans, "{service} {exception}");
        assert_eq!(
            frames_shown(group),
            ["handler:handle", "server:process"],
            "{service} {exception}"
        );
        assert!(!group.key.normalised_message.is_empty());
        assert_eq!(group.services.iter().collect::<Vec<_>>(), [(service, spans)]);
        assert_eq!(group.versions.len(), 1, "{service} {exception}");
    }
}

#[test]
fn every_error_span_is_counted_once() {
    let grouped = grouped(2);
    let total: u64 = grouped.groups.iter().map(|g| g.count).sum();
    assert!(grouped.error_spans > 1_000, "{}", grouped.error_spans);
    assert_eq!(total, grouped.error_spans);
    assert_eq!(grouped.groups.overflow_occurrences(), 0);
    // Spans of one group agree on what the group is keyed by.
    for group in grouped.groups.iter() {
        assert_eq!(group.services.len(), 1);
        assert_eq!(group.services.iter().next().map(|(s, _)| s), Some(group.key.service.as_str()));
    }
}

#[test]
fn groups_are_few_and_the_same_for_every_seed() {
    let fingerprints = |seed| -> BTreeSet<Fingerprint> {
        grouped(seed).groups.iter().map(|g| g.fingerprint).collect()
    };
    let first = fingerprints(1);
    assert!((8..=20).contains(&first.len()), "{} groups", first.len());
    for seed in [7, 42] {
        assert_eq!(fingerprints(seed), first, "seed {seed}");
    }
}

#[test]
fn reports_of_generated_spans_name_service_endpoint_and_version() {
    let mut generator = Generator::new(3);
    let spans = generator.spans(20_000, START);
    let reports: Vec<ErrorReport> = spans.iter().filter_map(ErrorReport::of).collect();
    assert!(!reports.is_empty());
    for report in &reports {
        assert!(!report.service.is_empty() && report.service != semconv::UNKNOWN_SERVICE);
        assert!(!report.endpoint.is_empty());
        assert!(!report.version.is_empty());
        assert_eq!(report.environment, "production");
        assert_ne!(report.error_type, kiseki_pipeline::errors::UNKNOWN_ERROR_TYPE, "{report:?}");
    }
}
