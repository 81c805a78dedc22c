//! otlp (in progress)
