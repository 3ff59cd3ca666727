//! Facility attributes a source may map besides name and category: floor area (m²), functions
//! (a list), status (`existing`, `under_construction`, `planned`, `closed`) and the year opened
//! or planned. Raw text → typed values, with the values that could not be read reported.
//!
//! Most facilities of real data carry none of these, so the dataset keeps them in a sparse side
//! table ([`crate::dataset::Dataset::attributes`]); a facility without an entry is `existing`
//! and serves only its primary category.

use crate::taxonomy::CategoryId;

/// Where a facility stands in its life: built and open, being built, planned, or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Status {
    #[default]
    Existing,
    UnderConstruction,
    Planned,
    Closed,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Existing,
        Status::UnderConstruction,
        Status::Planned,
        Status::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Existing => "existing",
            Status::UnderConstruction => "under_construction",
            Status::Planned => "planned",
            Status::Closed => "closed",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }

    /// Parses a status as written in a source: the ids above, common English words and the
    /// Chinese values of planning tables (已建/现状, 在建, 规划/拟建, 关闭/停业, …). `None`: not
    /// understood (ingest counts it, `check` lists it, and the facility is taken as existing).
    pub fn parse(text: &str) -> Option<Status> {
        let folded: String = text
            .trim()
            .chars()
            .map(crate::taxonomy::rules::half_width)
            .flat_map(char::to_lowercase)
            .filter(|c| !c.is_whitespace() && *c != '-' && *c != '_')
            .collect();
        if folded.is_empty() {
            return None;
        }
        const EXACT: &[(&str, Status)] = &[
            ("existing", Status::Existing),
            ("exist", Status::Existing),
            ("open", Status::Existing),
            ("opened", Status::Existing),
            ("operational", Status::Existing),
            ("operating", Status::Existing),
            ("active", Status::Existing),
            ("built", Status::Existing),
            ("inuse", Status::Existing),
            ("underconstruction", Status::UnderConstruction),
            ("construction", Status::UnderConstruction),
            ("building", Status::UnderConstruction),
            ("planned", Status::Planned),
            ("proposed", Status::Planned),
            ("plan", Status::Planned),
            ("planning", Status::Planned),
            ("closed", Status::Closed),
            ("close", Status::Closed),
            ("demolished", Status::Closed),
            ("disused", Status::Closed),
            ("abandoned", Status::Closed),
            ("shut", Status::Closed),
        ];
        if let Some((_, status)) = EXACT.iter().find(|(word, _)| *word == folded) {
            return Some(*status);
        }
        // Chinese values, most telling first: 未建成 is planned although it holds 建成, 停业
        // closed although a 营业 is in it.
        const CONTAINS: &[(&str, Status)] = &[
            ("关闭", Status::Closed),
            ("停业", Status::Closed),
            ("歇业", Status::Closed),
            ("停用", Status::Closed),
            ("拆除", Status::Closed),
            ("撤销", Status::Closed),
            ("废弃", Status::Closed),
            ("注销", Status::Closed),
            ("在建", Status::UnderConstruction),
            ("施工", Status::UnderConstruction),
            ("建设中", Status::UnderConstruction),
            ("正在建设", Status::UnderConstruction),
            ("续建", Status::UnderConstruction),
            ("开工", Status::UnderConstruction),
            ("未建", Status::Planned),
            ("规划", Status::Planned),
            ("拟建", Status::Planned),
            ("待建", Status::Planned),
            ("计划", Status::Planned),
            ("新建", Status::Planned),
            ("储备", Status::Planned),
            ("已建", Status::Existing),
            ("建成", Status::Existing),
            ("现状", Status::Existing),
            ("现有", Status::Existing),
            ("保留", Status::Existing),
            ("运营", Status::Existing),
            ("营业", Status::Existing),
            ("开放", Status::Existing),
            ("使用中", Status::Existing),
            ("在用", Status::Existing),
            ("正常", Status::Existing),
        ];
        CONTAINS
            .iter()
            .find(|(word, _)| folded.contains(word))
            .map(|(_, status)| *status)
    }
}

/// A set of statuses (what a request asks to see, or what a scenario counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusSet(u8);

impl StatusSet {
    /// What residents see by default: existing facilities only.
    pub const EXISTING: StatusSet = StatusSet(1);
    pub const ALL: StatusSet = StatusSet(0b1111);

    pub fn of(statuses: &[Status]) -> StatusSet {
        StatusSet(statuses.iter().fold(0, |bits, s| bits | s.bit()))
    }

    pub fn contains(self, status: Status) -> bool {
        self.0 & status.bit() != 0
    }

    pub fn union(self, other: StatusSet) -> StatusSet {
        StatusSet(self.0 | other.0)
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn iter(self) -> impl Iterator<Item = Status> {
        Status::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// `existing,planned` (ids, in the order of [`Status::ALL`]).
    pub fn list(self) -> String {
        self.iter()
            .map(Status::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Parses a `?status=` list: ids separated by commas, or `all`. Empty → error.
    pub fn parse_list(text: &str) -> Result<StatusSet, String> {
        let mut set = StatusSet(0);
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item.eq_ignore_ascii_case("all") {
                return Ok(StatusSet::ALL);
            }
            match Status::ALL.into_iter().find(|s| s.as_str() == item) {
                Some(status) => set.0 |= status.bit(),
                None => {
                    return Err(format!(
                        "unknown status `{item}`; use a comma list of {} (or all)",
                        StatusSet::ALL.list()
                    ));
                }
            }
        }
        if set.0 == 0 {
            return Err(format!(
                "`status` is empty; name at least one of {} (or all)",
                StatusSet::ALL.list()
            ));
        }
        Ok(set)
    }
}

/// A planning scenario: which facilities count as serving residents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scenario {
    /// What stands today (the default everywhere).
    #[default]
    Existing,
    /// Today plus what is under construction.
    Built,
    /// Today, under construction and planned.
    Planned,
}

impl Scenario {
    pub const ALL: [Scenario; 3] = [Scenario::Existing, Scenario::Built, Scenario::Planned];

    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Existing => "existing",
            Scenario::Built => "built",
            Scenario::Planned => "planned",
        }
    }

    pub fn parse(text: &str) -> Result<Scenario, String> {
        Scenario::ALL
            .into_iter()
            .find(|s| s.as_str() == text.trim())
            .ok_or_else(|| {
                format!("unknown scenario `{text}`; use one of existing, built, planned")
            })
    }

    /// The statuses whose facilities serve residents in this scenario.
    pub fn statuses(self) -> StatusSet {
        match self {
            Scenario::Existing => StatusSet::EXISTING,
            Scenario::Built => StatusSet::of(&[Status::Existing, Status::UnderConstruction]),
            Scenario::Planned => {
                StatusSet::of(&[Status::Existing, Status::UnderConstruction, Status::Planned])
            }
        }
    }
}

/// The attributes of one facility that has any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attributes {
    pub floor_area_m2: Option<f64>,
    /// As written in the source, split (see [`split_functions`]).
    pub functions: Vec<String>,
    pub status: Status,
    /// The year opened (existing, closed) or planned (planned, under construction).
    pub year: Option<i32>,
    /// Categories the functions make it also serve, besides its primary category (sorted,
    /// without the primary).
    pub serves: Vec<CategoryId>,
}

impl Attributes {
    /// Whether there is anything to keep (an entry only for such facilities).
    pub fn is_empty(&self) -> bool {
        *self == Attributes::default()
    }
}

/// Splits a functions value on the separators real tables use: `、，,；;/／|` and line breaks.
pub fn split_functions(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in text.split(|c: char| {
        matches!(
            c,
            '、' | '，' | ',' | '；' | ';' | '/' | '／' | '|' | '｜' | '\n' | '\r' | '\t'
        )
    }) {
        let part = part.trim();
        if !part.is_empty() && !out.iter().any(|p| p == part) {
            out.push(part.to_owned());
        }
    }
    out
}

/// Reads a floor area in m²: `1200`, `1,200`, `1200㎡`, `1200 m2`, `1200平方米`, `0.12万`
/// (万 = ×10 000). `None`: not a non-negative number.
pub fn parse_floor_area(text: &str) -> Option<f64> {
    let folded: String = text
        .trim()
        .chars()
        .map(crate::taxonomy::rules::half_width)
        .filter(|c| !c.is_whitespace() && *c != ',')
        .collect();
    let mut rest = folded.as_str();
    for suffix in ["平方米", "平米", "㎡", "m²", "m2", "sqm"] {
        if let Some(stripped) = rest.strip_suffix(suffix) {
            rest = stripped;
            break;
        }
    }
    let (rest, factor) = match rest.strip_suffix('万') {
        Some(stripped) => (stripped, 10_000.0),
        None => (rest, 1.0),
    };
    let value: f64 = rest.parse().ok()?;
    (value.is_finite() && value >= 0.0).then_some(value * factor)
}

/// Reads a year: `2023`, `2023年`, `2023-06-30`, `2023.0` (spreadsheets). `None`: no year from
/// 1800 to 2200 at the start of the text.
pub fn parse_year(text: &str) -> Option<i32> {
    let text = text.trim();
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    if digits.len() != 4 {
        return None;
    }
    let rest = &text[digits.len()..];
    let ok_rest = rest.is_empty()
        || rest.starts_with('年')
        || rest.starts_with('-')
        || rest.starts_with('/')
        || rest.starts_with('.');
    let year: i32 = digits.parse().ok()?;
    (ok_rest && (1800..=2200).contains(&year)).then_some(year)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_chinese_and_english() {
        for (text, status) in [
            ("已建", Status::Existing),
            ("现状", Status::Existing),
            ("现状保留", Status::Existing),
            ("已建成", Status::Existing),
            ("在建", Status::UnderConstruction),
            ("Under construction", Status::UnderConstruction),
            ("under_construction", Status::UnderConstruction),
            ("规划", Status::Planned),
            ("拟建", Status::Planned),
            ("规划新建", Status::Planned),
            ("未建成", Status::Planned),
            ("planned", Status::Planned),
            ("关闭", Status::Closed),
            ("停业", Status::Closed),
            ("停业整顿", Status::Closed),
            ("CLOSED", Status::Closed),
        ] {
            assert_eq!(Status::parse(text), Some(status), "{text}");
        }
        assert_eq!(Status::parse(""), None);
        assert_eq!(Status::parse("待定"), None);
        assert_eq!(Status::parse("unknown"), None);
    }

    #[test]
    fn status_lists_and_scenarios() {
        let set = StatusSet::parse_list("existing, planned").unwrap();
        assert!(set.contains(Status::Planned) && !set.contains(Status::Closed));
        assert_eq!(set.list(), "existing,planned");
        assert_eq!(StatusSet::parse_list("all").unwrap(), StatusSet::ALL);
        assert!(
            StatusSet::parse_list("built")
                .unwrap_err()
                .contains("unknown status `built`")
        );
        assert!(StatusSet::parse_list(" , ").is_err());
        assert!(
            Scenario::Built
                .statuses()
                .contains(Status::UnderConstruction)
        );
        assert!(!Scenario::Built.statuses().contains(Status::Planned));
        assert!(!Scenario::Planned.statuses().contains(Status::Closed));
        assert!(Scenario::parse("now").is_err());
    }

    #[test]
    fn functions_split_on_common_separators() {
        assert_eq!(
            split_functions("助餐、日间照料，卫生服务站;助餐 / 阅览室"),
            ["助餐", "日间照料", "卫生服务站", "阅览室"]
        );
        assert!(split_functions(" 、 ").is_empty());
    }

    #[test]
    fn floor_areas_and_years_parse() {
        assert_eq!(parse_floor_area("1,200"), Some(1200.0));
        assert_eq!(parse_floor_area("1200㎡"), Some(1200.0));
        assert_eq!(parse_floor_area("850.5 m2"), Some(850.5));
        assert_eq!(parse_floor_area("0.12万平方米"), Some(1200.0));
        assert_eq!(parse_floor_area("约1000"), None);
        assert_eq!(parse_floor_area("-5"), None);
        assert_eq!(parse_year("2023"), Some(2023));
        assert_eq!(parse_year("2025年"), Some(2025));
        assert_eq!(parse_year("2021-06-30"), Some(2021));
        assert_eq!(parse_year("2024.0"), Some(2024));
        assert_eq!(parse_year("近期"), None);
        assert_eq!(parse_year("12345"), None);
    }
}
