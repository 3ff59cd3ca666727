//! Writes the facilities of a data file as CSV for the comparison benchmarks
//! (`scripts/compare.sh`): one row per facility with its WGS84 position and exactly the
//! properties a facility tile carries (`id`, `name`, `label`/`label_en` when unnamed, `name_en`,
//! `category`, `color`, `group`, `address`; empty cells for absent values), so another tile
//! server can be loaded with the same points and attributes.
//!
//! cargo run --release --example bench_points -- data/city/facilities.fgb OUT.csv

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use lifecircle::config::Config;
use lifecircle::dataset::Dataset;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output] = args.as_slice() else {
        anyhow::bail!("usage: bench_points FACILITIES_FILE OUT.csv");
    };
    let config = Config::embedded().context("built-in configuration")?;
    let taxonomy = Arc::new(config.taxonomy().context("taxonomy")?);
    let (facilities, _) =
        lifecircle::ingest::read_facilities(Path::new(input), &config.data.fields, &taxonomy)
            .with_context(|| format!("reading {input}"))?;
    let dataset = Dataset::new(taxonomy, facilities, vec![], vec![], vec![]);
    let file = std::fs::File::create(output).with_context(|| format!("creating {output}"))?;
    let mut out = csv::Writer::from_writer(std::io::BufWriter::new(file));
    out.write_record([
        "id", "lon", "lat", "name", "label", "label_en", "name_en", "category", "color", "group",
        "address",
    ])?;
    let taxonomy = &dataset.taxonomy;
    for f in dataset.facilities() {
        let category = taxonomy.category(f.category);
        let (label, label_en) = if f.name().is_empty() {
            dataset.label(f)
        } else {
            ("", "")
        };
        out.write_record([
            f.id.to_string().as_str(),
            &format!("{:.9}", f.lon),
            &format!("{:.9}", f.lat),
            f.name(),
            label,
            label_en,
            f.name_en().unwrap_or(""),
            &category.id,
            &category.color,
            &taxonomy.group(category.group).id,
            f.address().unwrap_or(""),
        ])?;
    }
    out.flush()?;
    std::io::stdout().flush()?;
    eprintln!(
        "wrote {} facilities to {output}",
        dataset.facilities().len()
    );
    Ok(())
}
