//! Datadog's member of W3C `tracestate`: `dd=s:2;o:rum;p:00f067aa0ba902b7;t.dm:-4;t.tid:...`.
//!
//! Items are `key:value` joined by `;`. What is read, as dd-trace-py and dd-trace-js read it:
//! - `s`: the sampling priority, kept when it agrees with the `traceparent` sampled flag
//!   (positive when sampled, zero or negative when not); otherwise the flag wins and the
//!   priority becomes 1 or 0, since the flag was written by the last hop;
//! - `o`: the origin, with `~` turned back into `=`;
//! - `p`: the last Datadog span on the path;
//! - `t.<name>`: the propagated tag `_dd.p.<name>`, `~` turned back into `=`, under the rules of
//!   [`x-datadog-tags`](super::tags); `t.tid` is skipped because `traceparent` holds the whole
//!   trace id.
//!
//! Other items and malformed values are ignored. Writing applies Datadog's escapes (`=` becomes
//! `~`; `,`, `;`, `~` and non-printable characters become `_`) and keeps the whole member within
//! 256 characters, dropping the items that do not fit.

use kiseki_model::{SpanId, Str};

use super::tags::{PROPAGATED_PREFIX, TRACE_ID_HIGH, TraceTags};
use crate::propagation::context::{DatadogContext, SpanContext};
use crate::propagation::text::{HexCase, parse_decimal_i32, parse_hex_u64};

/// The key of Datadog's list member.
pub const KEY: &str = "dd";
/// Longest member Datadog tracers write, `dd=` included.
const MAX_MEMBER_LENGTH: usize = 256;
/// Propagated tags appear as `t.<name>` for `_dd.p.<name>`.
const TAG_PREFIX: &str = "t.";

/// Reads the value of a `dd` member; `sampled` is the `traceparent` flag.
pub(crate) fn read(value: &str, sampled: bool) -> DatadogContext {
    let mut context = DatadogContext::default();
    let mut tags = TraceTags::default();
    for item in value.split(';') {
        let Some((key, value)) = item.split_once(':') else { continue };
        match key {
            "s" => {
                if let Some(priority) = parse_decimal_i32(value) {
                    let agrees = (priority > 0) == sampled;
                    context.sampling_priority =
                        Some(if agrees { priority } else { i32::from(sampled) });
                }
            }
            "o" if !value.is_empty() => context.origin = Some(Str::from(value.replace('~', "="))),
            "p" => {
                context.last_parent_id = parse_hex_u64(value, HexCase::Any).and_then(SpanId::new);
            }
            _ => {
                if let Some(name) = key.strip_prefix(TAG_PREFIX) {
                    let key = format!("{PROPAGATED_PREFIX}{name}");
                    if key != TRACE_ID_HIGH {
                        tags.accept(&key, &value.replace('~', "="));
                    }
                }
            }
        }
    }
    context.tags = tags.tags;
    context
}

/// The value of the `dd` member for this context; `None` when it has no Datadog information.
/// The trace id's high half is written as `t.tid`, as Datadog tracers do.
pub(crate) fn write(context: &SpanContext) -> Option<String> {
    if context.datadog.is_empty() {
        return None;
    }
    let datadog = &context.datadog;
    let mut items: Vec<String> = Vec::new();
    let mut length = KEY.len() + 1;
    let mut add = |item: String| {
        let separator = usize::from(!items.is_empty());
        if length + separator + item.len() <= MAX_MEMBER_LENGTH {
            length += separator + item.len();
            items.push(item);
        }
    };
    if let Some(priority) = context.datadog_sampling_priority() {
        add(format!("s:{priority}"));
    }
    if let Some(origin) = datadog.origin.as_deref().map(escape_value).filter(|o| !o.is_empty()) {
        add(format!("o:{origin}"));
    }
    if let Some(parent) = datadog.last_parent_id {
        add(format!("p:{parent}"));
    }
    if context.trace_id.high() != 0 {
        add(format!("t.tid:{:016x}", context.trace_id.high()));
    }
    for (key, value) in &datadog.tags {
        let Some(name) = key.strip_prefix(PROPAGATED_PREFIX) else { continue };
        let (name, value) = (escape_key(name), escape_value(value));
        if key != TRACE_ID_HIGH && !name.is_empty() && !value.is_empty() {
            add(format!("{TAG_PREFIX}{name}:{value}"));
        }
    }
    (!items.is_empty()).then(|| items.join(";"))
}

/// Tag names: space, `,`, `=`, `;`, `:` and non-printable characters become `_`.
fn escape_key(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '!'..='~' if !matches!(c, ',' | '=' | ';' | ':') => c,
            _ => '_',
        })
        .collect()
}

/// Values: `=` becomes `~`; `,`, `;`, `~` and non-printable characters become `_`; trailing
/// spaces are dropped (a list member cannot end in one).
fn escape_value(value: &str) -> String {
    let escaped: String = value
        .chars()
        .map(|c| match c {
            '=' => '~',
            ' '..='}' if !matches!(c, ',' | ';') => c,
            _ => '_',
        })
        .collect();
    escaped.trim_end_matches(' ').to_owned()
}

#[cfg(test)]
mod tests {
    use kiseki_model::TraceId;

    use super::*;

    fn tags(context: &DatadogContext) -> Vec<(&str, &str)> {
        context.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn reads_what_dd_trace_tests_send() {
        let read = read("s:2;o:rum;t.dm:-4;t.usr.id:baz64~~", true);
        assert_eq!(read.sampling_priority, Some(2));
        assert_eq!(read.origin.as_deref(), Some("rum"));
        assert_eq!(tags(&read), [("_dd.p.dm", "-4"), ("_dd.p.usr.id", "baz64==")]);
        assert_eq!(read.last_parent_id, None);

        let read =
            super::read("p:2ad31ea7ff31beeb;s:2;o:synthetics;t.dm:-4;t.tid:6b023b3e00000000", true);
        assert_eq!(read.last_parent_id, SpanId::new(0x2ad3_1ea7_ff31_beeb));
        assert_eq!(tags(&read), [("_dd.p.dm", "-4")], "t.tid is not a tag");
    }

    #[test]
    fn the_traceparent_flag_wins_over_a_disagreeing_priority() {
        assert_eq!(read("s:2", false).sampling_priority, Some(0));
        assert_eq!(read("s:-1", true).sampling_priority, Some(1));
        assert_eq!(read("s:0", true).sampling_priority, Some(1));
        assert_eq!(read("s:-1", false).sampling_priority, Some(-1));
        assert_eq!(read("s:1", true).sampling_priority, Some(1));
        assert_eq!(read("o:rum", true).sampling_priority, None);
    }

    #[test]
    fn ignores_what_it_does_not_know_or_cannot_read() {
        let read = read("s:x;p:zz;p2:1;junk;t.:1;t.a b:1;x.y:2;o:", true);
        assert_eq!(read, DatadogContext::default());
    }

    #[test]
    fn writes_escaped_items_within_256_characters() {
        let mut context = SpanContext::new(
            TraceId::from_halves(0x6b02_3b3e_0000_0000, 7).unwrap(),
            SpanId::new(9).unwrap(),
        );
        assert_eq!(write(&context), None, "no datadog information, no member");
        context.sampled = Some(true);
        context.datadog.sampling_priority = Some(2);
        context.datadog.origin = Some(Str::from("syn=th;etics "));
        context.datadog.last_parent_id = SpanId::new(0x2ad3_1ea7_ff31_beeb);
        context.datadog.tags = vec![
            (Str::from("_dd.p.dm"), Str::from("-4")),
            (Str::from("_dd.p.usr.id"), Str::from("baz64==")),
            (Str::from("_dd.p.a:b"), Str::from("x,y~z")),
            (Str::from("_dd.p.big"), Str::from("y".repeat(200).as_str())),
            (Str::from("_dd.p.last"), Str::from("1")),
        ];
        assert_eq!(
            write(&context).as_deref(),
            Some(
                "s:2;o:syn~th_etics;p:2ad31ea7ff31beeb;t.tid:6b023b3e00000000;t.dm:-4;\
                 t.usr.id:baz64~~;t.a_b:x_y_z;t.last:1"
            )
        );

        context.datadog.tags.truncate(0);
        context.datadog.origin = Some(Str::from("o".repeat(300).as_str()));
        let member = write(&context).unwrap();
        assert!(!member.contains("o:"), "an origin that cannot fit is left out");
    }
}
