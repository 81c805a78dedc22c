//! propagation (in progress)
