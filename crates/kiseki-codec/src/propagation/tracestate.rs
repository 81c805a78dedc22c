//! The W3C `tracestate` list: validation on the way in, ordering and limits on the way out.
//!
//! Keys follow Trace Context level 2 (`[a-z0-9][a-z0-9_*/@-]{0,255}`), which accepts every key
//! of level 1 (`tenant@vendor`) and more; values are 1 to 256 printable ASCII characters
//! without `,` or `=`, not ending in a space. A list with an invalid member, a repeated key or
//! more than 32 members is dropped as a whole, as the specification asks.

use kiseki_model::Str;

use super::error::PropagationError;
use super::text::trim_ows;

/// Most list members in one `tracestate`.
pub const MAX_MEMBERS: usize = 32;
/// Longest key and longest value of a list member.
const MAX_KEY_LENGTH: usize = 256;
const MAX_VALUE_LENGTH: usize = 256;
/// Members longer than this are the first to go when a list must shrink.
const LONG_MEMBER: usize = 128;

/// One `key=value` member of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Member<'a> {
    pub key: &'a str,
    pub value: &'a str,
}

/// Reads the members of every `tracestate` field, in order; `None` when the list is invalid.
/// Empty members and optional whitespace are allowed and skipped.
pub(crate) fn parse<'a>(fields: &[&'a str]) -> Option<Vec<Member<'a>>> {
    let mut members: Vec<Member<'a>> = Vec::new();
    for field in fields {
        for text in field.split(',') {
            let text = trim_ows(text);
            if text.is_empty() {
                continue;
            }
            let (key, value) = text.split_once('=')?;
            if !is_valid_key(key) || !is_valid_value(value) {
                return None;
            }
            if members.len() >= MAX_MEMBERS || members.iter().any(|member| member.key == key) {
                return None;
            }
            members.push(Member { key, value });
        }
    }
    Some(members)
}

/// `[a-z0-9][a-z0-9_*/@-]{0,255}`.
pub fn is_valid_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    match bytes.first() {
        Some(first) if first.is_ascii_lowercase() || first.is_ascii_digit() => {}
        _ => return false,
    }
    bytes.len() <= MAX_KEY_LENGTH
        && bytes.iter().all(|&byte| {
            byte.is_ascii_lowercase()
                || byte.is_ascii_digit()
                || matches!(byte, b'_' | b'-' | b'*' | b'/' | b'@')
        })
}

/// 1 to 256 characters from 0x20 to 0x7E except `,` and `=`, the last one not a space.
pub fn is_valid_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_VALUE_LENGTH
        && !value.ends_with(' ')
        && value.bytes().all(|byte| matches!(byte, 0x20..=0x7e) && byte != b',' && byte != b'=')
}

/// Joins members into a header value.
pub(crate) fn join<'a>(members: impl IntoIterator<Item = Member<'a>>) -> String {
    let mut text = String::new();
    for member in members {
        if !text.is_empty() {
            text.push(',');
        }
        text.push_str(member.key);
        text.push('=');
        text.push_str(member.value);
    }
    text
}

/// The list to send: `first` (when given) then the valid members of `rest` without any other
/// member of the same key, cut to [`MAX_MEMBERS`] by dropping members longer than 128
/// characters first, then members from the end, as the specification recommends.
pub(crate) fn compose(first: Option<Member<'_>>, rest: &str) -> String {
    let mut members: Vec<Member<'_>> = first.into_iter().collect();
    for text in rest.split(',') {
        let Some((key, value)) = trim_ows(text).split_once('=') else { continue };
        if is_valid_key(key)
            && is_valid_value(value)
            && !members.iter().any(|member| member.key == key)
        {
            members.push(Member { key, value });
        }
    }
    let protected = usize::from(first.is_some());
    while members.len() > MAX_MEMBERS {
        let long = members
            .iter()
            .skip(protected)
            .rposition(|member| member.key.len() + 1 + member.value.len() > LONG_MEMBER);
        match long {
            Some(index) => members.remove(index + protected),
            None => members.remove(members.len() - 1),
        };
    }
    join(members)
}

/// `trace_state` with `key=value` as its first member, replacing the member that had that key:
/// how a vendor records its own position when it continues a trace.
pub fn put_first(trace_state: &str, key: &str, value: &str) -> Result<Str, PropagationError> {
    if !is_valid_key(key) {
        return Err(PropagationError::malformed(
            "tracestate",
            format!("key {} is not [a-z0-9][a-z0-9_*/@-]{{0,255}}", super::text::excerpt(key)),
        ));
    }
    if !is_valid_value(value) {
        return Err(PropagationError::malformed(
            "tracestate",
            format!(
                "value {} is not 1 to 256 printable characters without ',' or '=' ending in a \
                 non-space",
                super::text::excerpt(value)
            ),
        ));
    }
    Ok(Str::from(compose(Some(Member { key, value }), trace_state)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(fields: &[&str]) -> Option<String> {
        parse(fields).map(join)
    }

    #[test]
    fn combines_fields_in_order_and_drops_whitespace_and_empty_members() {
        // From the w3c/trace-context test suite.
        assert_eq!(
            parsed(&["foo=1,bar=2", "rojo=1,congo=2", "baz=3"]).as_deref(),
            Some("foo=1,bar=2,rojo=1,congo=2,baz=3")
        );
        assert_eq!(
            parsed(&["foo=1 \t , \t bar=2, \t baz=3"]).as_deref(),
            Some("foo=1,bar=2,baz=3")
        );
        assert_eq!(
            parsed(&["foo=1\t \t,\t \tbar=2,\t \tbaz=3"]).as_deref(),
            Some("foo=1,bar=2,baz=3")
        );
        for field in [" foo=1", "\tfoo=1", "foo=1 ", "foo=1\t", "\t foo=1 \t"] {
            assert_eq!(parsed(&[field]).as_deref(), Some("foo=1"), "{field:?}");
        }
        assert_eq!(parsed(&["", "foo=1"]).as_deref(), Some("foo=1"));
        assert_eq!(parsed(&["foo=1", ""]).as_deref(), Some("foo=1"));
        assert_eq!(parsed(&["foo=1, ,bar=2"]).as_deref(), Some("foo=1,bar=2"));
        assert_eq!(parsed(&[""]).as_deref(), Some(""));
    }

    #[test]
    fn accepts_every_allowed_character() {
        let key = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
        let value: String =
            (0x20u8..=0x7e).filter(|b| *b != b',' && *b != b'=').map(char::from).collect();
        let member = format!("{key}={value}");
        assert_eq!(parsed(&[&member]), Some(member.clone()));
        let with_vendor = format!("{key}@a-z0-9_-*/={value}");
        assert_eq!(parsed(&[&with_vendor]), Some(with_vendor.clone()));
    }

    #[test]
    fn level_two_keys_allow_at_signs_after_the_first_character() {
        for key in ["foo@", "foo@@bar", "foo@bar@baz", "1special", "special@vendor"] {
            assert!(is_valid_key(key), "{key}");
        }
        assert!(is_valid_key(&format!("{}@v", "t".repeat(242))));
        assert!(is_valid_key(&format!("t@{}", "v".repeat(15))));
        assert!(is_valid_key(&"z".repeat(256)));
        for key in ["@foo", "", "FOO", "foo ", "foo.bar", "Foo", "_foo"] {
            assert!(!is_valid_key(key), "{key:?}");
        }
        assert!(!is_valid_key(&"z".repeat(257)));
    }

    #[test]
    fn invalid_lists_are_dropped_whole() {
        // From the w3c/trace-context test suite (strict level 2).
        for fields in [
            vec!["foo=1,foo=1"],
            vec!["foo=1,foo=2"],
            vec!["foo=1", "foo=1"],
            vec!["foo=1", "foo=2"],
            vec!["foo =1"],
            vec!["FOO=1"],
            vec!["foo.bar=1"],
            vec!["@foo=1,bar=2"],
            vec!["foo=bar=baz"],
            vec!["foo=,bar=3"],
            vec!["foobarbaz"],
        ] {
            assert_eq!(parsed(&fields), None, "{fields:?}");
        }
        let long_key = format!("{}=1", "z".repeat(257));
        assert_eq!(parsed(&["foo=1", &long_key]), None);
        let long_value = format!("foo={}", "x".repeat(257));
        assert_eq!(parsed(&[&long_value]), None);
        assert!(parsed(&[&format!("foo={}", "x".repeat(256))]).is_some());
        assert_eq!(parsed(&["foo=1 2 "]).as_deref(), Some("foo=1 2"), "trailing OWS is not value");
        assert_eq!(parsed(&["foo=\u{e9}"]), None);
    }

    #[test]
    fn at_most_thirty_two_members() {
        let members: Vec<String> = (1..=33).map(|i| format!("bar{i:02}={i:02}")).collect();
        assert_eq!(parse(&[&members[..32].join(",")]).unwrap().len(), 32);
        assert_eq!(parsed(&[&members.join(",")]), None);
    }

    #[test]
    fn composing_puts_the_new_member_first_and_keeps_the_limits() {
        assert_eq!(
            compose(Some(Member { key: "dd", value: "s:1" }), "a=1,dd=s:0,b=2"),
            "dd=s:1,a=1,b=2"
        );
        assert_eq!(compose(None, " a=1 ,,bad key=2,b=2"), "a=1,b=2");

        let mut rest: Vec<String> = (1..=32).map(|i| format!("k{i}=v")).collect();
        rest[3] = format!("long={}", "x".repeat(200));
        let composed = compose(Some(Member { key: "dd", value: "s:1" }), &rest.join(","));
        let members: Vec<&str> = composed.split(',').collect();
        assert_eq!(members.len(), 32);
        assert_eq!(members[0], "dd=s:1");
        assert!(!composed.contains("long="), "the long member goes first");
        assert!(composed.ends_with("k32=v"));

        let rest: Vec<String> = (1..=32).map(|i| format!("k{i}=v")).collect();
        let composed = compose(Some(Member { key: "dd", value: "s:1" }), &rest.join(","));
        assert!(composed.ends_with("k31=v"), "then the last one");
    }

    #[test]
    fn put_first_validates_and_replaces() {
        assert_eq!(put_first("a=1,kiseki=old", "kiseki", "new").unwrap(), "kiseki=new,a=1");
        assert_eq!(
            put_first("", "Bad", "x").unwrap_err().to_string(),
            "tracestate header: key \"Bad\" is not [a-z0-9][a-z0-9_*/@-]{0,255}"
        );
        assert!(put_first("", "ok", "a,b").is_err());
    }
}
