//! Datadog's propagated trace tags (`_dd.p.*`): the `x-datadog-tags` grammar and the rules every
//! Datadog tracer applies when reading them, wherever they came from.
//!
//! `x-datadog-tags` is `key=value` pairs joined by `,`; keys are printable ASCII without space,
//! `,` or `=`; values are printable ASCII without `,`, trimmed of spaces. A header longer than
//! [`MAX_HEADER_LENGTH`] or with one malformed pair is dropped whole, as dd-trace does.

use kiseki_model::Str;

use crate::propagation::text::{HexCase, parse_hex_u64};

/// Prefix of the tags that travel with the trace.
pub const PROPAGATED_PREFIX: &str = "_dd.p.";
/// The high 64 bits of a 128-bit trace id, as 16 lowercase hex digits.
pub const TRACE_ID_HIGH: &str = "_dd.p.tid";
/// The sampling mechanism that made the decision, as `-<number>` (`-4` = manual).
pub const DECISION_MAKER: &str = "_dd.p.dm";
/// A tag dd-trace refuses to read (a deprecated, unbounded list of services).
const UPSTREAM_SERVICES: &str = "_dd.p.upstream_services";
/// Longest `x-datadog-tags` Datadog tracers read or write (`DD_TRACE_X_DATADOG_TAGS_MAX_LENGTH`).
pub const MAX_HEADER_LENGTH: usize = 512;

/// Propagated tags read from one source, with `_dd.p.tid` taken out as the trace id's high half.
#[derive(Debug, Default)]
pub(crate) struct TraceTags {
    pub tags: Vec<(Str, Str)>,
    pub trace_id_high: Option<u64>,
}

impl TraceTags {
    /// Keeps a tag the way dd-trace does: only `_dd.p.*` keys, not `_dd.p.upstream_services`;
    /// `_dd.p.tid` only as 16 hex digits that are not all zero; `_dd.p.dm` only as `-<digits>`.
    /// A repeated key keeps its first position and its last value.
    pub(crate) fn accept(&mut self, key: &str, value: &str) {
        if !key.starts_with(PROPAGATED_PREFIX)
            || key.len() == PROPAGATED_PREFIX.len()
            || key == UPSTREAM_SERVICES
            || !is_valid_key(key)
            || !is_valid_value(value)
        {
            return;
        }
        if key == TRACE_ID_HIGH {
            self.trace_id_high = parse_hex_u64(value, HexCase::Any).filter(|high| *high != 0);
            return;
        }
        if key == DECISION_MAKER && !is_decision_maker(value) {
            return;
        }
        match self.tags.iter_mut().find(|(k, _)| k == key) {
            Some((_, old)) => *old = Str::from(value),
            None => self.tags.push((Str::from(key), Str::from(value))),
        }
    }
}

/// Reads an `x-datadog-tags` value; nothing when it is too long or malformed anywhere. One
/// trailing `,` is tolerated, as dd-trace's reader does.
pub(crate) fn decode(header: &str) -> TraceTags {
    let mut read = TraceTags::default();
    if header.len() > MAX_HEADER_LENGTH {
        return read;
    }
    let header = header.strip_suffix(',').unwrap_or(header);
    if header.is_empty() {
        return read;
    }
    let mut pairs = Vec::new();
    for pair in header.split(',') {
        let Some((key, value)) = pair.split_once('=') else { return read };
        let value = value.trim_matches(' ');
        if !is_valid_key(key) || !is_valid_value(value) {
            return read;
        }
        pairs.push((key, value));
    }
    for (key, value) in pairs {
        read.accept(key, value);
    }
    read
}

/// Writes `x-datadog-tags`: `_dd.p.tid` first when the trace id has a high half, then the
/// valid `_dd.p.*` tags that still fit in [`MAX_HEADER_LENGTH`]. `None` when there is nothing.
pub(crate) fn encode(trace_id_high: u64, tags: &[(Str, Str)]) -> Option<String> {
    let mut header = String::new();
    if trace_id_high != 0 {
        header = format!("{TRACE_ID_HIGH}={trace_id_high:016x}");
    }
    for (key, value) in tags {
        if !key.starts_with(PROPAGATED_PREFIX)
            || key == TRACE_ID_HIGH
            || !is_valid_key(key)
            || !is_valid_value(value)
        {
            continue;
        }
        let separator = usize::from(!header.is_empty());
        if header.len() + separator + key.len() + 1 + value.len() > MAX_HEADER_LENGTH {
            continue;
        }
        if separator == 1 {
            header.push(',');
        }
        header.push_str(key);
        header.push('=');
        header.push_str(value);
    }
    (!header.is_empty()).then_some(header)
}

/// Printable ASCII without space, `,` or `=`; not empty.
pub(crate) fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.bytes().all(|byte| matches!(byte, 0x21..=0x7e) && byte != b',' && byte != b'=')
}

/// Printable ASCII without `,`; not empty and without surrounding spaces (the reader trims them).
pub(crate) fn is_valid_value(value: &str) -> bool {
    !value.is_empty()
        && !value.starts_with(' ')
        && !value.ends_with(' ')
        && value.bytes().all(|byte| matches!(byte, 0x20..=0x7e) && byte != b',')
}

fn is_decision_maker(value: &str) -> bool {
    value.strip_prefix('-').is_some_and(|digits| {
        !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(read: &TraceTags) -> Vec<(&str, &str)> {
        read.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn reads_propagated_tags_and_the_high_trace_id() {
        let read = decode("_dd.p.dm=-4,_dd.p.tid=640cfd8d00000000,_dd.p.usr.id=baz64==");
        assert_eq!(tags(&read), [("_dd.p.dm", "-4"), ("_dd.p.usr.id", "baz64==")]);
        assert_eq!(read.trace_id_high, Some(0x640c_fd8d_0000_0000));
    }

    #[test]
    fn skips_foreign_tags_and_malformed_known_ones() {
        let read = decode(
            "hello=world,_dd.p.upstream_services=abc|1|2|3,_dd.p.tid=XYZ,_dd.p.dm=4,_dd.p.=x,\
             _dd.p.ok= spaced out ,_dd.p.ok=again",
        );
        assert_eq!(tags(&read), [("_dd.p.ok", "again")]);
        assert_eq!(read.trace_id_high, None);
        assert_eq!(decode("_dd.p.tid=0000000000000000").trace_id_high, None);
        assert_eq!(decode("_dd.p.tid=640cfd8d0000000").trace_id_high, None);
        assert_eq!(tags(&decode("_dd.p.dm=-12")), [("_dd.p.dm", "-12")]);
        assert_eq!(tags(&decode("_dd.p.dm=-")), []);
    }

    #[test]
    fn one_malformed_pair_or_too_long_a_header_drops_everything() {
        for header in [
            "_dd.p.dm=-4,_dd.p.tid",
            "_dd.p.dm=-4,=x",
            "_dd.p.dm=-4,_dd.p.a b=1",
            "_dd.p.dm=-4,_dd.p.a=",
            "_dd.p.dm=-4,,",
            ",_dd.p.dm=-4",
            "_dd.p.dm=-4,_dd.p.a=\u{e9}",
            "_dd.p.dm=-4,_dd.p.a=\n",
        ] {
            let read = decode(header);
            assert!(read.tags.is_empty(), "{header:?}");
        }
        let long = format!("_dd.p.dm=-4,_dd.p.tid=640cfd8d00000000,_dd.p.x={}", "y".repeat(500));
        assert!(long.len() > MAX_HEADER_LENGTH);
        let read = decode(&long);
        assert!(read.tags.is_empty());
        assert_eq!(read.trace_id_high, None);
        assert_eq!(tags(&decode("_dd.p.dm=-4,")), [("_dd.p.dm", "-4")]);
        let fits = format!("_dd.p.x={}", "y".repeat(MAX_HEADER_LENGTH - 8));
        assert_eq!(decode(&fits).tags.len(), 1);
    }

    #[test]
    fn writes_the_high_trace_id_first_and_stays_within_the_limit() {
        let tags = vec![
            (Str::from("_dd.p.dm"), Str::from("-4")),
            (Str::from("_dd.p.tid"), Str::from("ffffffffffffffff")),
            (Str::from("not.propagated"), Str::from("x")),
            (Str::from("_dd.p.big"), Str::from("y".repeat(490).as_str())),
            (Str::from("_dd.p.bad"), Str::from("a,b")),
            (Str::from("_dd.p.last"), Str::from("z")),
        ];
        assert_eq!(
            encode(0x640c_fd8d_0000_0000, &tags).as_deref(),
            Some("_dd.p.tid=640cfd8d00000000,_dd.p.dm=-4,_dd.p.last=z")
        );
        assert_eq!(encode(0, &tags[..1]).as_deref(), Some("_dd.p.dm=-4"));
        assert_eq!(encode(0, &[]), None);
    }
}
