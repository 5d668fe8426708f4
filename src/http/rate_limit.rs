//! Requests per second per subject: a keyed GCRA token bucket (governor), so one busy user
//! cannot starve the others. The bucket holds a second's worth of requests for bursts.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// Keys kept before idle buckets are dropped (a full bucket is as good as none).
const KEYS_BEFORE_SWEEP: usize = 10_000;

pub struct RateLimiter {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

impl RateLimiter {
    /// `0` turns the limit off.
    pub fn per_second(requests: u32) -> Self {
        Self {
            limiter: NonZeroU32::new(requests).map(|n| governor::RateLimiter::keyed(Quota::per_second(n))),
            clock: DefaultClock::default(),
        }
    }

    /// `Err` holds how long the subject should wait.
    pub fn check(&self, subject: &str) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        if limiter.len() > KEYS_BEFORE_SWEEP {
            limiter.retain_recent();
        }
        limiter
            .check_key(&subject.to_string())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_runs_out_and_others_do_not() {
        let limiter = RateLimiter::per_second(3);
        for _ in 0..3 {
            assert!(limiter.check("ana").is_ok());
        }
        let wait = limiter.check("ana").expect_err("fourth request within the second");
        assert!(wait <= Duration::from_secs(1));
        assert!(limiter.check("bob").is_ok(), "buckets are per subject");
        let off = RateLimiter::per_second(0);
        assert!((0..1000).all(|_| off.check("ana").is_ok()));
    }
}
