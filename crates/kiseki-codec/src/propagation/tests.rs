//! Tests across formats: round trips, real tracers' headers, hostile input.
