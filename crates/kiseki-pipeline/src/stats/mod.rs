//! The stats stage: request, error and latency figures per service, resource, kind, status,
//! environment and version, computed from every span before any sampling, in 10-second buckets
//! rolled up to minutes and hours.

pub mod naming;
pub mod sketch;

pub use naming::{MAX_RESOURCE_BYTES, resource_name, write_resource_name};
pub use sketch::{LatencySketch, MAX_BINS, RELATIVE_ACCURACY, SketchDecodeError};
