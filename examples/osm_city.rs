//! Writes a generated data set (`lifecircle-generate`) as OpenStreetMap XML, for benchmarking
//! `lifecircle import osm` on a city-sized extract:
//!
//! ```sh
//! cargo run --release -p lifecircle-generate -- --preset shanghai --facilities 200000 --out data/city
//! cargo run --release --example osm_city -- data/city data/city.osm
//! osmium cat -O -o data/city.osm.pbf data/city.osm
//! /usr/bin/time -v target/release/lifecircle import osm data/city.osm.pbf --out data/city-osm
//! ```
//!
//! Streets become ways sharing nodes where the generated segments share endpoints; facilities
//! become tagged nodes (a tag the import's default rules put back in the same category);
//! subdistricts become `boundary=administrative` relations (admin_level 8) of one closed way.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use lifecircle::config::Config;

/// The OSM tag standing for each category of the built-in taxonomy.
const CATEGORY_TAGS: &[(&str, &str, &str)] = &[
    ("education", "amenity", "school"),
    ("kindergarten", "amenity", "kindergarten"),
    ("medical", "amenity", "clinic"),
    ("pharmacy", "amenity", "pharmacy"),
    ("elderly", "social_facility", "nursing_home"),
    ("market", "amenity", "marketplace"),
    ("supermarket", "shop", "supermarket"),
    ("park", "leisure", "park"),
    ("sport", "leisure", "sports_centre"),
    ("culture", "amenity", "library"),
    ("community_service", "amenity", "townhall"),
    ("bank", "amenity", "bank"),
    ("transit", "highway", "bus_stop"),
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

struct Nodes {
    ids: HashMap<(i64, i64), i64>,
    out: Vec<(i64, i64, i64)>,
}

impl Nodes {
    fn id(&mut self, (lon, lat): (f64, f64)) -> i64 {
        let key = ((lon * 1e7).round() as i64, (lat * 1e7).round() as i64);
        let next = self.out.len() as i64 + 1;
        *self.ids.entry(key).or_insert_with(|| {
            self.out.push((next, key.0, key.1));
            next
        })
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(args.len() == 3, "usage: osm_city DATA_DIR OUT.osm");
    let dir = PathBuf::from(&args[1]);
    let config = Config::embedded()?;
    let taxonomy = config.taxonomy()?;
    let (facilities, _) = lifecircle::ingest::read_facilities(
        &dir.join("facilities.fgb"),
        &config.data.fields,
        &taxonomy,
    )?;
    let (roads, _) = lifecircle::ingest::read_roads(&dir.join("roads.fgb"))?;
    let (areas, _) = lifecircle::ingest::read_areas(&dir.join("subdistricts.fgb"))?;

    let mut nodes = Nodes {
        ids: HashMap::new(),
        out: Vec::new(),
    };
    let way_refs: Vec<Vec<i64>> = roads
        .iter()
        .map(|r| r.coords.iter().map(|&c| nodes.id(c)).collect())
        .collect();
    let area_refs: Vec<Vec<i64>> = areas
        .iter()
        .map(|a| {
            let ring = a.polygon.0[0].exterior();
            ring.0.iter().map(|c| nodes.id((c.x, c.y))).collect()
        })
        .collect();

    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&args[2])?);
    writeln!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<osm version=\"0.6\" generator=\"lifecircle osm_city\">"
    )?;
    for &(id, lon, lat) in &nodes.out {
        writeln!(
            out,
            "<node id=\"{id}\" version=\"1\" lat=\"{:.7}\" lon=\"{:.7}\"/>",
            lat as f64 * 1e-7,
            lon as f64 * 1e-7
        )?;
    }
    let first_facility = nodes.out.len() as i64 + 1;
    for (i, f) in facilities.iter().enumerate() {
        let category = &taxonomy.category(f.category).id;
        let Some(&(_, key, value)) = CATEGORY_TAGS.iter().find(|(c, _, _)| c == category) else {
            continue;
        };
        write!(
            out,
            "<node id=\"{}\" version=\"1\" lat=\"{:.7}\" lon=\"{:.7}\"><tag k=\"{key}\" v=\"{value}\"/>",
            first_facility + i as i64,
            f.lat,
            f.lon
        )?;
        if !f.name().is_empty() {
            write!(out, "<tag k=\"name\" v=\"{}\"/>", escape(f.name()))?;
        }
        writeln!(out, "</node>")?;
    }
    for (i, (road, refs)) in roads.iter().zip(&way_refs).enumerate() {
        write!(out, "<way id=\"{}\" version=\"1\">", i + 1)?;
        for r in refs {
            write!(out, "<nd ref=\"{r}\"/>")?;
        }
        write!(out, "<tag k=\"highway\" v=\"{}\"/>", escape(&road.highway))?;
        if let Some(name) = &road.name {
            write!(out, "<tag k=\"name\" v=\"{}\"/>", escape(name))?;
        }
        writeln!(out, "</way>")?;
    }
    let first_area_way = roads.len() + 1;
    for (i, refs) in area_refs.iter().enumerate() {
        write!(out, "<way id=\"{}\" version=\"1\">", first_area_way + i)?;
        for r in refs {
            write!(out, "<nd ref=\"{r}\"/>")?;
        }
        writeln!(out, "</way>")?;
    }
    for (i, area) in areas.iter().enumerate() {
        writeln!(
            out,
            "<relation id=\"{}\" version=\"1\"><member type=\"way\" ref=\"{}\" role=\"outer\"/>\
             <tag k=\"type\" v=\"boundary\"/><tag k=\"boundary\" v=\"administrative\"/>\
             <tag k=\"admin_level\" v=\"8\"/><tag k=\"name\" v=\"{}\"/></relation>",
            i + 1,
            first_area_way + i,
            escape(&area.name)
        )?;
    }
    writeln!(out, "</osm>")?;
    out.flush()?;
    println!(
        "{} nodes, {} facility nodes, {} street ways, {} subdistricts",
        nodes.out.len(),
        facilities.len(),
        roads.len(),
        areas.len()
    );
    Ok(())
}
