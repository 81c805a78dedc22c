//! The stats stage: request, error and latency figures per service, resource, kind, status,
//! environment and version, computed from every span before any sampling, in 10-second buckets
//! rolled up to minutes and hours.

pub mod sketch;

pub use sketch::{LatencySketch, MAX_BINS, RELATIVE_ACCURACY, SketchDecodeError};
