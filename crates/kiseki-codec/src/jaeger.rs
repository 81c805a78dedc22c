//! jaeger (in progress)
