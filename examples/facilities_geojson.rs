//! Writes the facilities a configuration loads as newline-delimited GeoJSON (one Feature per
//! line: `id`, `name`, `category`), so other tilers can be timed on the same points:
//!
//! ```sh
//! cargo run --release --example facilities_geojson -- CONFIG OUT.geojsonl
//! ```
//!
//! Used by `scripts/bench_export.sh` to give tippecanoe the points `lifecircle export` tiles.

use std::io::Write;

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        args.len() == 3,
        "usage: facilities_geojson CONFIG OUT.geojsonl"
    );
    let config = lifecircle::config::Config::load(Some(std::path::Path::new(&args[1])))?;
    let snapshot = lifecircle::snapshot::build_with(
        &config,
        1,
        lifecircle::snapshot::BuildOptions::default(),
    )?;
    let dataset = &snapshot.dataset;
    let file = std::fs::File::create(&args[2]).with_context(|| format!("creating {}", args[2]))?;
    let mut out = std::io::BufWriter::new(file);
    for facility in dataset.facilities() {
        let feature = serde_json::json!({
            "type": "Feature",
            "id": facility.id,
            "properties": {
                "id": facility.id,
                "name": facility.name(),
                "category": dataset.taxonomy.category(facility.category).id,
            },
            "geometry": { "type": "Point", "coordinates": [facility.lon, facility.lat] },
        });
        writeln!(out, "{feature}")?;
    }
    out.flush()?;
    println!(
        "{} facilities written to {}",
        dataset.facilities().len(),
        args[2]
    );
    Ok(())
}
