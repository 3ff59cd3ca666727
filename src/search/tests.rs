//! Search tests on small in-memory datasets: matching, filters, ranking, paging, odd input.

use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::config::Config;
use crate::dataset::{Dataset, Facility, FacilityText};
use crate::taxonomy::Taxonomy;

fn taxonomy() -> Arc<Taxonomy> {
    Arc::new(Config::embedded().unwrap().taxonomy().unwrap())
}

/// `(id, name, name_en, category id, address, subdistrict, lon, lat)`.
type Row<'a> = (
    u64,
    &'a str,
    Option<&'a str>,
    &'a str,
    Option<&'a str>,
    &'a str,
    f64,
    f64,
);

fn dataset(rows: &[Row]) -> Dataset {
    let taxonomy = taxonomy();
    let facilities = rows
        .iter()
        .map(
            |&(id, name, name_en, category, address, subdistrict, lon, lat)| {
                Facility::new(
                    id,
                    taxonomy.by_id(category).expect("known category"),
                    (lon, lat),
                    FacilityText {
                        source_id: &id.to_string(),
                        name,
                        name_en,
                        address,
                    },
                    Some(subdistrict.into()),
                )
            },
        )
        .collect();
    Dataset::new(taxonomy, facilities, Vec::new(), Vec::new(), Vec::new())
}

/// A small Changning-like neighbourhood around (121.42, 31.22).
fn neighbourhood() -> Dataset {
    dataset(&[
        (
            1,
            "华阳社区卫生服务中心",
            Some("Huayang Community Health Centre"),
            "medical",
            Some("长宁区华阳路112号"),
            "华阳路街道",
            121.4230,
            31.2210,
        ),
        (
            2,
            "长宁区华阳路幼儿园",
            Some("Huayang Road Kindergarten"),
            "kindergarten",
            Some("长宁区华阳路50号"),
            "华阳路街道",
            121.4215,
            31.2230,
        ),
        (
            3,
            "仙霞幼儿园",
            Some("Xianxia Kindergarten"),
            "kindergarten",
            Some("长宁区仙霞路200号"),
            "仙霞新村街道",
            121.3900,
            31.2100,
        ),
        (
            4,
            "天山菜市场",
            Some("Tianshan Wet Market"),
            "market",
            Some("长宁区天山路300号"),
            "天山路街道",
            121.4050,
            31.2150,
        ),
        (
            5,
            "全家便利店(仙霞路店)",
            Some("FamilyMart (Xianxia Road)"),
            "supermarket",
            Some("长宁区仙霞路88号"),
            "仙霞新村街道",
            121.3950,
            31.2120,
        ),
        (
            6,
            "益丰大药房(华阳路店)",
            Some("Yifeng Pharmacy (Huayang Road)"),
            "pharmacy",
            Some("长宁区华阳路10号"),
            "华阳路街道",
            121.4240,
            31.2250,
        ),
        (
            7,
            "工商银行ＡＴＭ(天山路)",
            None,
            "bank",
            None,
            "天山路街道",
            121.4060,
            31.2160,
        ),
        (
            8,
            "中山公园",
            Some("Zhongshan Park"),
            "park",
            Some("长宁区长宁路780号"),
            "江苏路街道",
            121.4185,
            31.2235,
        ),
        (
            9,
            "江苏路社区卫生服务中心",
            Some("Jiangsu Road Community Health Centre"),
            "medical",
            Some("长宁区江苏路20号"),
            "江苏路街道",
            121.4300,
            31.2200,
        ),
        (
            10,
            "幼儿园",
            None,
            "kindergarten",
            None,
            "华阳路街道",
            121.4200,
            31.2200,
        ),
        (
            11,
            "虹桥托育园",
            Some("Hongqiao Childcare"),
            "kindergarten",
            None,
            "虹桥街道",
            121.4100,
            31.2000,
        ),
        (
            12,
            "盒马鲜生(长宁店)",
            Some("Freshippo (Changning)"),
            "supermarket",
            Some("长宁区长宁路1018号"),
            "江苏路街道",
            121.4195,
            31.2225,
        ),
    ])
}

fn ids(index: &SearchIndex, dataset: &Dataset, query: &SearchQuery) -> Vec<u64> {
    index
        .search(dataset, query)
        .hits
        .iter()
        .map(|h| dataset.facility(h.facility_idx).id)
        .collect()
}

/// Runs `q` over the neighbourhood and compares the ids of all results, in order.
fn check(q: &str, expected: &[u64]) {
    let data = neighbourhood();
    let index = SearchIndex::build(&data);
    assert_eq!(
        ids(&index, &data, &SearchQuery::text(q, 50)),
        expected,
        "results of {q:?}"
    );
}

/// Like [`check`] with `near`, so that distance orders equal matches.
fn check_near(q: &str, near: (f64, f64), expected: &[u64]) {
    let data = neighbourhood();
    let index = SearchIndex::build(&data);
    let query = SearchQuery {
        near: Some(near),
        ..SearchQuery::text(q, 50)
    };
    assert_eq!(
        ids(&index, &data, &query),
        expected,
        "results of {q:?} near {near:?}"
    );
}

const HOME: (f64, f64) = (121.4200, 31.2220);

#[test]
fn chinese_substrings_match() {
    // 卫生 is inside both centres' names and a medical keyword.
    check_near("卫生", HOME, &[1, 9]);
    check_near("社区卫生", HOME, &[1, 9]);
    check_near("服务中心", HOME, &[1, 9]);
    check("菜市场", &[4]);
    check("鲜生", &[12]);
}

#[test]
fn several_terms_must_all_match() {
    // 华阳 is in 2's name (level 3) and 10's subdistrict (level 1); 3 and 11 are elsewhere.
    check_near("华阳 幼儿园", HOME, &[2, 10]);
    // Run together, the term is split around the keyword.
    check_near("华阳幼儿园", HOME, &[2, 10]);
    check_near("仙霞 便利店", HOME, &[5]);
    check("华阳 公园", &[]);
}

#[test]
fn pinyin_full_spellings_and_initials() {
    // The facility named exactly 幼儿园 is an exact pinyin name match; the others follow by
    // relevance, then distance.
    check_near("youeryuan", HOME, &[10, 2, 11, 3]);
    check_near("yey", HOME, &[10, 2, 11, 3]);
    check_near("zhongshangongyuan", HOME, &[8]);
    check_near("quanjia", HOME, &[5]);
}

#[test]
fn latin_words_match_case_and_width_insensitively() {
    check("pharmacy", &[6]);
    check("PHARMACY", &[6]);
    check("ＰＨＡＲＭＡＣＹ", &[6]);
    check("atm", &[7]);
    check("familymart", &[5]);
    check("Kindergarten", &[2, 3, 10, 11]);
}

#[test]
fn taxonomy_keywords_and_synonyms() {
    // 买菜 is configured for markets and supermarkets; 看病 for medical.
    check_near("买菜", HOME, &[12, 4, 5]);
    check_near("看病", HOME, &[1, 9]);
    check_near("托育", HOME, &[2, 10, 11, 3]);
    check_near("school", HOME, &[]);
}

#[test]
fn with_near_a_name_match_is_a_bounded_bonus() {
    // 10 is exactly "幼儿园" (222 m, less 500 m); 2 has the word in its name (180 m, less
    // 100 m); 11 and 3 are kindergartens by category, by distance.
    check_near("幼儿园", HOME, &[10, 2, 11, 3]);
    // "中山公园" exactly, from 3 km away: the only facility holding both 中山 and 公园.
    check_near("中山公园", (121.39, 31.20), &[8]);
    check_near("全家", (121.43, 31.23), &[5]);
}

#[test]
fn without_near_exact_and_prefix_name_hits_come_first() {
    check("幼儿园", &[10, 2, 3, 11]);
    check("中山公园", &[8]);
    check("全家", &[5]);
}

/// The relevance table of the ranking rule: the same neighbourhood with facilities literally
/// named by a category word 2–6 km away, and one just past the nearest relevant facility.
#[test]
fn category_words_rank_the_nearest_relevant_facility_first() {
    let far = |id: u64, name: &'static str, category: &'static str, lon: f64| -> Row<'static> {
        (id, name, None, category, None, "远处", lon, 31.2220)
    };
    let mut rows: Vec<Row> = vec![
        (
            1,
            "华阳路幼儿园",
            None,
            "kindergarten",
            None,
            "华阳路街道",
            121.4230,
            31.2220,
        ),
        (
            2,
            "小天使托儿所",
            None,
            "kindergarten",
            None,
            "华阳路街道",
            121.4205,
            31.2220,
        ),
        (
            3,
            "益丰大药房",
            None,
            "pharmacy",
            None,
            "华阳路街道",
            121.4260,
            31.2220,
        ),
        (
            4,
            "联华超市",
            None,
            "supermarket",
            None,
            "华阳路街道",
            121.4300,
            31.2220,
        ),
        (
            5,
            "华阳绿地",
            None,
            "park",
            None,
            "华阳路街道",
            121.4250,
            31.2220,
        ),
        // Named exactly 超市, 330 m past 4: within the 500 m bonus.
        (
            6,
            "超市",
            None,
            "other",
            None,
            "华阳路街道",
            121.4335,
            31.2220,
        ),
    ];
    rows.extend([
        far(20, "幼儿园", "other", 121.4800),
        far(21, "药店", "other", 121.4900),
        far(22, "超市", "supermarket", 121.5000),
        far(23, "公园", "kindergarten", 121.3500),
        far(24, "幼儿园", "kindergarten", 121.3600),
    ]);
    let data = dataset(&rows);
    let index = SearchIndex::build(&data);
    let first = |q: &str| -> u64 {
        let query = SearchQuery {
            near: Some(HOME),
            ..SearchQuery::text(q, 1)
        };
        data.facility(index.search(&data, &query).hits[0].facility_idx)
            .id
    };
    // (query, first result): the nearest relevant facility, not the exact name far away.
    let table: &[(&str, u64)] = &[
        ("幼儿园", 2),
        ("youeryuan", 2),
        ("kindergarten", 2),
        ("药店", 3),
        ("pharmacy", 3),
        ("公园", 5),
        // 4 (联华超市) is 952 m away, less 100 m for holding the word; 6, named exactly 超市,
        // 1285 m less 500 m: 785 m.
        ("超市", 6),
    ];
    for &(q, expected) in table {
        assert_eq!(first(q), expected, "first result of {q:?} near HOME");
    }
    // Without near, the exact names come first, as before.
    assert_eq!(ids(&index, &data, &SearchQuery::text("药店", 1)), vec![21]);
}

#[test]
fn unnamed_facilities_are_found_by_category_never_as_name_matches() {
    let data = dataset(&[
        (
            1,
            "",
            None,
            "kindergarten",
            None,
            "华阳路街道",
            121.4201,
            31.2221,
        ),
        (
            2,
            "华阳幼儿园",
            None,
            "kindergarten",
            None,
            "华阳路街道",
            121.4300,
            31.2220,
        ),
        (
            3,
            "",
            None,
            "pharmacy",
            None,
            "华阳路街道",
            121.4202,
            31.2220,
        ),
    ]);
    let index = SearchIndex::build(&data);
    for (q, expected) in [
        ("幼儿园", vec![1, 2]),
        ("yey", vec![1, 2]),
        ("药店", vec![3]),
    ] {
        let query = SearchQuery {
            near: Some(HOME),
            ..SearchQuery::text(q, 10)
        };
        let results = index.search(&data, &query);
        let got: Vec<u64> = results
            .hits
            .iter()
            .map(|h| data.facility(h.facility_idx).id)
            .collect();
        assert_eq!(got, expected, "{q:?}");
        for hit in &results.hits {
            if data.facility(hit.facility_idx).name().is_empty() {
                assert_eq!(hit.name_match, NameMatch::None, "{q:?}");
            }
        }
    }
    // An empty query matches no name either.
    let results = index.search(
        &data,
        &SearchQuery {
            near: Some(HOME),
            ..SearchQuery::text("", 10)
        },
    );
    assert!(results.hits.iter().all(|h| h.name_match == NameMatch::None));
}

#[test]
fn address_and_subdistrict_match_weakly() {
    // 华阳路 is in 1's, 2's and 6's addresses and in 2's and 6's names.
    check_near("华阳路", HOME, &[2, 6, 10, 1]);
}

#[test]
fn distances_are_haversine_and_within_radius() {
    let data = neighbourhood();
    let index = SearchIndex::build(&data);
    let query = SearchQuery {
        near: Some(HOME),
        radius_m: Some(800.0),
        ..SearchQuery::text("", 50)
    };
    let results = index.search(&data, &query);
    assert!(!results.hits.is_empty());
    let mut previous = 0.0;
    for hit in &results.hits {
        let f = data.facility(hit.facility_idx);
        let d = hit.distance_m.unwrap();
        assert_eq!(d, geom::haversine_m(HOME, (f.lon, f.lat)));
        assert!(d <= 800.0 && d >= previous, "{} at {d}", f.name());
        previous = d;
    }
    let inside = data
        .facilities()
        .iter()
        .filter(|f| geom::haversine_m(HOME, (f.lon, f.lat)) <= 800.0)
        .count();
    assert_eq!(results.total, inside);
}

#[test]
fn bbox_excludes_everything_outside() {
    let data = neighbourhood();
    let index = SearchIndex::build(&data);
    let bbox = [121.415, 31.2212, 121.4225, 31.224];
    let query = SearchQuery {
        bbox: Some(bbox),
        ..SearchQuery::text("", 50)
    };
    assert_eq!(ids(&index, &data, &query), vec![2, 8, 12]);
    let query = SearchQuery {
        bbox: Some(bbox),
        near: Some(HOME),
        radius_m: Some(5000.0),
        ..SearchQuery::text("幼儿园", 50)
    };
    assert_eq!(ids(&index, &data, &query), vec![2]);
}

#[test]
fn what_is_near_me_is_nearest_first() {
    let data = neighbourhood();
    let index = SearchIndex::build(&data);
    let kindergarten = data.taxonomy.by_id("kindergarten").unwrap();
    let query = SearchQuery {
        near: Some((121.4, 31.2)),
        categories: vec![kindergarten],
        ..SearchQuery::text("", 2)
    };
    let results = index.search(&data, &query);
    assert_eq!(results.total, 4);
    let got: Vec<u64> = results
        .hits
        .iter()
        .map(|h| data.facility(h.facility_idx).id)
        .collect();
    let mut expected: Vec<(f64, u64)> = data
        .facilities()
        .iter()
        .filter(|f| f.category == kindergarten)
        .map(|f| (geom::haversine_m((121.4, 31.2), (f.lon, f.lat)), f.id))
        .collect();
    expected.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(
        got,
        expected.iter().take(2).map(|e| e.1).collect::<Vec<_>>()
    );
    assert!(results.hits.iter().all(|h| h.relevance.is_none()));
}

#[test]
fn category_filter_and_paging() {
    let data = neighbourhood();
    let index = SearchIndex::build(&data);
    let medical = data.taxonomy.by_id("medical").unwrap();
    let pharmacy = data.taxonomy.by_id("pharmacy").unwrap();
    let query = SearchQuery {
        categories: vec![medical, pharmacy],
        near: Some(HOME),
        ..SearchQuery::text("华阳", 50)
    };
    assert_eq!(ids(&index, &data, &query), vec![1, 6]);
    let all = ids(
        &index,
        &data,
        &SearchQuery {
            near: Some(HOME),
            ..SearchQuery::text("", 50)
        },
    );
    assert_eq!(all.len(), 12);
    let page = SearchQuery {
        near: Some(HOME),
        offset: 4,
        ..SearchQuery::text("", 3)
    };
    assert_eq!(ids(&index, &data, &page), all[4..7].to_vec());
}

#[test]
fn odd_unicode_never_panics() {
    let data = neighbourhood();
    let index = SearchIndex::build(&data);
    for q in [
        "🙂",
        "👨‍👩‍👧 幼儿园",
        "e\u{301}",
        "\u{0}\u{1}\u{7f}",
        "\u{FEFF}卫生",
        "ｙｅｙ",
        "幼\u{200D}儿园",
        "\u{10FFFF}",
        "ǅ",
        "ß",
        "İ",
        "   ",
        "-",
        "'",
        "%",
        "\\",
        "\u{E000}",
        "𠀀",
        "ä",
    ] {
        let results = index.search(
            &data,
            &SearchQuery {
                near: Some(HOME),
                radius_m: Some(3000.0),
                ..SearchQuery::text(q, 10)
            },
        );
        assert!(results.hits.len() <= 10, "{q:?}");
        let _ = index.suggest(&SuggestQuery {
            text: q.into(),
            limit: 5,
        });
    }
    // Width-folded Latin is the same query.
    check("ｙｅｙ", &[10, 2, 3, 11]);
}

#[test]
fn empty_dataset() {
    let data = dataset(&[]);
    let index = SearchIndex::build(&data);
    let results = index.search(
        &data,
        &SearchQuery {
            near: Some(HOME),
            ..SearchQuery::text("", 10)
        },
    );
    assert_eq!(results.total, 0);
    assert!(
        index
            .search(&data, &SearchQuery::text("幼儿园", 10))
            .hits
            .is_empty()
    );
}

#[test]
fn suggestions_complete_characters_and_pinyin() {
    let data = neighbourhood();
    let index = SearchIndex::build(&data);
    let suggest = |q: &str| -> Vec<String> {
        index
            .suggest(&SuggestQuery {
                text: q.into(),
                limit: 5,
            })
            .into_iter()
            .map(|s| s.text.clone())
            .collect()
    };
    assert_eq!(suggest("yey")[0], "幼儿园");
    assert_eq!(suggest("幼")[0], "幼儿园");
    assert!(
        suggest("全").contains(&"全家便利店".to_owned()),
        "{:?}",
        suggest("全")
    );
    assert!(suggest("quanj").contains(&"全家便利店".to_owned()));
    assert_eq!(suggest("phar")[0], "pharmacy");
    assert!(suggest("").is_empty());
    let first = index.suggest(&SuggestQuery {
        text: "yey".into(),
        limit: 1,
    });
    assert_eq!(first[0].kind, SuggestionKind::Category);
    assert_eq!(first[0].category, data.taxonomy.by_id("kindergarten"));
}

#[test]
fn stats_report_memory() {
    let data = neighbourhood();
    let stats = SearchIndex::build(&data).stats();
    assert_eq!(stats.n_docs, 12);
    assert!(stats.n_tokens > 20);
    assert!(stats.memory_bytes > 1000);
}

/// A deterministic scatter of `n` facilities over Changning with names from a few patterns.
fn scatter(n: usize) -> Dataset {
    let places = [
        "华阳",
        "仙霞",
        "天山",
        "虹桥",
        "江苏",
        "新泾",
        "周家桥",
        "程家桥",
    ];
    let kinds = [
        ("社区卫生服务站", "medical"),
        ("幼儿园", "kindergarten"),
        ("菜市场", "market"),
        ("便利店", "supermarket"),
        ("大药房", "pharmacy"),
        ("公园", "park"),
    ];
    let mut rows: Vec<(u64, String, &str, f64, f64)> = Vec::new();
    for i in 0..n {
        let a = (i as f64 * 0.618_033_988_7).fract();
        let b = (i as f64 * 0.414_213_562_3).fract();
        let (kind, category) = kinds[i % kinds.len()];
        let place = places[(i / kinds.len()) % places.len()];
        rows.push((
            i as u64 + 1,
            format!("{place}{kind}"),
            category,
            121.36 + a * 0.1,
            31.18 + b * 0.07,
        ));
    }
    let borrowed: Vec<Row> = rows
        .iter()
        .map(|(id, name, category, lon, lat)| {
            (
                *id,
                name.as_str(),
                None,
                *category,
                None,
                "长宁区",
                *lon,
                *lat,
            )
        })
        .collect();
    dataset(&borrowed)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A radius query returns exactly the unrestricted results that lie within the radius, in
    /// the same order: the grid and posting restrictions lose nothing and add nothing.
    #[test]
    fn radius_results_are_the_unrestricted_results_within_radius(
        lon in 121.35f64..121.47, lat in 31.17f64..31.26, radius_m in 50.0f64..4000.0,
        q_idx in 0usize..7, category_filter in proptest::option::of(0usize..3),
    ) {
        let data = scatter(1500);
        let index = SearchIndex::build(&data);
        let q = ["", "幼儿园", "华阳", "yey", "菜场", "卫生 仙霞", "便利"][q_idx];
        let categories: Vec<_> = category_filter
            .map(|c| vec![data.taxonomy.by_id(["kindergarten", "medical", "market"][c]).unwrap()])
            .unwrap_or_default();
        let unrestricted = SearchQuery {
            near: Some((lon, lat)),
            categories: categories.clone(),
            bbox: Some([121.0, 31.0, 122.0, 32.0]),
            ..SearchQuery::text(q, 100_000)
        };
        let within: Vec<(u32, f64)> = index
            .search(&data, &unrestricted)
            .hits
            .into_iter()
            .filter(|h| h.distance_m.unwrap() <= radius_m)
            .map(|h| (h.facility_idx, h.distance_m.unwrap()))
            .collect();
        let restricted = SearchQuery {
            near: Some((lon, lat)),
            radius_m: Some(radius_m),
            categories,
            ..SearchQuery::text(q, 100_000)
        };
        let results = index.search(&data, &restricted);
        let got: Vec<(u32, f64)> = results.hits.iter().map(|h| (h.facility_idx, h.distance_m.unwrap())).collect();
        prop_assert_eq!(results.total, got.len());
        prop_assert_eq!(got, within);
    }
}

/// The point `distance_m` from `(lon, lat)` along `bearing_deg`, on the sphere.
fn destination((lon, lat): (f64, f64), bearing_deg: f64, distance_m: f64) -> (f64, f64) {
    let d = distance_m / geom::EARTH_RADIUS_M;
    let (phi1, lambda1, theta) = (lat.to_radians(), lon.to_radians(), bearing_deg.to_radians());
    let phi2 = (phi1.sin() * d.cos() + phi1.cos() * d.sin() * theta.cos()).asin();
    let lambda2 =
        lambda1 + (theta.sin() * d.sin() * phi1.cos()).atan2(d.cos() - phi1.sin() * phi2.sin());
    (lambda2.to_degrees(), phi2.to_degrees())
}

proptest! {
    /// The chord test admits exactly the positions haversine puts within the radius, even a
    /// hair either side of it, and orders positions as haversine does.
    #[test]
    fn chord_radius_test_agrees_with_haversine(
        lon in -180.0f64..180.0, lat in -85.0f64..85.0, radius_m in 1.0f64..100_000.0,
        bearing in 0.0f64..360.0, factor in prop_oneof![0.0f64..2.0, 0.999_999_9f64..1.000_000_1],
        bearing2 in 0.0f64..360.0, factor2 in 0.0f64..2.0,
    ) {
        let center = (lon, lat);
        let near = Near::new(center, Some(radius_m));
        let p = destination(center, bearing, radius_m * factor);
        let inside = geom::haversine_m(center, p) <= radius_m;
        prop_assert_eq!(near.within(p).is_some(), inside);
        let q = destination(center, bearing2, radius_m * factor2);
        let unlimited = Near::new(center, None);
        let (cp, cq) = (
            unlimited.within(p).unwrap(),
            unlimited.within(q).unwrap(),
        );
        let (dp, dq) = (geom::haversine_m(center, p), geom::haversine_m(center, q));
        if (dp - dq).abs() > 1e-6 {
            prop_assert_eq!(cp < cq, dp < dq);
        }
    }
}
