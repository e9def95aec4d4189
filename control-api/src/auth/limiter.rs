//! Login rate limits, per account and per client address: a password guesser is slowed down whichever it
//! varies. Kept in each API instance's memory (governor's keyed GCRA limiter): with several instances behind a
//! load balancer each enforces its own limits, so the total is at most that many times the quota.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// Sign-in attempts one account may have: a burst of this many…
pub const ACCOUNT_BURST: u32 = 5;
/// …then one more every this long.
pub const ACCOUNT_REFILL: Duration = Duration::from_secs(12);
/// Sign-in attempts one client address may have (many people may share an address): a burst…
pub const ADDRESS_BURST: u32 = 20;
/// …then one more every this long.
pub const ADDRESS_REFILL: Duration = Duration::from_secs(2);

/// The two limiters.
#[derive(Debug)]
pub struct LoginLimiter {
    accounts: DefaultKeyedRateLimiter<String>,
    addresses: DefaultKeyedRateLimiter<IpAddr>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl LoginLimiter {
    pub fn new() -> Self {
        let quota = |burst: u32, refill: Duration| {
            Quota::with_period(refill).expect("non-zero period").allow_burst(NonZeroU32::new(burst).expect("non-zero"))
        };
        Self {
            accounts: DefaultKeyedRateLimiter::keyed(quota(ACCOUNT_BURST, ACCOUNT_REFILL)),
            addresses: DefaultKeyedRateLimiter::keyed(quota(ADDRESS_BURST, ADDRESS_REFILL)),
        }
    }

    /// Counts one attempt for `email` from `address`; `Err(wait)` when either is over its limit.
    pub fn attempt(&self, email: &str, address: IpAddr) -> Result<(), Duration> {
        let now = DefaultClock::default().now();
        let address_result = self.addresses.check_key(&address);
        let account_result = self.accounts.check_key(&email.to_lowercase());
        let waits: Vec<Duration> = [address_result, account_result]
            .into_iter()
            .filter_map(|r| r.err().map(|n| n.wait_time_from(now)))
            .collect();
        match waits.into_iter().max() {
            Some(wait) => Err(wait.max(Duration::from_secs(1))),
            None => Ok(()),
        }
    }

    /// Forgets keys whose limit has fully refilled, so memory follows recent attempts only.
    pub fn forget_idle(&self) {
        self.accounts.retain_recent();
        self.addresses.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_limited_whatever_the_address() {
        let limiter = LoginLimiter::new();
        for i in 0..ACCOUNT_BURST {
            let address = IpAddr::from([10, 0, 0, u8::try_from(i).unwrap()]);
            assert!(limiter.attempt("a@example.com", address).is_ok());
        }
        let wait = limiter.attempt("A@example.com", IpAddr::from([10, 0, 1, 1])).unwrap_err();
        assert!(wait >= Duration::from_secs(1) && wait <= ACCOUNT_REFILL, "{wait:?}");
        assert!(limiter.attempt("b@example.com", IpAddr::from([10, 0, 1, 1])).is_ok(), "other accounts are not");
    }

    #[test]
    fn an_address_is_limited_whatever_the_account() {
        let limiter = LoginLimiter::new();
        let address = IpAddr::from([192, 0, 2, 7]);
        for i in 0..ADDRESS_BURST {
            assert!(limiter.attempt(&format!("user{i}@example.com"), address).is_ok());
        }
        assert!(limiter.attempt("someone-else@example.com", address).is_err());
        assert!(limiter.attempt("someone-else@example.com", IpAddr::from([192, 0, 2, 8])).is_ok());
    }
}
