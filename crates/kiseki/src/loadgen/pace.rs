//! How fast the load generator sends: batches spread evenly at a fixed rate, and every sender
//! held back when the server asks for time.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The most backlog a paced sender makes up for after it fell behind (a slow server, a
/// Retry-After): beyond this it drops the schedule rather than burst.
pub const MAX_CATCH_UP: Duration = Duration::from_secs(1);

/// Spreads units (spans or traces) evenly over time: a batch may go once the units before it
/// have had their share of time at the target rate.
#[derive(Debug, Clone)]
pub struct Pacer {
    per_second: f64,
    /// Since the start, when the units handed out so far are paid for.
    paid_until: Duration,
}

impl Pacer {
    /// `per_second` must be positive and finite (the configuration checks it).
    pub fn new(per_second: f64) -> Self {
        Self { per_second, paid_until: Duration::ZERO }
    }

    /// When, since the start, a batch of `units` may be sent, given that it is `now`. Later
    /// batches queue behind it.
    pub fn reserve(&mut self, units: u64, now: Duration) -> Duration {
        let due = self.paid_until.max(now.saturating_sub(MAX_CATCH_UP));
        let share =
            Duration::try_from_secs_f64(units as f64 / self.per_second).unwrap_or(Duration::MAX);
        self.paid_until = due.saturating_add(share);
        due
    }
}

/// Shared by every sender: after a server asked for time (429 / 503 with Retry-After,
/// RESOURCE_EXHAUSTED / UNAVAILABLE) or could not be reached, none sends before it is over.
#[derive(Debug, Default)]
pub struct Backoff {
    until: Mutex<Option<Instant>>,
}

impl Backoff {
    /// Holds every sender until `now + delay` (or longer, if an earlier hold reaches further).
    /// Returns by how much the hold grew, so concurrent refusals are not counted twice.
    pub fn hold(&self, now: Instant, delay: Duration) -> Duration {
        let mut until = self.until.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = until.map_or(now, |at| at.max(now));
        let wanted = now + delay;
        if wanted <= current {
            return Duration::ZERO;
        }
        *until = Some(wanted);
        wanted - current
    }

    /// When sending may resume, if a hold is still on at `now`.
    pub fn held_until(&self, now: Instant) -> Option<Instant> {
        let until = self.until.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        until.filter(|&at| at > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn batches_are_spread_at_the_rate() {
        let mut pacer = Pacer::new(1_000.0);
        assert_eq!(pacer.reserve(500, Duration::ZERO), Duration::ZERO);
        assert_eq!(pacer.reserve(500, Duration::ZERO), 500 * MS);
        assert_eq!(pacer.reserve(250, 10 * MS), 1_000 * MS);
        // A sender that comes late does not move the schedule.
        assert_eq!(pacer.reserve(1, 1_240 * MS), 1_250 * MS);
    }

    #[test]
    fn a_sender_far_behind_catches_up_one_second_at_most() {
        let mut pacer = Pacer::new(100.0);
        assert_eq!(pacer.reserve(100, Duration::ZERO), Duration::ZERO);
        // Ten seconds of silence: the next batches go at once, but only for one second's worth.
        let now = Duration::from_secs(11);
        assert_eq!(pacer.reserve(50, now), Duration::from_secs(10));
        assert_eq!(pacer.reserve(50, now), Duration::from_millis(10_500));
        assert_eq!(pacer.reserve(50, now), now);
        assert_eq!(pacer.reserve(50, now), now + 500 * MS);
    }

    #[test]
    fn absurd_rates_saturate_instead_of_panicking() {
        let mut pacer = Pacer::new(f64::MIN_POSITIVE);
        assert_eq!(pacer.reserve(1, Duration::ZERO), Duration::ZERO);
        assert_eq!(pacer.reserve(1, Duration::ZERO), Duration::MAX);
    }

    #[test]
    fn holds_extend_but_are_not_counted_twice() {
        let backoff = Backoff::default();
        let start = Instant::now();
        assert_eq!(backoff.held_until(start), None);
        assert_eq!(backoff.hold(start, 1_000 * MS), 1_000 * MS);
        // A second refusal at the same moment asks for the same second: nothing more to wait.
        assert_eq!(backoff.hold(start, 1_000 * MS), Duration::ZERO);
        assert_eq!(backoff.hold(start + 500 * MS, 1_000 * MS), 500 * MS);
        assert_eq!(backoff.held_until(start + 1_400 * MS), Some(start + 1_500 * MS));
        assert_eq!(backoff.held_until(start + 1_500 * MS), None);
        // After the hold is over, a new one counts in full.
        assert_eq!(backoff.hold(start + 2_000 * MS, 300 * MS), 300 * MS);
    }
}
