//! kiseki's own trace store on local disk: a WAL for durability, an in-memory head for recent
//! spans, and immutable Parquet blocks with an index beside each, merged and expired in the
//! background. No database to run; see [`EmbeddedStore`].

pub mod block;
mod files;
mod head;
mod options;
mod store;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
pub mod wal;

pub use options::EmbeddedOptions;
pub use store::{EmbeddedStats, EmbeddedStore};
