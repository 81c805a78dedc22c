//! Error tracking: error spans read into reports, grouped by a stable fingerprint into issues a
//! person can follow ("new since 14:02, in 1.4.2, on POST /checkout"), resolve or ignore.
//!
//! [`ErrorReport::of`] reads a span; [`ErrorGroupKey`] and [`Fingerprint`] decide the group
//! (see [`fingerprint`] for what goes in); [`ErrorGroups`] keeps the groups in memory.

pub mod fingerprint;
pub mod groups;
pub mod message;
pub mod report;
pub mod stack;

pub use fingerprint::{ErrorGroupKey, FINGERPRINT_FRAMES, Fingerprint, FingerprintParseError};
pub use groups::{
    BoundedCounts, ErrorGroup, ErrorGroups, ErrorGroupsConfig, ErrorGroupsError, GroupStatus,
    Occurrence, Recorded, Reopening,
};
pub use message::{MAX_NORMALISED_LEN, normalise_message};
pub use report::{ErrorReport, ErrorSource, UNKNOWN_ERROR_TYPE};
pub use stack::{StackFrame, parse_frames, top_frames};
