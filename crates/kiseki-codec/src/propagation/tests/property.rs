//! Property tests: every format reads back what it wrote; no header text makes anything panic.
