//! Multipart uploads: an object written in numbered parts over any length of time (and across restarts),
//! visible at its key only once completed. The types the [`ObjectStore`](crate::ObjectStore) multipart methods
//! take and return, and [`PartPlan`], the pure choice of a part size that keeps within S3's limits.

use crate::ObjectKey;

/// S3's smallest allowed part (every part but the last): [`crate::MIN_PART_SIZE`] as a byte count.
pub const MIN_PART_SIZE: u64 = crate::MIN_PART_SIZE as u64;
/// S3's largest allowed part.
pub const MAX_PART_SIZE: u64 = 5 << 30;
/// S3's largest number of parts in one upload.
pub const MAX_PARTS: u64 = 10_000;
/// S3's largest object.
pub const MAX_OBJECT_SIZE: u64 = 5 << 40;
/// The part size a [`PartPlan`] uses when the length allows it: small enough to be held in memory once per
/// upload in progress, large enough that a film is a few hundred requests.
pub const DEFAULT_PLAN_PART_SIZE: u64 = 8 << 20;
/// Part sizes are rounded up to a multiple of this, so they read well in logs.
const PART_SIZE_STEP: u64 = 1 << 20;

/// A multipart upload in progress: the key its object will have and the backend's id for it. Both are plain
/// strings, so the upload can be recorded (in a database) and resumed by another process after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MultipartUpload {
    pub key: ObjectKey,
    pub upload_id: String,
}

/// A stored part: its number (from 1), its size and the backend's tag for its contents (S3's ETag), which
/// [`complete_multipart`](crate::ObjectStore::complete_multipart) checks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UploadedPart {
    pub number: u32,
    pub size: u64,
    pub etag: String,
}

/// Why no [`PartPlan`] exists for a length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{length} bytes is more than the largest object S3 can hold ({MAX_OBJECT_SIZE} bytes, 5 TiB)")]
    TooLarge { length: u64 },
}

/// How an object of a known length is cut into parts: every part is `part_size` bytes but the last, which
/// holds the rest (1 to `part_size` bytes). Chosen so that every part but the last is at least
/// [`MIN_PART_SIZE`], no part is over [`MAX_PART_SIZE`], and there are at most [`MAX_PARTS`] parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartPlan {
    pub length: u64,
    pub part_size: u64,
}

impl PartPlan {
    /// The plan for `length` bytes with parts of [`DEFAULT_PLAN_PART_SIZE`], grown (in whole MiB) only when
    /// the length would otherwise need more than [`MAX_PARTS`] parts.
    pub fn for_length(length: u64) -> Result<Self, PlanError> {
        Self::with_preferred_part_size(length, DEFAULT_PLAN_PART_SIZE)
    }

    /// [`for_length`](Self::for_length) with another preferred part size (clamped to S3's limits).
    pub fn with_preferred_part_size(length: u64, preferred: u64) -> Result<Self, PlanError> {
        if length > MAX_OBJECT_SIZE {
            return Err(PlanError::TooLarge { length });
        }
        let needed = length.div_ceil(MAX_PARTS).div_ceil(PART_SIZE_STEP) * PART_SIZE_STEP;
        let part_size = preferred.clamp(MIN_PART_SIZE, MAX_PART_SIZE).max(needed);
        // 5 TiB / 10 000 rounded up to a MiB is 525 MiB, far below the 5 GiB maximum.
        debug_assert!(part_size <= MAX_PART_SIZE);
        Ok(Self { length, part_size })
    }

    /// How many parts the object has: 0 for an empty object (which is not uploaded in parts at all).
    pub fn part_count(&self) -> u64 {
        self.length.div_ceil(self.part_size)
    }

    /// The byte range of part `number` (from 1), or `None` past the last part.
    pub fn part_range(&self, number: u64) -> Option<std::ops::Range<u64>> {
        if number == 0 || number > self.part_count() {
            return None;
        }
        let start = (number - 1) * self.part_size;
        Some(start..(start + self.part_size).min(self.length))
    }

    /// The number of the part that holds byte `offset`, or `None` at or past the end.
    pub fn part_holding(&self, offset: u64) -> Option<u64> {
        (offset < self.length).then(|| offset / self.part_size + 1)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn ordinary_lengths_use_the_default_part_size() {
        let plan = PartPlan::for_length(100 << 20).unwrap();
        assert_eq!((plan.part_size, plan.part_count()), (DEFAULT_PLAN_PART_SIZE, 13));
        assert_eq!(plan.part_range(13), Some(96 << 20..100 << 20));
        assert_eq!(plan.part_range(14), None);
        assert_eq!(plan.part_range(0), None);
        assert_eq!(PartPlan::for_length(0).unwrap().part_count(), 0);
        assert_eq!(PartPlan::for_length(1).unwrap().part_range(1), Some(0..1));
    }

    #[test]
    fn the_ten_thousand_part_limit_is_never_hit() {
        // 8 MiB × 10 000 = 78.1 GiB: one byte more needs larger parts.
        let at_limit = PartPlan::for_length(DEFAULT_PLAN_PART_SIZE * MAX_PARTS).unwrap();
        assert_eq!((at_limit.part_size, at_limit.part_count()), (DEFAULT_PLAN_PART_SIZE, MAX_PARTS));
        let over = PartPlan::for_length(DEFAULT_PLAN_PART_SIZE * MAX_PARTS + 1).unwrap();
        assert_eq!(over.part_size, DEFAULT_PLAN_PART_SIZE + (1 << 20));
        assert!(over.part_count() <= MAX_PARTS);
        let largest = PartPlan::for_length(MAX_OBJECT_SIZE).unwrap();
        assert_eq!(largest.part_size, 525 << 20);
        assert!(largest.part_count() <= MAX_PARTS);
        assert_eq!(PartPlan::for_length(MAX_OBJECT_SIZE + 1), Err(PlanError::TooLarge { length: MAX_OBJECT_SIZE + 1 }));
    }

    #[test]
    fn preferred_sizes_are_clamped_to_s3s_limits() {
        assert_eq!(PartPlan::with_preferred_part_size(1 << 30, 1).unwrap().part_size, MIN_PART_SIZE);
        assert_eq!(PartPlan::with_preferred_part_size(1 << 30, u64::MAX).unwrap().part_size, MAX_PART_SIZE);
    }

    proptest! {
        #[test]
        fn plans_keep_every_s3_limit(length in prop_oneof![0..=MAX_OBJECT_SIZE, 0u64..(64 << 20)],
                                     preferred in prop_oneof![Just(DEFAULT_PLAN_PART_SIZE), any::<u64>()]) {
            let plan = PartPlan::with_preferred_part_size(length, preferred).unwrap();
            prop_assert!(plan.part_count() <= MAX_PARTS);
            prop_assert!((MIN_PART_SIZE..=MAX_PART_SIZE).contains(&plan.part_size));
            prop_assert!(plan.part_size.is_multiple_of(PART_SIZE_STEP));
            let count = plan.part_count();
            if count > 0 {
                // Parts tile the object: each starts where the previous ended, the last one ends at the length,
                // every part but the last is exactly `part_size`, and the last is not empty.
                let last = plan.part_range(count).unwrap();
                prop_assert_eq!(last.end, length);
                prop_assert!(!last.is_empty() && last.end - last.start <= plan.part_size);
                prop_assert_eq!(last.start, (count - 1) * plan.part_size);
                prop_assert_eq!(plan.part_range(1).unwrap().start, 0);
                prop_assert_eq!(plan.part_holding(length - 1), Some(count));
            }
            prop_assert_eq!(plan.part_range(count + 1), None);
            prop_assert_eq!(plan.part_holding(length), None);
        }

        #[test]
        fn every_byte_lies_in_the_part_that_holds_it(length in 1u64..(1 << 40), at in any::<prop::sample::Index>()) {
            let plan = PartPlan::for_length(length).unwrap();
            let offset = at.index(usize::try_from(length).unwrap_or(usize::MAX)) as u64;
            let number = plan.part_holding(offset).unwrap();
            prop_assert!(plan.part_range(number).unwrap().contains(&offset));
        }

        #[test]
        fn lengths_over_five_tebibytes_have_no_plan(length in (MAX_OBJECT_SIZE + 1)..=u64::MAX) {
            prop_assert_eq!(PartPlan::for_length(length), Err(PlanError::TooLarge { length }));
        }
    }
}
