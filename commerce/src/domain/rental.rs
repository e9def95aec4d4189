//! Rentals: watchable until a deadline if never played, and for a window from the first play after that.

/// A rental's times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rental {
    /// How long it plays from the first play.
    pub window_ms: i64,
    /// When it expires if it was never played.
    pub expires_unplayed_at: i64,
    pub first_played_at: Option<i64>,
    /// Set when its payment was refunded.
    pub revoked_at: Option<i64>,
}

/// Why a rental does not play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RentalRefusal {
    #[error("the rental's watch window has ended")]
    WindowEnded,
    #[error("the rental was never played and has expired")]
    NeverPlayedExpired,
    #[error("the rental was refunded")]
    Revoked,
}

impl Rental {
    /// Until when it plays: the first play's window, or the deadline for a first play.
    pub fn plays_until(&self) -> i64 {
        match self.first_played_at {
            Some(first) => first.saturating_add(self.window_ms),
            None => self.expires_unplayed_at,
        }
    }

    /// Whether it may play at `now`, and so whether it is still `active` in listings.
    pub fn check(&self, now: i64) -> Result<(), RentalRefusal> {
        if self.revoked_at.is_some() {
            Err(RentalRefusal::Revoked)
        } else if now < self.plays_until() {
            Ok(())
        } else if self.first_played_at.is_some() {
            Err(RentalRefusal::WindowEnded)
        } else {
            Err(RentalRefusal::NeverPlayedExpired)
        }
    }

    /// The rental after a play at `now`: the window starts at the first play; later plays change nothing.
    pub fn play(&self, now: i64) -> Result<Self, RentalRefusal> {
        self.check(now)?;
        Ok(Self { first_played_at: Some(self.first_played_at.unwrap_or(now)), ..*self })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn the_window_starts_at_the_first_play() {
        let rental =
            Rental { window_ms: 48 * HOUR, expires_unplayed_at: 720 * HOUR, first_played_at: None, revoked_at: None };
        assert_eq!(rental.check(719 * HOUR), Ok(()));
        assert_eq!(rental.check(720 * HOUR), Err(RentalRefusal::NeverPlayedExpired));
        let played = rental.play(700 * HOUR).unwrap();
        assert_eq!(played.first_played_at, Some(700 * HOUR));
        assert_eq!(played.play(701 * HOUR).unwrap(), played, "a second play keeps the first");
        assert_eq!(played.check(747 * HOUR), Ok(()), "the window outlives the unplayed deadline");
        assert_eq!(played.check(748 * HOUR), Err(RentalRefusal::WindowEnded));
        assert_eq!(Rental { revoked_at: Some(1), ..played }.check(701 * HOUR), Err(RentalRefusal::Revoked));
    }

    proptest! {
        /// Plays never move the window's start, and nothing plays after its deadline.
        #[test]
        fn plays_keep_the_first_start(window in 1i64..1000, deadline in 0i64..1000, plays in proptest::collection::vec(0i64..3000, 0..10)) {
            let mut rental = Rental { window_ms: window, expires_unplayed_at: deadline, first_played_at: None, revoked_at: None };
            for at in plays {
                let before = rental;
                match rental.play(at) {
                    Ok(after) => {
                        prop_assert!(at < before.plays_until());
                        prop_assert_eq!(after.first_played_at, Some(before.first_played_at.unwrap_or(at)));
                        rental = after;
                    }
                    Err(_) => prop_assert!(at >= before.plays_until()),
                }
            }
        }
    }
}
