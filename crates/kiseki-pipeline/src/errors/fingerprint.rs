//! The fingerprint that decides which error spans are one issue: a hash that stays the same
//! across kiseki releases, platforms and restarts, because it is persisted and shown in links.
//!
//! What goes in, and why:
//! - the **service**: the same exception in two services is two problems with two owners;
//! - the **error type**, unqualified (`CouponExpired` for `shop.orders.CouponExpired`,
//!   `SMTPServerBusy` for `Net::SMTPServerBusy`): what kind of failure it is. The qualification
//!   is left out because tracers disagree on it and change it between releases (OpenTelemetry
//!   Python 1.21 sends `CouponExpired`, 1.45 `_otel_trace.CouponExpired`, ddtrace
//!   `builtins.KeyError`), and upgrading a tracer must not split every group; the frames and the
//!   message still tell same-named types of different packages apart;
//! - the **normalised message** ([`normalise_message`]): the message with its values (numbers,
//!   ids, addresses, quoted text) replaced, so occurrences that differ only in data group together;
//! - the **top application frames** ([`top_frames`], [`FINGERPRINT_FRAMES`] of them): where in
//!   the code it failed, without line numbers, so a redeploy that shifts lines keeps the group.
//!
//! What stays out: the endpoint, version, environment, host and time, which are what a group
//! reports about its occurrences ("affected endpoints", "first seen in 1.4.2") rather than what
//! makes them one error.
//!
//! The hash is xxHash64 (seed 0) over a versioned byte string: `kiseki-error-v1`, then each part
//! followed by a 0x1f separator; frames as `module:function`, each followed by 0x1e. Changing
//! anything in this input is a new version of the fingerprint and splits every stored group, so
//! it is pinned by a test with literal values.

use std::fmt;
use std::hash::Hasher;
use std::str::FromStr;

use twox_hash::XxHash64;

use super::message::normalise_message;
use super::report::ErrorReport;
use super::stack::{StackFrame, top_frames};

/// How many application frames, innermost first, go into a fingerprint.
pub const FINGERPRINT_FRAMES: usize = 5;

const FINGERPRINT_VERSION: &[u8] = b"kiseki-error-v1";
const PART_END: u8 = 0x1f;
const FRAME_END: u8 = 0x1e;

/// Identity of an error group: 64 bits, shown as 16 lower-case hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub u64);

/// What an error group is keyed by, kept with the group so a person can see why spans grouped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorGroupKey {
    pub service: String,
    pub error_type: String,
    pub normalised_message: String,
    pub frames: Vec<StackFrame>,
}

impl ErrorGroupKey {
    /// The key of a report: its service and type as given, its message normalised, its top frames.
    pub fn of(report: &ErrorReport) -> Self {
        Self {
            service: report.service.to_string(),
            error_type: unqualified_type(&report.error_type).to_owned(),
            normalised_message: normalise_message(&report.message),
            frames: top_frames(&report.stacktrace, FINGERPRINT_FRAMES),
        }
    }

    pub fn fingerprint(&self) -> Fingerprint {
        let mut hasher = XxHash64::with_seed(0);
        hasher.write(FINGERPRINT_VERSION);
        hasher.write_u8(PART_END);
        for part in [&self.service, &self.error_type, &self.normalised_message] {
            hasher.write(part.as_bytes());
            hasher.write_u8(PART_END);
        }
        for frame in &self.frames {
            hasher.write(frame.module.as_bytes());
            hasher.write_u8(b':');
            hasher.write(frame.function.as_bytes());
            hasher.write_u8(FRAME_END);
        }
        Fingerprint(hasher.finish())
    }
}

/// The last segment of a qualified type name: after the last `.`, `::` or `/` that is followed by
/// a name (so `HTTP 503` and `gRPC UNAVAILABLE` stay whole).
fn unqualified_type(name: &str) -> &str {
    let start = name.rfind(['.', ':', '/']).map_or(0, |at| at + 1);
    let last = &name[start..];
    if last.is_empty() || name[..start].contains(' ') { name } else { last }
}

impl Fingerprint {
    /// The fingerprint of a report; the same as `ErrorGroupKey::of(report).fingerprint()`.
    pub fn of(report: &ErrorReport) -> Self {
        ErrorGroupKey::of(report).fingerprint()
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A fingerprint given as text that is not 16 hex digits.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("fingerprint must be 16 hex digits, got {0:?}")]
pub struct FingerprintParseError(String);

impl FromStr for Fingerprint {
    type Err = FingerprintParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() != 16 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(FingerprintParseError(text.to_owned()));
        }
        u64::from_str_radix(text, 16)
            .map(Fingerprint)
            .map_err(|_| FingerprintParseError(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use kiseki_model::{SpanKind, Str};

    use super::*;
    use crate::errors::ErrorSource;

    fn report(service: &str, kind: &str, message: &str, stack: &str) -> ErrorReport {
        ErrorReport {
            service: Str::new(service),
            endpoint: Str::new("GET /orders/{id}"),
            error_type: Str::new(kind),
            message: Str::new(message),
            stacktrace: Str::new(stack),
            version: Str::new("1.0.0"),
            environment: Str::new("prod"),
            source: ErrorSource::Exception,
            span_kind: SpanKind::Server,
        }
    }

    const STACK: &str =
        "OrderNotFound: x\n    at load (/app/orders.js:10:5)\n    at handle (/app/http.js:20:7)";

    #[test]
    fn pinned_values_do_not_change_between_releases() {
        // Changing these numbers splits every stored group: bump FINGERPRINT_VERSION instead.
        // Both were checked against an independent implementation of the xxHash64 specification
        // over the input the module documentation describes.
        let plain = report("orders", "OrderNotFound", "order 12345 not found", "");
        assert_eq!(Fingerprint::of(&plain).to_string(), "5751e0e1eb15a8d6");
        let qualified = report("orders", "shop.OrderNotFound", "order 7 not found", "");
        assert_eq!(Fingerprint::of(&qualified).to_string(), "5751e0e1eb15a8d6");
        let with_stack = report("orders", "OrderNotFound", "order 12345 not found", STACK);
        assert_eq!(Fingerprint::of(&with_stack).to_string(), "ee6cf3674e3aa8bf");
    }

    #[test]
    fn the_hash_is_xxh64_with_seed_zero() {
        // Reference value of the xxHash specification for the empty input.
        let hasher = XxHash64::with_seed(0);
        assert_eq!(hasher.finish(), 0xef46_db37_51d8_e999);
    }

    #[test]
    fn values_lines_endpoint_and_version_do_not_split_a_group() {
        let a = report("orders", "OrderNotFound", "order 12345 not found (id=9f1c2e7a4b)", STACK);
        let mut b = report(
            "orders",
            "OrderNotFound",
            "order 67 not found (id=ab34cd56ef)",
            &STACK.replace(":10:5", ":12:9"),
        );
        b.endpoint = Str::new("POST /orders");
        b.version = Str::new("1.1.0");
        assert_eq!(Fingerprint::of(&a), Fingerprint::of(&b));
    }

    #[test]
    fn service_type_message_and_frames_split_groups() {
        let base = report("orders", "OrderNotFound", "order 1 not found", STACK);
        let others = [
            report("billing", "OrderNotFound", "order 1 not found", STACK),
            report("orders", "OrderMissing", "order 1 not found", STACK),
            report("orders", "OrderNotFound", "order 1 cancelled", STACK),
            report("orders", "OrderNotFound", "order 1 not found", &STACK.replace("load", "fetch")),
            report("orders", "OrderNotFound", "order 1 not found", ""),
        ];
        for other in &others {
            assert_ne!(Fingerprint::of(&base), Fingerprint::of(other), "{other:?}");
        }
    }

    #[test]
    fn types_group_without_their_qualification() {
        assert_eq!(unqualified_type("_otel_trace.CouponExpired"), "CouponExpired");
        assert_eq!(unqualified_type("CouponExpired"), "CouponExpired");
        assert_eq!(unqualified_type("Net::SMTPServerBusy"), "SMTPServerBusy");
        assert_eq!(unqualified_type("java.lang.IllegalStateException"), "IllegalStateException");
        assert_eq!(unqualified_type("*fs.PathError"), "PathError");
        assert_eq!(unqualified_type("HTTP 503"), "HTTP 503");
        assert_eq!(unqualified_type("trailing."), "trailing.");
        let a = report("checkout", "_otel_trace.CouponExpired", "coupon X1 expired", "");
        let b = report("checkout", "CouponExpired", "coupon X1 expired", "");
        assert_eq!(Fingerprint::of(&a), Fingerprint::of(&b));
    }

    #[test]
    fn parts_cannot_run_into_each_other() {
        let a = report("ab", "c", "m", "");
        let b = report("a", "bc", "m", "");
        assert_ne!(Fingerprint::of(&a), Fingerprint::of(&b));
    }

    #[test]
    fn hex_round_trip() {
        let fingerprint = Fingerprint(0x00ab_cdef_0123_4567);
        assert_eq!(fingerprint.to_string(), "00abcdef01234567");
        assert_eq!("00abcdef01234567".parse(), Ok(fingerprint));
        assert!("abc".parse::<Fingerprint>().is_err());
        assert!("zzzzzzzzzzzzzzzz".parse::<Fingerprint>().is_err());
        assert!("+bcdef0123456789".parse::<Fingerprint>().is_err());
    }
}
