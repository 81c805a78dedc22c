//! Tests across the module: Zipkin's own v1 conversion cases, payloads captured from real
//! tracers, property tests of every decoder, and hostile input.

mod captures;
mod hostile;
mod properties;
mod v1_conversion;
