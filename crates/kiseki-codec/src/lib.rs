//! Pure functions between wire formats and the span model: no I/O, no async, no global state.
//!
//! Each format is a module with `decode` functions (bytes → spans) and its own error type; formats
//! that kiseki also sends have `encode` functions. Receivers own transport concerns (HTTP, gRPC,
//! UDP, compression, body limits); everything here can be fuzzed and property-tested on its own.

pub mod datadog;
pub mod jaeger;
pub mod limits;
pub mod otlp;
pub mod propagation;
pub mod thrift;
pub mod zipkin;

pub use limits::LimitError;
