//! zipkin (in progress)
