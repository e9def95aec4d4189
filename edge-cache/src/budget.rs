//! The fill budget: how many bytes the bodies being fetched from upstream may hold at once. It is carved out of
//! the edge's memory budget (`memory_bytes` = memory tier + fill budget), so that a burst of misses for
//! distinct objects cannot take the edge's memory past what it was given: a fill reserves its body's length
//! before it holds any of it, and waits, in arrival order, while the budget is spent.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Reservations are made in units of this many bytes (a semaphore permit each), rounded up.
const UNIT_BYTES: u64 = 1024;

/// The budget stayed spent for as long as the fill could wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the fill budget stayed full")]
pub struct BudgetFull;

/// Bytes for bodies in flight, shared by every fill.
#[derive(Debug, Clone)]
pub struct FillBudget {
    units: Arc<Semaphore>,
    total_units: u32,
}

/// Bytes one fill holds of the budget; given back on drop.
#[derive(Debug)]
pub struct FillReservation {
    permit: Option<OwnedSemaphorePermit>,
    budget: FillBudget,
}

impl FillBudget {
    /// A budget of `bytes` (rounded down to whole units; at least one unit, at most `u32::MAX` units).
    pub fn new(bytes: u64) -> Self {
        let total_units = u32::try_from(bytes / UNIT_BYTES).unwrap_or(u32::MAX).max(1);
        Self { units: Arc::new(Semaphore::new(total_units as usize)), total_units }
    }

    pub fn total_bytes(&self) -> u64 {
        u64::from(self.total_units) * UNIT_BYTES
    }

    /// Bytes reserved by fills now.
    pub fn reserved_bytes(&self) -> u64 {
        let available = u64::try_from(self.units.available_permits()).unwrap_or(u64::MAX);
        (u64::from(self.total_units).saturating_sub(available)) * UNIT_BYTES
    }

    /// Whether `bytes` could be reserved without waiting right now (for optional work such as prefetch).
    pub fn has_room_for(&self, bytes: u64) -> bool {
        self.units.available_permits() as u64 >= u64::from(self.units_for(bytes))
    }

    /// An empty reservation, grown with [`FillReservation::grow_to`].
    pub fn empty(&self) -> FillReservation {
        FillReservation { permit: None, budget: self.clone() }
    }

    /// A body of `bytes` cannot reserve more than the whole budget: one that large waits until it has it all,
    /// then goes ahead holding more than it reserved (the configuration check keeps objects that large out
    /// unless the operator allows them).
    fn units_for(&self, bytes: u64) -> u32 {
        u32::try_from(bytes.div_ceil(UNIT_BYTES)).unwrap_or(u32::MAX).min(self.total_units)
    }
}

impl FillReservation {
    pub fn bytes(&self) -> u64 {
        self.permit.as_ref().map_or(0, |permit| permit.num_permits() as u64 * UNIT_BYTES)
    }

    /// Grows the reservation to cover `bytes` in all, waiting at most `wait` for the room.
    pub async fn grow_to(&mut self, bytes: u64, wait: Duration) -> Result<(), BudgetFull> {
        let held = self.permit.as_ref().map_or(0, OwnedSemaphorePermit::num_permits) as u32;
        let wanted = self.budget.units_for(bytes);
        if wanted <= held {
            return Ok(());
        }
        let more = self.budget.units.clone().acquire_many_owned(wanted - held);
        let more = match tokio::time::timeout(wait, more).await {
            Ok(Ok(more)) => more,
            // The semaphore is never closed; a timeout means the budget stayed spent.
            Ok(Err(_)) | Err(_) => return Err(BudgetFull),
        };
        match &mut self.permit {
            Some(permit) => permit.merge(more),
            None => self.permit = Some(more),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn reservations_add_up_and_come_back_on_drop() {
        let budget = FillBudget::new(10 * 1024);
        let mut first = budget.empty();
        first.grow_to(4000, WAIT).await.unwrap();
        assert_eq!(first.bytes(), 4096, "rounded up to whole units");
        first.grow_to(3000, WAIT).await.unwrap();
        assert_eq!(first.bytes(), 4096, "never shrinks");
        let mut second = budget.empty();
        second.grow_to(6 * 1024, WAIT).await.unwrap();
        assert_eq!(budget.reserved_bytes(), 10 * 1024);
        assert!(!budget.has_room_for(1));
        drop(first);
        assert_eq!(budget.reserved_bytes(), 6 * 1024);
        assert!(budget.has_room_for(4 * 1024) && !budget.has_room_for(4 * 1024 + 1));
    }

    #[tokio::test]
    async fn a_full_budget_makes_fills_wait_then_gives_up() {
        let budget = FillBudget::new(8 * 1024);
        let mut holder = budget.empty();
        holder.grow_to(8 * 1024, WAIT).await.unwrap();
        let mut waiter = budget.empty();
        let short = Duration::from_millis(20);
        assert_eq!(waiter.grow_to(1024, short).await, Err(BudgetFull));
        let waiting = {
            let budget = budget.clone();
            tokio::spawn(async move {
                let mut reservation = budget.empty();
                reservation.grow_to(2048, WAIT).await.map(|()| reservation)
            })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "waits while the budget is spent");
        drop(holder);
        let reservation = waiting.await.unwrap().unwrap();
        assert_eq!(reservation.bytes(), 2048);
    }

    #[tokio::test]
    async fn a_body_larger_than_the_budget_takes_all_of_it() {
        let budget = FillBudget::new(4 * 1024);
        let mut huge = budget.empty();
        huge.grow_to(1 << 30, WAIT).await.unwrap();
        assert_eq!(huge.bytes(), 4 * 1024);
        assert_eq!(budget.reserved_bytes(), budget.total_bytes());
    }
}
