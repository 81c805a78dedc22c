//! Error groups in memory: per fingerprint, when an error was first and last seen, how often,
//! where and in which versions, a few traces to look at, and whether someone resolved or ignored
//! it. Every collection is bounded, so a flood of distinct errors costs bounded memory.

use std::collections::{HashMap, VecDeque};

use kiseki_model::{Span, SpanId, Str, TraceId};

use super::fingerprint::{ErrorGroupKey, Fingerprint};
use super::report::ErrorReport;

const NANOS_PER_MINUTE: u64 = 60_000_000_000;

/// The bounds of [`ErrorGroups`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorGroupsConfig {
    /// Groups kept; occurrences of further fingerprints are only counted.
    pub max_groups: usize,
    /// Minutes with occurrences kept per group (the newest ones).
    pub minutes_kept: usize,
    /// Distinct services, endpoints, versions and environments kept per group.
    pub max_values: usize,
    /// The first occurrences kept as samples, for "what did it look like when it started".
    pub first_samples: usize,
    /// The newest occurrences kept as samples.
    pub newest_samples: usize,
}

impl Default for ErrorGroupsConfig {
    /// 5 000 groups with up to 6 hours of minutes each: at most about 15 MB of minute counts.
    fn default() -> Self {
        Self {
            max_groups: 5_000,
            minutes_kept: 360,
            max_values: 20,
            first_samples: 2,
            newest_samples: 5,
        }
    }
}

/// One error span, as a sample of its group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Occurrence {
    pub time_unix_nano: u64,
    pub trace_id: TraceId,
    pub span_id: SpanId,
}

impl Occurrence {
    /// A span's error happens when it ends.
    pub fn of(span: &Span) -> Self {
        Self {
            time_unix_nano: span.end_time_unix_nano,
            trace_id: span.trace_id,
            span_id: span.span_id,
        }
    }
}

/// What a person decided about a group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum GroupStatus {
    #[default]
    Open,
    /// Fixed; a new occurrence reopens the group.
    Resolved,
    /// Not worth attention; occurrences are still counted and the group stays ignored.
    Ignored,
}

impl GroupStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupStatus::Open => "open",
            GroupStatus::Resolved => "resolved",
            GroupStatus::Ignored => "ignored",
        }
    }
}

/// When a resolved group came back, and in which version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reopening {
    pub time_unix_nano: u64,
    /// `service.version` of the occurrence that reopened the group; empty when unknown.
    pub version: Str,
}

/// Up to a fixed number of distinct values with their occurrence counts; occurrences of values
/// that did not fit are counted in `other`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BoundedCounts {
    values: Vec<(Str, u64)>,
    other: u64,
}

impl BoundedCounts {
    fn add(&mut self, value: &Str, max: usize) {
        if let Some((_, count)) = self.values.iter_mut().find(|(v, _)| v == value) {
            *count += 1;
        } else if self.values.len() < max {
            self.values.push((value.clone(), 1));
        } else {
            self.other += 1;
        }
    }

    /// Values in the order they were first seen, with their counts.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.values.iter().map(|(value, count)| (value.as_str(), *count))
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn contains(&self, value: &str) -> bool {
        self.values.iter().any(|(v, _)| v == value)
    }

    /// Occurrences whose value was not kept because the set was full.
    pub fn other(&self) -> u64 {
        self.other
    }
}

/// One error group: everything known about the occurrences of one fingerprint.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorGroup {
    pub fingerprint: Fingerprint,
    pub key: ErrorGroupKey,
    /// The message and stack trace of the first occurrence, as sent.
    pub first_message: Str,
    pub first_stacktrace: Str,
    pub first_seen_unix_nano: u64,
    pub last_seen_unix_nano: u64,
    pub count: u64,
    pub services: BoundedCounts,
    pub endpoints: BoundedCounts,
    pub versions: BoundedCounts,
    pub environments: BoundedCounts,
    /// (minute number since the epoch, occurrences), ascending; the newest `minutes_kept`.
    minutes: VecDeque<(u32, u32)>,
    first_samples: Vec<Occurrence>,
    newest_samples: VecDeque<Occurrence>,
    pub status: GroupStatus,
    /// When the group was last resolved.
    pub resolved_at_unix_nano: Option<u64>,
    /// The last time a new occurrence reopened the group after it was resolved.
    pub last_reopening: Option<Reopening>,
    pub reopen_count: u32,
}

impl ErrorGroup {
    fn new(fingerprint: Fingerprint, key: ErrorGroupKey, report: &ErrorReport, at: u64) -> Self {
        Self {
            fingerprint,
            key,
            first_message: report.message.clone(),
            first_stacktrace: report.stacktrace.clone(),
            first_seen_unix_nano: at,
            last_seen_unix_nano: at,
            count: 0,
            services: BoundedCounts::default(),
            endpoints: BoundedCounts::default(),
            versions: BoundedCounts::default(),
            environments: BoundedCounts::default(),
            minutes: VecDeque::new(),
            first_samples: Vec::new(),
            newest_samples: VecDeque::new(),
            status: GroupStatus::Open,
            resolved_at_unix_nano: None,
            last_reopening: None,
            reopen_count: 0,
        }
    }

    /// Occurrences per minute, oldest first: (start of the minute in Unix nanoseconds, count).
    pub fn occurrences_per_minute(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.minutes.iter().map(|(minute, count)| (u64::from(*minute) * NANOS_PER_MINUTE, *count))
    }

    /// The first occurrences, oldest first.
    pub fn first_samples(&self) -> &[Occurrence] {
        &self.first_samples
    }

    /// The newest occurrences, newest first.
    pub fn newest_samples(&self) -> impl Iterator<Item = &Occurrence> {
        self.newest_samples.iter().rev()
    }

    /// Adds one occurrence; `true` when it reopened a resolved group.
    fn add(
        &mut self,
        report: &ErrorReport,
        occurrence: Occurrence,
        config: &ErrorGroupsConfig,
    ) -> bool {
        let at = occurrence.time_unix_nano;
        self.count += 1;
        self.first_seen_unix_nano = self.first_seen_unix_nano.min(at);
        self.last_seen_unix_nano = self.last_seen_unix_nano.max(at);
        self.services.add(&report.service, config.max_values);
        self.endpoints.add(&report.endpoint, config.max_values);
        if !report.version.is_empty() {
            self.versions.add(&report.version, config.max_values);
        }
        if !report.environment.is_empty() {
            self.environments.add(&report.environment, config.max_values);
        }
        self.count_minute(at, config.minutes_kept);
        if self.first_samples.len() < config.first_samples {
            self.first_samples.push(occurrence);
        } else if config.newest_samples > 0 {
            let place = self.newest_samples.partition_point(|o| o.time_unix_nano <= at);
            let full = self.newest_samples.len() >= config.newest_samples;
            if !(full && place == 0) {
                self.newest_samples.insert(place, occurrence);
                if self.newest_samples.len() > config.newest_samples {
                    self.newest_samples.pop_front();
                }
            }
        }
        // Only an occurrence after the resolution reopens: a span that was late to arrive
        // may describe the error from before the fix.
        let reopens = self.status == GroupStatus::Resolved
            && self.resolved_at_unix_nano.is_none_or(|resolved| at > resolved);
        if reopens {
            self.status = GroupStatus::Open;
            self.reopen_count += 1;
            self.last_reopening =
                Some(Reopening { time_unix_nano: at, version: report.version.clone() });
        }
        reopens
    }

    fn count_minute(&mut self, at: u64, minutes_kept: usize) {
        if minutes_kept == 0 {
            return;
        }
        let minute = u32::try_from(at / NANOS_PER_MINUTE).unwrap_or(u32::MAX);
        match self.minutes.binary_search_by_key(&minute, |(m, _)| *m) {
            Ok(place) => {
                if let Some((_, count)) = self.minutes.get_mut(place) {
                    *count = count.saturating_add(1);
                }
            }
            Err(place) => {
                let full = self.minutes.len() >= minutes_kept;
                if full && place == 0 {
                    return; // older than every minute kept
                }
                self.minutes.insert(place, (minute, 1));
                if self.minutes.len() > minutes_kept {
                    self.minutes.pop_front();
                }
            }
        }
    }
}

/// What recording one error did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The first occurrence of a fingerprint.
    New(Fingerprint),
    /// Another occurrence of a known group (open or ignored, or resolved after this occurrence).
    Existing(Fingerprint),
    /// A resolved group came back.
    Reopened(Fingerprint),
    /// A new fingerprint while the group limit was reached: only counted.
    Overflow(Fingerprint),
}

/// An operation on a group that does not exist.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ErrorGroupsError {
    #[error("no error group {0}")]
    UnknownGroup(Fingerprint),
}

/// All error groups, keyed by fingerprint.
#[derive(Debug, Default)]
pub struct ErrorGroups {
    config: ErrorGroupsConfig,
    groups: HashMap<Fingerprint, ErrorGroup>,
    overflow_occurrences: u64,
}

impl ErrorGroups {
    pub fn new(config: ErrorGroupsConfig) -> Self {
        Self { config, groups: HashMap::new(), overflow_occurrences: 0 }
    }

    /// Records an error span, if it is one.
    pub fn record_span(&mut self, span: &Span) -> Option<Recorded> {
        let report = ErrorReport::of(span)?;
        Some(self.record(&report, Occurrence::of(span)))
    }

    /// Records one occurrence of a reported error.
    pub fn record(&mut self, report: &ErrorReport, occurrence: Occurrence) -> Recorded {
        let key = ErrorGroupKey::of(report);
        let fingerprint = key.fingerprint();
        if let Some(group) = self.groups.get_mut(&fingerprint) {
            return if group.add(report, occurrence, &self.config) {
                Recorded::Reopened(fingerprint)
            } else {
                Recorded::Existing(fingerprint)
            };
        }
        if self.groups.len() >= self.config.max_groups {
            self.overflow_occurrences += 1;
            return Recorded::Overflow(fingerprint);
        }
        let mut group = ErrorGroup::new(fingerprint, key, report, occurrence.time_unix_nano);
        group.add(report, occurrence, &self.config);
        self.groups.insert(fingerprint, group);
        Recorded::New(fingerprint)
    }

    pub fn get(&self, fingerprint: Fingerprint) -> Option<&ErrorGroup> {
        self.groups.get(&fingerprint)
    }

    /// Every group, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &ErrorGroup> {
        self.groups.values()
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Occurrences of fingerprints that found no room because `max_groups` was reached.
    pub fn overflow_occurrences(&self) -> u64 {
        self.overflow_occurrences
    }

    /// Marks a group fixed as of `at_unix_nano`; an occurrence after that reopens it.
    pub fn resolve(
        &mut self,
        fingerprint: Fingerprint,
        at_unix_nano: u64,
    ) -> Result<(), ErrorGroupsError> {
        let group = self.group_mut(fingerprint)?;
        group.status = GroupStatus::Resolved;
        group.resolved_at_unix_nano = Some(at_unix_nano);
        Ok(())
    }

    /// Marks a group as not worth attention; it keeps counting and stays ignored.
    pub fn ignore(&mut self, fingerprint: Fingerprint) -> Result<(), ErrorGroupsError> {
        self.group_mut(fingerprint)?.status = GroupStatus::Ignored;
        Ok(())
    }

    /// Opens a resolved or ignored group again by hand.
    pub fn reopen(&mut self, fingerprint: Fingerprint) -> Result<(), ErrorGroupsError> {
        self.group_mut(fingerprint)?.status = GroupStatus::Open;
        Ok(())
    }

    fn group_mut(&mut self, fingerprint: Fingerprint) -> Result<&mut ErrorGroup, ErrorGroupsError> {
        self.groups.get_mut(&fingerprint).ok_or(ErrorGroupsError::UnknownGroup(fingerprint))
    }
}

#[cfg(test)]
mod tests;
