//! Validation: typed client input → checked domain values, or an [`Error::Invalid`] naming the
//! field and saying what is accepted.
//!
//! Takes a [`Submission`] and the dataset it refers to and gives a [`NewReport`]; takes the text
//! of a patch or of listing filters and gives a [`Patch`] or a [`Filter`] and [`Page`]. Pure: no
//! IO, no clock.

use crate::config::FeedbackConfig;
use crate::dataset::Dataset;
use crate::geom;
use crate::taxonomy::Taxonomy;

use super::{Error, FacilityRef, Filter, Kind, NewReport, Page, Patch, Status, Submission};
use crate::time;

/// How far, in degrees, a reported location may lie outside the data's bounds (about 10 km).
const LOCATION_MARGIN_DEG: f64 = 0.1;

const MAX_CLIENT_ID_CHARS: usize = 64;

/// Longest piece of a rejected value quoted back in an error message.
const MAX_QUOTED_CHARS: usize = 40;

/// Length limits of the free-text fields.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub max_message_chars: usize,
    pub max_contact_chars: usize,
}

impl From<&FeedbackConfig> for Limits {
    fn from(config: &FeedbackConfig) -> Limits {
        Limits {
            max_message_chars: config.max_message_chars,
            max_contact_chars: config.max_contact_chars,
        }
    }
}

impl Submission {
    /// Checks every field against `dataset` (the snapshot of version `data_version`): the kind is
    /// known, the texts are within `limits` and free of control characters, the facility exists,
    /// the location is a coordinate near the data, and the kind has what it needs (a facility for
    /// `closed`, `wrong_location` and `wrong_info`; a location and no facility for
    /// `missing_facility`).
    pub fn validate(
        self,
        dataset: &Dataset,
        data_version: u64,
        limits: &Limits,
    ) -> Result<NewReport, Error> {
        let kind = Kind::parse(&self.kind).ok_or_else(|| {
            Error::invalid(
                "kind",
                format!(
                    "unknown kind `{}`; expected one of {}",
                    quote(&self.kind),
                    list(&Kind::ALL.map(Kind::as_str))
                ),
            )
        })?;
        let message = text("message", &self.message, limits.max_message_chars, true)?;
        let contact = match self.contact.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(contact) => Some(text("contact", contact, limits.max_contact_chars, false)?),
        };
        let client_id = self.client_id.as_deref().map(client_id).transpose()?;
        let location = self
            .location
            .map(|(lon, lat)| location(lon, lat, dataset.bounds))
            .transpose()?;
        let facility = match self.facility_id {
            None => None,
            Some(id) => {
                let facility = dataset.facility_by_id(id).ok_or_else(|| {
                    Error::invalid("facility_id", format!("no facility with id {id}"))
                })?;
                Some(FacilityRef {
                    id,
                    name: facility.name().to_string(),
                    category: dataset.taxonomy.category(facility.category).id.clone(),
                    lon: facility.lon,
                    lat: facility.lat,
                })
            }
        };
        if kind.needs_facility() && facility.is_none() {
            return Err(Error::invalid(
                "facility_id",
                format!(
                    "a `{}` report must name the facility it is about",
                    kind.as_str()
                ),
            ));
        }
        if kind == Kind::MissingFacility {
            if facility.is_some() {
                return Err(Error::invalid(
                    "facility_id",
                    "a `missing_facility` report is about a facility the map lacks; send its location, not an id",
                ));
            }
            if location.is_none() {
                return Err(Error::invalid(
                    "location",
                    "a `missing_facility` report needs the location of the missing facility",
                ));
            }
        }
        Ok(NewReport {
            kind,
            facility,
            location,
            message,
            contact,
            client_id,
            data_version,
        })
    }
}

impl Patch {
    /// Builds a patch from the status and note a client sent; at least one must be present.
    /// The note is trimmed; an empty note clears it.
    pub fn new(status: Option<&str>, note: Option<&str>, limits: &Limits) -> Result<Patch, Error> {
        if status.is_none() && note.is_none() {
            return Err(Error::invalid(
                "status",
                "nothing to change: send `status`, `note` or both",
            ));
        }
        let status = status
            .map(|s| {
                Status::parse(s).ok_or_else(|| {
                    Error::invalid(
                        "status",
                        format!(
                            "unknown status `{}`; expected one of {}",
                            quote(s),
                            list(&Status::ALL.map(Status::as_str))
                        ),
                    )
                })
            })
            .transpose()?;
        let note = match note.map(str::trim) {
            None => None,
            Some("") => Some(String::new()),
            Some(note) => Some(text("note", note, limits.max_message_chars, true)?),
        };
        Ok(Patch { status, note })
    }
}

/// Listing conditions and paging as text (e.g. from a query string). Absent or empty values
/// set no condition.
#[derive(Debug, Clone, Copy, Default)]
pub struct FilterText<'a> {
    /// Comma-separated statuses.
    pub status: Option<&'a str>,
    /// Comma-separated kinds.
    pub kind: Option<&'a str>,
    /// One facility id.
    pub facility: Option<&'a str>,
    /// Comma-separated category ids.
    pub category: Option<&'a str>,
    /// RFC 3339 timestamps: created at or after `since`, before `until`.
    pub since: Option<&'a str>,
    pub until: Option<&'a str>,
    /// `west,south,east,north` in degrees.
    pub bbox: Option<&'a str>,
    pub limit: Option<&'a str>,
    pub offset: Option<&'a str>,
}

impl FilterText<'_> {
    /// Parses every condition; category ids are checked against `taxonomy`.
    pub fn parse(&self, taxonomy: &Taxonomy) -> Result<(Filter, Page), Error> {
        let mut filter = Filter::default();
        if let Some(text) = given(self.status) {
            filter.statuses = parse_items(
                text,
                "status",
                Status::parse,
                &Status::ALL.map(Status::as_str),
            )?;
        }
        if let Some(text) = given(self.kind) {
            filter.kinds = parse_items(text, "kind", Kind::parse, &Kind::ALL.map(Kind::as_str))?;
        }
        if let Some(text) = given(self.facility) {
            filter.facility_id = Some(text.parse().map_err(|_| {
                Error::invalid(
                    "facility",
                    format!(
                        "`{}` is not a facility id (a non-negative integer)",
                        quote(text)
                    ),
                )
            })?);
        }
        if let Some(text) = given(self.category) {
            let ids = taxonomy
                .parse_list(text)
                .map_err(|reason| Error::invalid("category", reason))?;
            filter.categories = ids
                .into_iter()
                .map(|id| taxonomy.category(id).id.clone())
                .collect();
        }
        filter.since_ms = given(self.since)
            .map(|t| timestamp("since", t))
            .transpose()?;
        filter.until_ms = given(self.until)
            .map(|t| timestamp("until", t))
            .transpose()?;
        if let Some(text) = given(self.bbox) {
            filter.bbox = Some(bbox(text)?);
        }
        let mut page = Page::default();
        if let Some(text) = given(self.limit) {
            page.limit = text
                .parse()
                .ok()
                .filter(|n| (1..=Page::MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    Error::invalid(
                        "limit",
                        format!(
                            "`{}` is not a page size from 1 to {}",
                            quote(text),
                            Page::MAX_LIMIT
                        ),
                    )
                })?;
        }
        if let Some(text) = given(self.offset) {
            page.offset = text
                .parse()
                .ok()
                .filter(|&n| n <= i64::MAX as u64)
                .ok_or_else(|| {
                    Error::invalid(
                        "offset",
                        format!("`{}` is not a non-negative integer", quote(text)),
                    )
                })?;
        }
        Ok((filter, page))
    }
}

/// The trimmed value, unless absent or empty.
fn given(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// Trims `raw` and checks it is non-empty, at most `max_chars` characters and free of control
/// characters (line breaks and tabs allowed when `multiline`).
fn text(
    field: &'static str,
    raw: &str,
    max_chars: usize,
    multiline: bool,
) -> Result<String, Error> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    let n_chars = trimmed.chars().count();
    if n_chars > max_chars {
        return Err(Error::invalid(
            field,
            format!("is {n_chars} characters long; at most {max_chars} are accepted"),
        ));
    }
    let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if let Some((char_idx, c)) = trimmed
        .chars()
        .enumerate()
        .find(|&(_, c)| c.is_control() && !allowed(c))
    {
        return Err(Error::invalid(
            field,
            format!(
                "contains the control character U+{:04X} at character {}",
                c as u32,
                char_idx + 1
            ),
        ));
    }
    Ok(trimmed.to_owned())
}

fn client_id(raw: &str) -> Result<String, Error> {
    let ok = (1..=MAX_CLIENT_ID_CHARS).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(Error::invalid(
            "client_id",
            format!(
                "`{}` is not a client id: 1 to {MAX_CLIENT_ID_CHARS} characters of A-Z, a-z, 0-9, `-`, `_`, `.`, `:` (a UUID fits)",
                quote(raw)
            ),
        ))
    }
}

fn location(lon: f64, lat: f64, bounds: [f64; 4]) -> Result<(f64, f64), Error> {
    if !geom::is_valid_lonlat(lon, lat) {
        return Err(Error::invalid(
            "location",
            format!(
                "({lon}, {lat}) is not a WGS84 coordinate: lon must be from -180 to 180, lat from -90 to 90"
            ),
        ));
    }
    let [west, south, east, north] = bounds;
    let m = LOCATION_MARGIN_DEG;
    if !(west - m..=east + m).contains(&lon) || !(south - m..=north + m).contains(&lat) {
        return Err(Error::invalid(
            "location",
            format!(
                "({lon}, {lat}) is outside the area this map covers ({west:.3}, {south:.3} to {east:.3}, {north:.3}); send (lon, lat) in WGS84"
            ),
        ));
    }
    Ok((lon, lat))
}

fn timestamp(field: &'static str, text: &str) -> Result<i64, Error> {
    time::parse_rfc3339_ms(text).ok_or_else(|| {
        Error::invalid(
            field,
            format!(
                "`{}` is not an RFC 3339 timestamp such as 2025-05-01T00:00:00+08:00",
                quote(text)
            ),
        )
    })
}

fn bbox(text: &str) -> Result<[f64; 4], Error> {
    let bad = || {
        Error::invalid(
            "bbox",
            format!(
                "`{}` is not west,south,east,north in degrees with west <= east and south <= north",
                quote(text)
            ),
        )
    };
    let numbers: Vec<f64> = text
        .split(',')
        .map(|part| part.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let [west, south, east, north] = numbers[..] else {
        return Err(bad());
    };
    if !geom::is_valid_lonlat(west, south)
        || !geom::is_valid_lonlat(east, north)
        || west > east
        || south > north
    {
        return Err(bad());
    }
    Ok([west, south, east, north])
}

/// Parses a comma-separated list of `T`, without duplicates.
fn parse_items<T: PartialEq>(
    text: &str,
    field: &'static str,
    parse: impl Fn(&str) -> Option<T>,
    known: &[&str],
) -> Result<Vec<T>, Error> {
    let mut items = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let item = parse(part).ok_or_else(|| {
            Error::invalid(
                field,
                format!(
                    "unknown {field} `{}`; expected one of {}",
                    quote(part),
                    list(known)
                ),
            )
        })?;
        if !items.contains(&item) {
            items.push(item);
        }
    }
    Ok(items)
}

fn list(items: &[&str]) -> String {
    items.join(", ")
}

/// The start of `text`, for quoting a rejected value back without echoing a huge one.
fn quote(text: &str) -> String {
    if text.chars().count() <= MAX_QUOTED_CHARS {
        text.to_owned()
    } else {
        let head: String = text.chars().take(MAX_QUOTED_CHARS).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::Config;
    use crate::dataset::{Facility, FacilityText};

    fn dataset() -> Dataset {
        let taxonomy = Arc::new(Config::embedded().unwrap().taxonomy().unwrap());
        let facility = |id: u64, category: &str, lon: f64, lat: f64| {
            Facility::new(
                id,
                taxonomy.by_id(category).unwrap(),
                (lon, lat),
                FacilityText {
                    source_id: &id.to_string(),
                    name: &format!("设施 {id}"),
                    name_en: None,
                    address: None,
                },
                None,
            )
        };
        let facilities = vec![
            facility(7, "market", 121.40, 31.21),
            facility(8, "medical", 121.42, 31.22),
        ];
        Dataset::new(taxonomy, facilities, vec![], vec![], vec![])
    }

    const LIMITS: Limits = Limits {
        max_message_chars: 20,
        max_contact_chars: 10,
    };

    fn submission(kind: &str) -> Submission {
        Submission {
            kind: kind.into(),
            message: "  菜场已经关门了  ".into(),
            facility_id: Some(7),
            ..Submission::default()
        }
    }

    /// Validates `submission` and checks the error names `field` (or that it passes).
    fn check(submission: Submission, field: Option<&str>) {
        let result = submission.clone().validate(&dataset(), 3, &LIMITS);
        match (result, field) {
            (Ok(_), None) => {}
            (Err(Error::Invalid { field: got, reason }), Some(want)) => {
                assert_eq!(got, want, "{submission:?}: {reason}")
            }
            (other, _) => panic!("{submission:?}: expected {field:?}, got {other:?}"),
        }
    }

    #[test]
    fn a_good_report_is_trimmed_and_refers_to_the_facility_as_it_is() {
        let report = Submission {
            contact: Some(" 138 ".into()),
            client_id: Some("3f2c-11:a.b_c".into()),
            ..submission("closed")
        }
        .validate(&dataset(), 3, &LIMITS)
        .unwrap();
        assert_eq!(report.message, "菜场已经关门了");
        assert_eq!(report.contact.as_deref(), Some("138"));
        assert_eq!(report.data_version, 3);
        let facility = report.facility.unwrap();
        assert_eq!(
            (
                facility.id,
                facility.category.as_str(),
                facility.name.as_str()
            ),
            (7, "market", "设施 7")
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        check(submission("closed"), None);
        check(submission("permanently_closed"), Some("kind"));
        check(submission("Closed"), Some("kind"));
        check(
            Submission {
                message: " \n\t ".into(),
                ..submission("closed")
            },
            Some("message"),
        );
        check(
            Submission {
                message: "长".repeat(21),
                ..submission("closed")
            },
            Some("message"),
        );
        check(
            Submission {
                message: "长".repeat(20),
                ..submission("closed")
            },
            None,
        );
        check(
            Submission {
                message: "a\u{0}b".into(),
                ..submission("closed")
            },
            Some("message"),
        );
        check(
            Submission {
                message: "a\u{1b}[31mb".into(),
                ..submission("closed")
            },
            Some("message"),
        );
        check(
            Submission {
                message: "line\r\nline\tx".into(),
                ..submission("closed")
            },
            None,
        );
        check(
            Submission {
                contact: Some("12345678901".into()),
                ..submission("closed")
            },
            Some("contact"),
        );
        check(
            Submission {
                contact: Some("a\nb".into()),
                ..submission("closed")
            },
            Some("contact"),
        );
        check(
            Submission {
                contact: Some("   ".into()),
                ..submission("closed")
            },
            None,
        );
        check(
            Submission {
                client_id: Some(String::new()),
                ..submission("closed")
            },
            Some("client_id"),
        );
        check(
            Submission {
                client_id: Some("a b".into()),
                ..submission("closed")
            },
            Some("client_id"),
        );
        check(
            Submission {
                client_id: Some("x".repeat(65)),
                ..submission("closed")
            },
            Some("client_id"),
        );
        check(
            Submission {
                facility_id: Some(9),
                ..submission("closed")
            },
            Some("facility_id"),
        );
        check(
            Submission {
                facility_id: None,
                ..submission("closed")
            },
            Some("facility_id"),
        );
        check(
            Submission {
                facility_id: None,
                ..submission("wrong_info")
            },
            Some("facility_id"),
        );
        check(
            Submission {
                facility_id: None,
                ..submission("suggestion")
            },
            None,
        );
        check(
            Submission {
                location: Some((181.0, 31.2)),
                ..submission("wrong_location")
            },
            Some("location"),
        );
        check(
            Submission {
                location: Some((121.4, f64::NAN)),
                ..submission("wrong_location")
            },
            Some("location"),
        );
        check(
            Submission {
                location: Some((31.2, 121.4)),
                ..submission("wrong_location")
            },
            Some("location"),
        );
        check(
            Submission {
                location: Some((0.0, 0.0)),
                ..submission("wrong_location")
            },
            Some("location"),
        );
        check(
            Submission {
                location: Some((121.45, 31.25)),
                ..submission("wrong_location")
            },
            None,
        );
        check(
            Submission {
                facility_id: None,
                ..submission("missing_facility")
            },
            Some("location"),
        );
        check(
            Submission {
                location: Some((121.41, 31.2)),
                ..submission("missing_facility")
            },
            Some("facility_id"),
        );
        check(
            Submission {
                facility_id: None,
                location: Some((121.41, 31.2)),
                ..submission("missing_facility")
            },
            None,
        );
    }

    #[test]
    fn long_rejected_values_are_not_echoed_whole() {
        let err = submission(&"x".repeat(10_000))
            .validate(&dataset(), 1, &LIMITS)
            .unwrap_err();
        assert!(err.to_string().len() < 300, "{err}");
    }

    #[test]
    fn patches() {
        assert!(matches!(
            Patch::new(None, None, &LIMITS),
            Err(Error::Invalid {
                field: "status",
                ..
            })
        ));
        assert!(matches!(
            Patch::new(Some("done"), None, &LIMITS),
            Err(Error::Invalid {
                field: "status",
                ..
            })
        ));
        assert!(matches!(
            Patch::new(None, Some(&"n".repeat(21)), &LIMITS),
            Err(Error::Invalid { field: "note", .. })
        ));
        assert_eq!(
            Patch::new(Some("in_progress"), Some("  "), &LIMITS).unwrap(),
            Patch {
                status: Some(Status::InProgress),
                note: Some(String::new())
            }
        );
    }

    fn check_filter(text: FilterText<'_>, expected: Result<(Filter, Page), &str>) {
        let taxonomy = Config::embedded().unwrap().taxonomy().unwrap();
        match (text.parse(&taxonomy), expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{text:?}"),
            (Err(Error::Invalid { field, .. }), Err(want)) => assert_eq!(field, want, "{text:?}"),
            (got, want) => panic!("{text:?}: expected {want:?}, got {got:?}"),
        }
    }

    #[test]
    fn filters() {
        check_filter(
            FilterText::default(),
            Ok((Filter::default(), Page::default())),
        );
        check_filter(
            FilterText {
                status: Some("open, in_progress,open"),
                kind: Some("closed"),
                facility: Some("7"),
                category: Some("market,medical"),
                since: Some("2025-05-01T00:00:00+08:00"),
                until: Some(""),
                bbox: Some("121.3,31.1,121.5,31.3"),
                limit: Some("20"),
                offset: Some("40"),
            },
            Ok((
                Filter {
                    statuses: vec![Status::Open, Status::InProgress],
                    kinds: vec![Kind::Closed],
                    facility_id: Some(7),
                    categories: vec!["medical".into(), "market".into()],
                    since_ms: Some(1_746_028_800_000),
                    until_ms: None,
                    bbox: Some([121.3, 31.1, 121.5, 31.3]),
                },
                Page {
                    limit: 20,
                    offset: 40,
                },
            )),
        );
        let bad = |text: FilterText<'static>, field| check_filter(text, Err(field));
        bad(
            FilterText {
                status: Some("opened"),
                ..FilterText::default()
            },
            "status",
        );
        bad(
            FilterText {
                kind: Some("closed,nope"),
                ..FilterText::default()
            },
            "kind",
        );
        bad(
            FilterText {
                facility: Some("-1"),
                ..FilterText::default()
            },
            "facility",
        );
        bad(
            FilterText {
                category: Some("markets"),
                ..FilterText::default()
            },
            "category",
        );
        bad(
            FilterText {
                since: Some("2025-05-01"),
                ..FilterText::default()
            },
            "since",
        );
        bad(
            FilterText {
                until: Some("now"),
                ..FilterText::default()
            },
            "until",
        );
        bad(
            FilterText {
                bbox: Some("1,2,3"),
                ..FilterText::default()
            },
            "bbox",
        );
        bad(
            FilterText {
                bbox: Some("3,2,1,4"),
                ..FilterText::default()
            },
            "bbox",
        );
        bad(
            FilterText {
                bbox: Some("1,2,3,NaN"),
                ..FilterText::default()
            },
            "bbox",
        );
        bad(
            FilterText {
                limit: Some("0"),
                ..FilterText::default()
            },
            "limit",
        );
        bad(
            FilterText {
                limit: Some("10001"),
                ..FilterText::default()
            },
            "limit",
        );
        bad(
            FilterText {
                offset: Some("x"),
                ..FilterText::default()
            },
            "offset",
        );
    }
}
