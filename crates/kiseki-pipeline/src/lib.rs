//! The pipeline between the receivers and the store: statistics computed from every span before
//! any sampling (request, error and latency figures per service and endpoint), and error spans
//! grouped into issues. Pure, synchronous building blocks; the server drives them.

pub mod errors;
pub mod stats;
