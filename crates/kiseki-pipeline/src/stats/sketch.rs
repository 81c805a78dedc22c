//! A mergeable latency distribution with a bounded relative error, so percentiles of any bucket,
//! and of any union of buckets, can be read back without keeping every duration.
//!
//! This is DDSketch (Masson, Rim and Lee, VLDB 2019) as the `sketches-ddsketch` crate implements
//! it: logarithmic bins of ratio γ = (1 + α) / (1 − α), so every value in a bin is within α of
//! the bin's representative value; merging adds bin counts; at most [`MAX_BINS`] bins per sketch,
//! beyond which the lowest bins are collapsed into one (the fast requests lose accuracy first,
//! the tail never does). Durations are recorded in nanoseconds; a zero duration goes to the
//! sketch's zero bin (anything below 1e-9 ns is zero).
//!
//! The serialized form is DataDog's binary DDSketch encoding (the one `sketches-java` writes):
//! summary statistics, the index mapping and the non-empty bins as varints, a few hundred bytes
//! for a typical endpoint.

use sketches_ddsketch::{Config, DDSketch};

/// The relative accuracy α: every quantile estimate of a positive value is within 1 % of a value
/// that was recorded at that rank.
pub const RELATIVE_ACCURACY: f64 = 0.01;

/// The most bins a sketch holds (8 bytes each). With α = 1 % that covers a ratio of about
/// 10^17 between the fastest and the slowest duration before the lowest bins are collapsed.
///
/// This is the crate's default, which its decoder assumes: a decoded sketch must merge with a
/// new one, and merging needs equal configurations.
pub const MAX_BINS: u32 = 2048;

/// The durations of one key in one bucket.
#[derive(Clone)]
pub struct LatencySketch {
    inner: DDSketch,
}

/// Why bytes could not be read back as a [`LatencySketch`].
#[derive(Debug, thiserror::Error)]
pub enum SketchDecodeError {
    #[error("invalid ddsketch encoding: {0}")]
    Encoding(String),
    #[error("ddsketch with gamma {gamma} does not have kiseki's relative accuracy")]
    OtherAccuracy { gamma: f64 },
}

impl Default for LatencySketch {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencySketch {
    pub fn new() -> Self {
        Self { inner: DDSketch::new(config()) }
    }

    /// Records one duration.
    pub fn add_nanos(&mut self, nanos: u64) {
        self.inner.add(nanos as f64);
    }

    /// Adds the other sketch's bins to this one: the result is the sketch of both sets of
    /// durations.
    pub fn merge(&mut self, other: &LatencySketch) {
        // Every LatencySketch has the same configuration (decode refuses others), so the only
        // error merge can report cannot happen.
        let merged = self.inner.merge(&other.inner);
        debug_assert!(merged.is_ok(), "sketches with one configuration always merge");
    }

    /// How many durations were recorded.
    pub fn count(&self) -> u64 {
        self.inner.count() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// The duration at quantile `q` (0.0 to 1.0; 0.5 is the median), in nanoseconds; `None` when
    /// the sketch is empty or `q` is outside 0..=1. For positive durations the estimate is
    /// within [`RELATIVE_ACCURACY`] of the recorded duration of rank `⌊q · (count − 1)⌋`;
    /// 0 and 1 give the exact minimum and maximum.
    pub fn quantile_nanos(&self, q: f64) -> Option<f64> {
        self.inner.quantile(q).ok().flatten()
    }

    /// The shortest recorded duration, exact.
    pub fn min_nanos(&self) -> Option<f64> {
        self.inner.min()
    }

    /// The longest recorded duration, exact.
    pub fn max_nanos(&self) -> Option<f64> {
        self.inner.max()
    }

    /// DataDog's binary DDSketch encoding.
    pub fn encode(&self) -> Vec<u8> {
        self.inner.to_java_bytes()
    }

    /// Reads [`LatencySketch::encode`]'s bytes back; refuses sketches of another accuracy, which
    /// could not be merged with ours.
    ///
    /// The library's decoder adds bin counts without checking for overflow, so hostile or
    /// damaged bytes can make it panic in a build with overflow checks; that panic is caught
    /// here and answered as an encoding error, so no input can take the caller down.
    pub fn decode(bytes: &[u8]) -> Result<Self, SketchDecodeError> {
        let decoded = std::panic::catch_unwind(|| {
            let inner = DDSketch::from_java_bytes(bytes)
                .map_err(|error| SketchDecodeError::Encoding(error.to_string()))?;
            let mut sketch = Self::new();
            let gamma = config().gamma;
            // The decoder rebuilds the configuration from the encoded gamma; a merge into an
            // empty sketch of ours succeeds exactly when the configurations are equal.
            sketch.inner.merge(&inner).map_err(|_| SketchDecodeError::OtherAccuracy { gamma })?;
            Ok(sketch)
        });
        decoded.unwrap_or_else(|_| {
            Err(SketchDecodeError::Encoding("bin counts overflow: the bytes are damaged".into()))
        })
    }

    /// Bytes of bins this sketch holds, for memory accounting.
    pub fn bin_bytes(&self) -> usize {
        self.inner.length() * std::mem::size_of::<u64>()
    }
}

impl std::fmt::Debug for LatencySketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencySketch")
            .field("count", &self.count())
            .field("min_nanos", &self.min_nanos())
            .field("max_nanos", &self.max_nanos())
            .finish()
    }
}

fn config() -> Config {
    Config::new(RELATIVE_ACCURACY, MAX_BINS, 1e-9)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The recorded value at the rank the sketch estimates.
    fn exact_quantile(sorted: &[u64], q: f64) -> u64 {
        sorted[(q * (sorted.len() - 1) as f64) as usize]
    }

    fn within_accuracy(estimate: f64, exact: u64) -> bool {
        let exact = exact as f64;
        (estimate - exact).abs() <= RELATIVE_ACCURACY * exact * (1.0 + 1e-9)
    }

    fn sketch_of(values: &[u64]) -> LatencySketch {
        let mut sketch = LatencySketch::new();
        for &value in values {
            sketch.add_nanos(value);
        }
        sketch
    }

    /// Durations from 0 to about 100 s, spread over many orders of magnitude.
    fn durations() -> impl Strategy<Value = Vec<u64>> {
        prop::collection::vec(
            prop_oneof![
                Just(0u64),
                1u64..1_000,
                1_000u64..10_000_000,
                10_000_000u64..100_000_000_000
            ],
            1..400,
        )
    }

    proptest! {
        #[test]
        fn quantiles_are_within_the_relative_accuracy(values in durations()) {
            let sketch = sketch_of(&values);
            let mut sorted = values.clone();
            sorted.sort_unstable();
            prop_assert_eq!(sketch.count(), values.len() as u64);
            for q in [0.0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0] {
                let estimate = sketch.quantile_nanos(q).unwrap();
                let exact = exact_quantile(&sorted, q);
                prop_assert!(within_accuracy(estimate, exact), "q {} estimate {} exact {}", q, estimate, exact);
            }
        }

        #[test]
        fn merge_is_the_sketch_of_the_union(a in durations(), b in durations()) {
            let mut merged = sketch_of(&a);
            merged.merge(&sketch_of(&b));
            let union: Vec<u64> = a.iter().chain(&b).copied().collect();
            // Integer nanoseconds below 2^53 sum exactly in f64, so the encodings are equal
            // byte for byte: the same bins, counts, minimum, maximum and sum.
            prop_assert_eq!(merged.encode(), sketch_of(&union).encode());
        }

        #[test]
        fn encoding_round_trips(values in durations()) {
            let sketch = sketch_of(&values);
            let decoded = LatencySketch::decode(&sketch.encode()).unwrap();
            prop_assert_eq!(decoded.encode(), sketch.encode());
            prop_assert_eq!(decoded.count(), sketch.count());
            // A decoded sketch merges with a new one.
            let mut more = decoded.clone();
            more.merge(&sketch);
            prop_assert_eq!(more.count(), 2 * sketch.count());
        }

        #[test]
        fn decoding_garbage_fails_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = LatencySketch::decode(&bytes);
        }
    }

    #[test]
    fn zero_durations_have_a_bin_of_their_own() {
        let sketch = sketch_of(&[0, 0, 0, 1_000]);
        assert_eq!(sketch.quantile_nanos(0.5), Some(0.0));
        assert_eq!(sketch.min_nanos(), Some(0.0));
        assert_eq!(sketch.max_nanos(), Some(1_000.0));
    }

    #[test]
    fn an_empty_sketch_has_no_quantiles() {
        let sketch = LatencySketch::new();
        assert_eq!(sketch.quantile_nanos(0.5), None);
        assert!(sketch.is_empty());
        let decoded = LatencySketch::decode(&sketch.encode()).unwrap();
        assert!(decoded.is_empty());
    }

    #[test]
    fn the_bin_cap_collapses_the_lowest_bins_and_keeps_the_tail_accurate() {
        // 1 ns to 10^19 ns spans more than MAX_BINS bins at 1 %.
        let mut values: Vec<u64> = (0..64).map(|e| 2u64.pow(e)).collect();
        values.extend([u64::MAX / 2; 10]);
        let sketch = sketch_of(&values);
        assert!(sketch.bin_bytes() <= MAX_BINS as usize * 8);
        let mut sorted = values.clone();
        sorted.sort_unstable();
        let p99 = sketch.quantile_nanos(0.99).unwrap();
        assert!(within_accuracy(p99, exact_quantile(&sorted, 0.99)));
        // The lowest values were folded into one bin, so the low quantiles are off.
        let p01 = sketch.quantile_nanos(0.01).unwrap();
        assert!(!within_accuracy(p01, exact_quantile(&sorted, 0.01)));
    }

    #[test]
    fn a_sketch_of_another_accuracy_is_refused() {
        let mut other = DDSketch::new(Config::new(0.05, MAX_BINS, 1e-9));
        other.add(1_000.0);
        assert!(matches!(
            LatencySketch::decode(&other.to_java_bytes()),
            Err(SketchDecodeError::OtherAccuracy { .. })
        ));
    }
}
