//! The parts of the `kiseki` binary that tests and benchmarks drive as a library: the load
//! generator behind `kiseki loadgen` and `kiseki serve --demo`.

pub mod loadgen;
