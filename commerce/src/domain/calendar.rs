//! Calendar months on Unix milliseconds (UTC, proleptic Gregorian), for billing periods: a monthly plan that
//! starts on 31 January renews on 28 (or 29) February, then 31 March, counted from its anchor so days never drift.

const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (if month <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let (next_year, next_month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    days_from_civil(next_year, next_month, 1) - days_from_civil(year, month, 1)
}

/// `at` plus `months` calendar months, the day of month clamped to the target month's length; the time of day
/// is kept.
pub fn add_months(at: i64, months: i64) -> i64 {
    let (days, time) = (at.div_euclid(DAY_MS), at.rem_euclid(DAY_MS));
    let (year, month, day) = civil_from_days(days);
    let total = year * 12 + (month - 1) + months;
    let (year, month) = (total.div_euclid(12), total.rem_euclid(12) + 1);
    let day = day.min(days_in_month(year, month));
    days_from_civil(year, month, day) * DAY_MS + time
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(year: i64, month: i64, day: i64) -> i64 {
        days_from_civil(year, month, day) * DAY_MS
    }

    #[test]
    fn months_clamp_to_the_shorter_month_and_keep_the_time_of_day() {
        assert_eq!(at(1970, 1, 1), 0);
        assert_eq!(add_months(at(2025, 1, 31), 1), at(2025, 2, 28));
        assert_eq!(add_months(at(2024, 1, 31), 1), at(2024, 2, 29));
        assert_eq!(add_months(at(2025, 1, 31), 2), at(2025, 3, 31), "counted from the anchor, no drift");
        assert_eq!(add_months(at(2024, 2, 29), 12), at(2025, 2, 28));
        assert_eq!(add_months(at(2025, 12, 15) + 3_600_000, 1), at(2026, 1, 15) + 3_600_000);
    }

    proptest::proptest! {
        #[test]
        fn dates_round_trip_and_months_move_forward(days in -100_000i64..100_000, months in 1i64..600) {
            let (y, m, d) = civil_from_days(days);
            proptest::prop_assert_eq!(days_from_civil(y, m, d), days);
            let start = days * DAY_MS;
            let end = add_months(start, months);
            proptest::prop_assert!(end > start);
            // At least 28 days per month, at most 31.
            proptest::prop_assert!(end - start >= months * 28 * DAY_MS && end - start <= months * 31 * DAY_MS);
        }
    }
}
