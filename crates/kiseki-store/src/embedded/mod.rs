//! The embedded store: write-ahead log, immutable blocks, and the engine that joins them.

pub mod block;
