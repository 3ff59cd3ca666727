//! Times, with `jiff`: unix milliseconds ↔ RFC 3339 text, the current time, dates as days
//! since 1970-01-01, and the time zone people read times in.
//!
//! Takes and gives plain integers and strings. What is stored (feedback reports) and what the
//! JSON API answers is UTC (`…Z`); what people read (CSV and GeoJSON exports, the report) is
//! local time with its offset (`…+08:00`) in `server.time_zone` ([`LocalTime`]). The time zone
//! database comes from the system when it has one, else from the copy built into the binary.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

/// Formats unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_rfc3339_ms(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(at) => format!("{at:.3}"),
        // Beyond the years -9999..=9999, which no clock or stored report reaches.
        Err(_) => ms.to_string(),
    }
}

/// Parses a timestamp with a UTC offset (RFC 3339, such as `2025-05-01T08:30:00Z` or
/// `2025-05-01T08:30:00.25+08:00`, and the other ISO 8601 forms jiff reads) into unix
/// milliseconds; `None` when it is not one (a date, or a time without an offset, says no moment).
/// A leap second (`:60`) counts as `:59`.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    text.parse::<Timestamp>()
        .ok()
        .map(Timestamp::as_millisecond)
}

/// Days since 1970-01-01 of a calendar date.
pub fn days_since_epoch(date: Date) -> i64 {
    i64::from(
        date.since(Date::constant(1970, 1, 1))
            .map_or(0, |span| span.get_days()),
    )
}

/// The time zone people read times in, and the times it writes.
#[derive(Debug, Clone)]
pub struct LocalTime {
    name: String,
    zone: TimeZone,
}

impl LocalTime {
    /// The zone of an IANA name (`Asia/Shanghai`, `UTC`); the error says what is wrong.
    pub fn new(name: &str) -> Result<LocalTime, String> {
        let name = name.trim();
        TimeZone::get(name)
            .map(|zone| LocalTime {
                name: name.to_owned(),
                zone,
            })
            .map_err(|e| {
                format!(
                    "unknown time zone `{name}` ({e}); use an IANA time zone name such as \"Asia/Shanghai\" or \"UTC\""
                )
            })
    }

    pub fn utc() -> LocalTime {
        LocalTime {
            name: "UTC".to_owned(),
            zone: TimeZone::UTC,
        }
    }

    /// The IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The local calendar day of unix milliseconds, as days since 1970-01-01: staleness is
    /// counted in the district's days, not UTC's (which start at 08:00 in Shanghai).
    pub fn days_at(&self, ms: i64) -> i64 {
        match Timestamp::from_millisecond(ms) {
            Ok(at) => days_since_epoch(self.zone.to_datetime(at).date()),
            Err(_) => ms.div_euclid(86_400_000),
        }
    }

    /// Today, in [`LocalTime::days_at`]'s days.
    pub fn today_days(&self) -> i64 {
        self.days_at(now_ms())
    }

    /// Formats unix milliseconds as local time with its offset, `YYYY-MM-DDTHH:MM:SS.mmm+08:00`
    /// (the offset of that moment, so summer time shows where the zone has it).
    pub fn format_ms(&self, ms: i64) -> String {
        match Timestamp::from_millisecond(ms) {
            Ok(at) => format!("{:.3}", at.display_with_offset(self.zone.to_offset(at))),
            Err(_) => ms.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected_ms: Option<i64>) {
        assert_eq!(parse_rfc3339_ms(text), expected_ms, "{text}");
    }

    #[test]
    fn local_days_start_at_local_midnight() {
        let shanghai = LocalTime::new("Asia/Shanghai").unwrap();
        let utc = LocalTime::utc();
        // 2025-05-01T20:00:00Z is already 2 May in Shanghai.
        let evening = parse_rfc3339_ms("2025-05-01T20:00:00Z").unwrap();
        assert_eq!(
            utc.days_at(evening),
            days_since_epoch(Date::constant(2025, 5, 1))
        );
        assert_eq!(
            shanghai.days_at(evening),
            days_since_epoch(Date::constant(2025, 5, 2))
        );
        let morning = parse_rfc3339_ms("2025-05-01T15:59:59Z").unwrap();
        assert_eq!(
            shanghai.days_at(morning),
            days_since_epoch(Date::constant(2025, 5, 1))
        );
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
        check("2016-12-31T23:59:60Z", Some(1_483_228_799_000));
    }

    #[test]
    fn rejects_what_is_no_moment() {
        for text in [
            "",
            "2025-05-01",
            "2025-05-01T00:00:00",
            "2025-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2025-04-31T00:00:00Z",
            "2025-05-01T24:00:00Z",
            "2025-05-01T00:00:00.Z",
            "2025-05-01T00:00:00ZZ",
            "+025-05-01T00:00:00Z",
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
    }

    #[test]
    fn days_count_from_1970() {
        assert_eq!(days_since_epoch(Date::constant(1970, 1, 1)), 0);
        assert_eq!(days_since_epoch(Date::constant(1969, 12, 31)), -1);
        assert_eq!(days_since_epoch(Date::constant(2025, 5, 1)), 20_209);
    }

    #[test]
    fn local_time_shows_the_zone_offset() {
        let shanghai = LocalTime::new("Asia/Shanghai").unwrap();
        assert_eq!(
            shanghai.format_ms(1_746_057_600_500),
            "2025-05-01T08:00:00.500+08:00"
        );
        assert_eq!(
            LocalTime::utc().format_ms(1_746_057_600_500),
            "2025-05-01T00:00:00.500+00:00"
        );
        // Summer time: the offset of the moment, not of the zone's standard time.
        let berlin = LocalTime::new("Europe/Berlin").unwrap();
        assert_eq!(
            berlin.format_ms(1_746_057_600_000),
            "2025-05-01T02:00:00.000+02:00"
        );
        assert_eq!(
            berlin.format_ms(1_735_689_600_000),
            "2025-01-01T01:00:00.000+01:00"
        );
        let unknown = LocalTime::new("Mars/Olympus_Mons").unwrap_err();
        assert!(unknown.contains("`Mars/Olympus_Mons`"), "{unknown}");
    }

    /// The built-in copy of the time zone database answers without the system's.
    #[test]
    fn bundled_database_knows_shanghai() {
        let bundled = jiff::tz::TimeZoneDatabase::bundled();
        let zone = bundled.get("Asia/Shanghai").unwrap();
        let at = Timestamp::from_second(1_746_057_600).unwrap();
        assert_eq!(zone.to_offset(at), jiff::tz::offset(8));
    }
}
