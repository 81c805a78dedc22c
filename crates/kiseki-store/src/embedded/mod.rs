//! The embedded store: spans kept on the local disk, with no server to run beside kiseki.

pub mod block;
pub mod wal;
