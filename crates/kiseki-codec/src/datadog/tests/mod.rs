//! Tests of the Datadog codec: mapping rules, real tracer captures, properties, hostile input.

mod captures;
mod hostile;
mod mapping;
mod properties;
mod support;
