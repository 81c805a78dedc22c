//! Tests across the module: payloads captured from real tracers, property tests of every
//! decoder, and hostile input.

mod captures;
mod hostile;
mod properties;
