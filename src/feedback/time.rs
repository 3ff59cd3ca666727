//! Timestamps: unix milliseconds ↔ RFC 3339 text, and the current time.
//!
//! Takes and gives plain integers and strings; the civil-date arithmetic is Howard Hinnant's
//! `days_from_civil` / `civil_from_days` (proleptic Gregorian calendar). Reports are stamped in
//! UTC; clients may filter with any UTC offset (`+08:00` for Shanghai).

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(elapsed) => elapsed.as_millis() as i64,
        Err(before) => -(before.duration().as_millis() as i64),
    }
}

/// Formats unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_rfc3339_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let ms_of_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60);
    let (second, milli) = (ms_of_day / 1000 % 60, ms_of_day % 1000);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z")
}

/// Parses an RFC 3339 timestamp (`2025-05-01T08:30:00Z`, `2025-05-01T08:30:00.25+08:00`) into
/// unix milliseconds; `None` when it is not one. A leap second (`:60`) counts as `:59.999`.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || !text.is_ascii() {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = &text[range];
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let separators_ok = bytes[4] == b'-'
        && bytes[7] == b'-'
        && matches!(bytes[10], b'T' | b't' | b' ')
        && bytes[13] == b':'
        && bytes[16] == b':';
    if !separators_ok {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    let mut milli = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let n_digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n_digits == 0 {
            return None;
        }
        let digits = &fraction[..n_digits];
        milli = format!("{:0<3}", &digits[..n_digits.min(3)]).parse().ok()?;
        rest = &fraction[n_digits..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        _ => {
            let offset = rest.as_bytes();
            if offset.len() != 6 || offset[3] != b':' {
                return None;
            }
            let sign = match offset[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hours: i64 = rest[1..3].parse().ok()?;
            let minutes: i64 = rest[4..6].parse().ok()?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            sign * (hours * 60 + minutes)
        }
    };
    let (second, milli) = if second == 60 {
        (59, 999)
    } else {
        (second, milli)
    };
    let days = days_from_civil(year, month, day);
    let local_ms = ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + milli;
    Some(local_ms - offset_min * 60_000)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected_ms: Option<i64>) {
        assert_eq!(parse_rfc3339_ms(text), expected_ms, "{text}");
    }

    #[test]
    fn parses_rfc3339() {
        check("1970-01-01T00:00:00Z", Some(0));
        check("2000-03-01T00:00:00Z", Some(951_868_800_000));
        check("2025-05-01T08:00:00+08:00", Some(1_746_057_600_000));
        check("2025-05-01T00:00:00Z", Some(1_746_057_600_000));
        check("2025-05-01t00:00:00.5z", Some(1_746_057_600_500));
        check("2025-05-01 00:00:00.123456-01:30", Some(1_746_063_000_123));
        check("1969-12-31T23:59:59.999Z", Some(-1));
        check("2024-02-29T00:00:00Z", Some(1_709_164_800_000));
        check("2016-12-31T23:59:60Z", Some(1_483_228_799_999));
    }

    #[test]
    fn rejects_what_is_not_rfc3339() {
        for text in [
            "",
            "2025-05-01",
            "2025-05-01T00:00:00",
            "2025-05-01T00:00:00+0800",
            "2025-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2025-04-31T00:00:00Z",
            "2025-05-01T24:00:00Z",
            "2025-05-01T00:00:00.Z",
            "2025-05-01T00:00:00ZZ",
            "+025-05-01T00:00:00Z",
            "2025-05-01T00:00:00+24:00",
            "２０２５-05-01T00:00:00Z",
            "yesterday",
        ] {
            check(text, None);
        }
    }

    #[test]
    fn formats_and_round_trips() {
        assert_eq!(format_rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            format_rfc3339_ms(1_746_057_600_500),
            "2025-05-01T00:00:00.500Z"
        );
        for ms in [
            0,
            1,
            -86_400_001,
            951_868_800_000,
            4_102_444_800_000,
            1_709_164_799_999,
        ] {
            assert_eq!(parse_rfc3339_ms(&format_rfc3339_ms(ms)), Some(ms), "{ms}");
        }
        for days in -800_000..800_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
