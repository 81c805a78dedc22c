//! The stats stage: request, error and latency figures per service, resource, kind, status,
//! environment and version, computed from every span before any sampling, in 10-second buckets
//! rolled up to minutes and hours.

pub mod aggregator;
pub mod bucket;
pub mod naming;
pub mod series;
pub mod sketch;

pub use aggregator::{StatsAggregator, StatsConfig, StatsCounters};
pub use bucket::{Bucket, KeyStats, OVERFLOW_NAME, Resolution, StatsKey};
pub use naming::{MAX_RESOURCE_BYTES, resource_name, write_resource_name};
pub use series::{Series, SeriesPoint, series, series_by};
pub use sketch::{LatencySketch, MAX_BINS, RELATIVE_ACCURACY, SketchDecodeError};
