//! Wall-clock timestamps in the one format Cloudify's API uses: RFC 3339 UTC with
//! milliseconds (`2026-11-24T20:17:55.123Z`), which also sorts correctly as text.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, formatted.
pub fn now() -> String {
    format_millis(now_millis())
}

/// Milliseconds since the epoch.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Milliseconds since the epoch, formatted.
pub fn format_millis(millis: i64) -> String {
    let seconds = millis.div_euclid(1000);
    let millis = millis.rem_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    );
    if !(0..=9999).contains(&year) {
        return format!(
            "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z"
        );
    }
    // Written digit by digit: every event carries a timestamp, and `format!` cost more than
    // the rest of building the event.
    fn digits(text: &mut String, value: i64, width: u32) {
        for place in (0..width).rev() {
            let digit = (value / 10_i64.pow(place) % 10) as u8;
            text.push(char::from(b'0' + digit));
        }
    }
    let mut text = String::with_capacity(24);
    digits(&mut text, year, 4);
    let parts: [(i64, u32, char); 6] = [
        (i64::from(month), 2, '-'),
        (i64::from(day), 2, '-'),
        (hour, 2, 'T'),
        (minute, 2, ':'),
        (second, 2, ':'),
        (millis, 3, '.'),
    ];
    for (value, width, separator) in parts {
        text.push(separator);
        digits(&mut text, value, width);
    }
    text.push('Z');
    text
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::format_millis;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_millis(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(format_millis(1_795_551_475_999), "2026-11-24T20:17:55.999Z");
        assert_eq!(format_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            format_millis(253_402_300_800_000),
            "10000-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn agrees_with_the_general_format() {
        for millis in (0..4_000_000_000_000_i64).step_by(7_777_777_777) {
            let seconds = millis / 1000;
            let (year, month, day) = super::civil_from_days(seconds / 86_400);
            let of_day = seconds % 86_400;
            let expected = format!(
                "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
                of_day / 3600,
                of_day / 60 % 60,
                of_day % 60,
                millis % 1000
            );
            assert_eq!(format_millis(millis), expected);
        }
    }
}
