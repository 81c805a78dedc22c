//! Small strict parsers shared by the header formats: fixed-width hex, decimal, whitespace.

/// Strips HTTP optional whitespace (spaces and tabs) around a header value.
pub(crate) fn trim_ows(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

/// Which letters a hex field may use.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum HexCase {
    /// W3C Trace Context allows only `0-9a-f`.
    Lower,
    /// B3 asks for lowercase, but tracers differ; either case is read.
    Any,
}

/// Reads exactly `digits` hex digits (at most 32) into a number; `None` for any other text.
pub(crate) fn parse_hex(text: &str, digits: usize, case: HexCase) -> Option<u128> {
    if text.len() != digits || digits > 32 {
        return None;
    }
    let mut value: u128 = 0;
    for byte in text.bytes() {
        let digit = match byte {
            b'0'..=b'9' => byte - b'0',
            b'a'..=b'f' => byte - b'a' + 10,
            b'A'..=b'F' if case == HexCase::Any => byte - b'A' + 10,
            _ => return None,
        };
        value = (value << 4) | u128::from(digit);
    }
    Some(value)
}

/// Reads 16 hex digits as a 64-bit number.
pub(crate) fn parse_hex_u64(text: &str, case: HexCase) -> Option<u64> {
    parse_hex(text, 16, case).and_then(|value| u64::try_from(value).ok())
}

/// Reads an unsigned decimal number of ASCII digits only (no sign, no spaces, no `_`).
pub(crate) fn parse_decimal_u64(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for byte in text.bytes() {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(byte - b'0'))?;
    }
    Some(value)
}

/// Reads a decimal `i32` with an optional leading `-` or `+`.
pub(crate) fn parse_decimal_i32(text: &str) -> Option<i32> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = i64::try_from(parse_decimal_u64(digits)?).ok()?;
    i32::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// Shortens a header value for an error message, so a hostile header does not make a huge one.
pub(crate) fn excerpt(text: &str) -> String {
    const MAX_CHARS: usize = 64;
    let mut shown: String = text.chars().take(MAX_CHARS).flat_map(char::escape_debug).collect();
    if text.chars().nth(MAX_CHARS).is_some() {
        shown.push_str("...");
    }
    format!("\"{shown}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_needs_the_exact_width_and_case() {
        assert_eq!(parse_hex("00f067aa0ba902b7", 16, HexCase::Lower), Some(0x00f0_67aa_0ba9_02b7));
        assert_eq!(parse_hex("00F067AA0BA902B7", 16, HexCase::Lower), None);
        assert_eq!(parse_hex("00F067AA0BA902B7", 16, HexCase::Any), Some(0x00f0_67aa_0ba9_02b7));
        assert_eq!(parse_hex("f067aa0ba902b7", 16, HexCase::Any), None);
        assert_eq!(parse_hex("+0f067aa0ba902b7", 16, HexCase::Any), None);
        assert_eq!(parse_hex(&"f".repeat(32), 32, HexCase::Lower), Some(u128::MAX));
        assert_eq!(parse_hex("é", 1, HexCase::Any), None);
    }

    #[test]
    fn decimals_are_digits_only_and_checked() {
        assert_eq!(parse_decimal_u64("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_decimal_u64("18446744073709551616"), None);
        assert_eq!(parse_decimal_u64("+1"), None);
        assert_eq!(parse_decimal_u64("1_000"), None);
        assert_eq!(parse_decimal_u64(""), None);
        assert_eq!(parse_decimal_i32("-1"), Some(-1));
        assert_eq!(parse_decimal_i32("+2"), Some(2));
        assert_eq!(parse_decimal_i32("-2147483648"), Some(i32::MIN));
        assert_eq!(parse_decimal_i32("2147483648"), None);
        assert_eq!(parse_decimal_i32("-"), None);
        assert_eq!(parse_decimal_i32("1.0"), None);
    }

    #[test]
    fn excerpts_are_short_and_escaped() {
        assert_eq!(excerpt("a\nb"), "\"a\\nb\"");
        assert_eq!(excerpt(&"x".repeat(100)), format!("\"{}...\"", "x".repeat(64)));
    }
}
