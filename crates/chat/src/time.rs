//! RFC 3339 formatting of unix timestamps, without a date-time crate.
//!
//! Only one direction is needed (seconds -> `YYYY-MM-DDTHH:MM:SSZ`, for a
//! session's `expires_at`), which is a few lines of integer arithmetic and
//! not worth a dependency in a WebAssembly component.

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day).
///
/// The calendar is shifted to start on March 1st, so the leap day is the
/// last day of the shifted year and every month length except February's is
/// fixed; the year is then split into 400-year eras of exactly 146097 days,
/// within which all arithmetic is on non-negative numbers.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // 719468 days lie between 0000-03-01 and 1970-01-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    // Year of era, 0..=399: remove the extra day of every 4th year, add back
    // the one of every 100th and remove it again for the 400th (the era end).
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of (March) year, 0..=365
    // Months from March have lengths 31,30,31,30,31 repeating; 153 days per
    // five months gives the month from the day of year by linear interpolation.
    let mp = (5 * doy + 2) / 153; // 0 = March .. 11 = February
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats unix seconds as an RFC 3339 UTC timestamp (`2026-11-28T04:06:08Z`).
///
/// Inputs are clamped to years 0000..=9999, the range RFC 3339 can express;
/// real timestamps never come near the bounds, and clamping keeps the output
/// well-formed (and the function panic-free) for absurd configured TTLs.
pub fn rfc3339_utc(unix: i64) -> String {
    const MIN: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    let unix = unix.clamp(MIN, MAX);
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(1_795_838_768), "2026-11-28T04:06:08Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(951_868_799), "2000-02-29T23:59:59Z");
        assert_eq!(rfc3339_utc(951_868_800), "2000-03-01T00:00:00Z");
        assert_eq!(rfc3339_utc(4_107_542_400), "2100-03-01T00:00:00Z");
        assert_eq!(rfc3339_utc(4_107_542_399), "2100-02-28T23:59:59Z");
        assert_eq!(rfc3339_utc(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339_utc(1_709_164_800), "2024-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_735_689_599), "2024-12-31T23:59:59Z");
    }

    #[test]
    fn clamps_extremes() {
        assert_eq!(rfc3339_utc(i64::MAX), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339_utc(i64::MIN), "0000-01-01T00:00:00Z");
    }

    #[test]
    fn every_day_is_consecutive() {
        // Walk ~800 years day by day: each date must follow the previous one.
        let mut prev = civil_from_days(-200_000);
        for days in -199_999..100_000 {
            let cur = civil_from_days(days);
            let next_month = (prev.0, prev.1 + 1, 1);
            let next_year = (prev.0 + 1, 1, 1);
            assert!(
                cur == (prev.0, prev.1, prev.2 + 1) || cur == next_month || cur == next_year,
                "{prev:?} -> {cur:?}"
            );
            assert!(cur.2 <= 31 && (1..=12).contains(&cur.1));
            prev = cur;
        }
    }
}
