//! datadog (in progress)
