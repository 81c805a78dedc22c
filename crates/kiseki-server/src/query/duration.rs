//! Durations in query parameters, read the way Go's `time.ParseDuration` reads them (what Jaeger's
//! API and kiseki's own take, e.g. `250ms`, `1.5s`, `2h45m`), and written back for messages.

use std::time::Duration;

/// A duration as Go's `time.ParseDuration` writes it: decimal numbers, each with a unit (`ns`,
/// `us`, `µs`, `ms`, `s`, `m`, `h`), e.g. `300ms`, `1.5h`, `2h45m`; `0` alone is zero.
/// `days_and_weeks` also takes `d` and `w`, which Jaeger's UI uses for lookbacks (`2d`).
/// Negative durations are refused.
pub fn go_duration(text: &str, days_and_weeks: bool) -> Result<Duration, String> {
    let invalid = || format!("{text:?} is not a duration such as 500ms, 1.5s or 2h");
    let rest = text.trim().strip_prefix('+').unwrap_or(text.trim());
    if rest.starts_with('-') {
        return Err(format!("{text:?} is negative"));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    let mut rest = rest;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" if days_and_weeks => 86_400_000_000_000,
            "w" if days_and_weeks => 604_800_000_000_000,
            _ => return Err(invalid()),
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return Err(invalid());
        }
        let whole: u128 =
            if whole.is_empty() { 0 } else { whole.parse().map_err(|_| invalid())? };
        let mut nanos = whole.checked_mul(unit_nanos).ok_or_else(invalid)?;
        // Digits past nanosecond precision change nothing; 19 keep the arithmetic in range.
        let mut scale = unit_nanos;
        for digit in fraction.bytes().take(19) {
            scale /= 10;
            nanos += u128::from(digit - b'0') * scale;
        }
        total = total.checked_add(nanos).ok_or_else(invalid)?;
        rest = after;
    }
    let nanos = u64::try_from(total).map_err(|_| invalid())?;
    Ok(Duration::from_nanos(nanos))
}

/// A duration the way a person writes it: `30d`, `2h`, `90s`, `1500ms`.
pub fn describe(duration: Duration) -> String {
    const UNITS: [(u64, &str); 4] = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    if duration.subsec_nanos() == 0 {
        let seconds = duration.as_secs();
        if seconds == 0 {
            return "0s".to_owned();
        }
        for (size, unit) in UNITS {
            if seconds.is_multiple_of(size) {
                return format!("{}{unit}", seconds / size);
            }
        }
    }
    format!("{}ms", duration.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_read_as_go_reads_them() {
        let ms = Duration::from_millis;
        assert_eq!(go_duration("300ms", false).unwrap(), ms(300));
        assert_eq!(go_duration("1.5s", false).unwrap(), ms(1500));
        assert_eq!(go_duration("2h45m", false).unwrap(), Duration::from_secs(9900));
        assert_eq!(go_duration(".5us", false).unwrap(), Duration::from_nanos(500));
        assert_eq!(go_duration("1µs", false).unwrap(), Duration::from_micros(1));
        assert_eq!(go_duration("0", false).unwrap(), Duration::ZERO);
        assert_eq!(go_duration("2d", true).unwrap(), Duration::from_secs(172_800));
        assert_eq!(go_duration("1w", true).unwrap(), Duration::from_secs(604_800));
        for bad in ["", "5", "2d", "1.2.3s", "ms", "-1s", "1x", "99999999999999999999h"] {
            assert!(go_duration(bad, false).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_are_described_in_their_largest_whole_unit() {
        assert_eq!(describe(Duration::from_millis(1500)), "1500ms");
        assert_eq!(describe(Duration::from_secs(7200)), "2h");
        assert_eq!(describe(Duration::from_secs(30 * 86_400)), "30d");
    }
}
