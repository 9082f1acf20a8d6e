//! Calendar arithmetic for the envelope `timestamp` (RFC 3339, UTC,
//! milliseconds) and for rendering Arrow dates as text, without a date crate.

/// The current time as `2026-11-25T10:00:00.123Z`.
pub fn now_rfc3339_millis() -> String {
    rfc3339_millis(now_epoch_millis())
}

/// Milliseconds since the Unix epoch from the system clock.
#[cfg(not(all(target_arch = "wasm32", feature = "wasm")))]
fn now_epoch_millis() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

/// Milliseconds since the Unix epoch from JavaScript's `Date.now()`:
/// `SystemTime::now` panics on wasm32-unknown-unknown.
#[cfg(all(target_arch = "wasm32", feature = "wasm"))]
fn now_epoch_millis() -> i64 {
    js_sys::Date::now() as i64
}

/// Formats milliseconds since the Unix epoch as RFC 3339 UTC with milliseconds.
pub fn rfc3339_millis(epoch_millis: i64) -> String {
    let millis = epoch_millis.rem_euclid(1000);
    let seconds = epoch_millis.div_euclid(1000);
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            second_of_day / 3600,
            second_of_day % 3600 / 60,
            second_of_day % 60
        );
    }
    // Called for every envelope: fill a fixed layout instead of `format!`.
    let mut text = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut value: i64| {
        for position in (at..at + width).rev() {
            text[position] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, i64::from(month));
    put(8, 2, i64::from(day));
    put(11, 2, second_of_day / 3600);
    put(14, 2, second_of_day % 3600 / 60);
    put(17, 2, second_of_day % 60);
    put(20, 3, millis);
    // ASCII digits and separators: one exact allocation, no per-char push.
    std::str::from_utf8(&text).unwrap_or_default().to_owned()
}

/// Formats days since the Unix epoch as `YYYY-MM-DD`.
pub fn iso_date(days: i64) -> String {
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day)
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(1_795_600_800_123),
            "2026-11-25T10:00:00.123Z"
        );
        assert_eq!(rfc3339_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(iso_date(19_723), "2024-01-01");
    }

    #[test]
    fn now_has_the_wire_shape() {
        let now = now_rfc3339_millis();
        assert_eq!(now.len(), 24, "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T' && now.as_bytes()[19] == b'.');
    }
}
