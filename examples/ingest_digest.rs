//! Ingest digest: takes a config file; ingests its data and builds the dataset, then prints the
//! ingest report and a digest of what was read: every facility (id, texts, category, position
//! bits, origin, attributes, label, the facility each of its source keys finds), every road,
//! subdistrict and resident, the bounds and the analysis area. Two builds of the software that
//! print the same lines read the same data the same way.
//!
//! ```sh
//! cargo run --release --example ingest_digest -- lifecircle.toml
//! ```
//!
//! With `--timing` it also prints the wall and CPU seconds of ingest and of the dataset stage;
//! with `--timing-only`, only those (to profile the two stages alone).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use lifecircle::config::Config;

/// Feeds formatted text into an xxh3 hash.
struct Digest(xxhash_rust::xxh3::Xxh3);

impl std::fmt::Write for Digest {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}

impl Digest {
    fn new() -> Digest {
        Digest(xxhash_rust::xxh3::Xxh3::new())
    }

    fn hex(&self) -> String {
        format!("{:016x}", self.0.digest())
    }
}

/// CPU seconds (user + system) the process has used so far, on every thread.
fn cpu_s() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn main() {
    lifecircle::tune_allocator();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let timing_only = args.iter().any(|a| a == "--timing-only");
    let timing = timing_only || args.iter().any(|a| a == "--timing");
    let path = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .expect("usage: ingest_digest CONFIG.toml [--timing | --timing-only]");
    let config = Config::load(Some(std::path::Path::new(path))).expect("a valid config");
    let taxonomy = Arc::new(config.taxonomy().expect("taxonomy"));
    let (t, cpu) = (Instant::now(), cpu_s());
    let (layers, report) = lifecircle::ingest::read_all(&config, &taxonomy).expect("ingest");
    let ingest = (t.elapsed().as_secs_f64(), cpu_s() - cpu);
    let (t, cpu) = (Instant::now(), cpu_s());
    let dataset = layers.into_dataset(taxonomy);
    let build = (t.elapsed().as_secs_f64(), cpu_s() - cpu);
    if timing {
        println!(
            "ingest {:.2} s wall {:.2} s CPU; dataset {:.2} s wall {:.2} s CPU",
            ingest.0, ingest.1, build.0, build.1
        );
    }
    if timing_only {
        return;
    }

    print!("{report}");
    println!(
        "rows {} skipped {} out of area {}",
        report.n_facility_rows, report.n_facility_skipped, report.n_facility_out_of_area
    );
    for file in &report.files {
        println!(
            "file {:?} {:?} first skipped {:?} unknown categories {:?} statuses {:?}",
            file.layer, file.source, file.first_skipped, file.unknown_categories, file.statuses
        );
    }

    let mut facilities = Digest::new();
    for (idx, f) in dataset.facilities().iter().enumerate() {
        let idx = idx as u32;
        let _ = writeln!(
            facilities,
            "{} {:?} {:?} {:?} {:?} {:?} {:?} {} {}",
            f.id,
            f.source_id(),
            f.name(),
            f.name_en(),
            f.address(),
            f.subdistrict(),
            f.category,
            f.lon.to_bits(),
            f.lat.to_bits(),
        );
        let _ = writeln!(
            facilities,
            "  origin {:?} attributes {:?} status {:?} serves {:?} label {:?} display {:?}",
            dataset.origin(idx).map(|o| (o.source, o.rule, o.also)),
            dataset.attributes(idx),
            dataset.status(idx),
            dataset.categories_served(idx).collect::<Vec<_>>(),
            dataset.label(f),
            dataset.display_name(f),
        );
        let source = dataset.source_of(f).map(|s| s.name.clone());
        let _ = write!(facilities, "  source {source:?} keys");
        for key in dataset.source_keys(f) {
            let found = dataset.facility_by_source_key(&key).map(|g| g.id);
            let _ = write!(facilities, " {key:?}->{found:?}");
        }
        let _ = writeln!(facilities);
    }
    let mut per_category = Digest::new();
    for (category, _) in dataset.taxonomy.categories() {
        let _ = writeln!(
            per_category,
            "{category:?} {:?} {:?}",
            dataset.facilities_of(category),
            dataset.source_counts(category)
        );
    }
    let mut roads = Digest::new();
    for r in &dataset.roads {
        let coords: Vec<(u64, u64)> = r
            .coords
            .iter()
            .map(|(x, y)| (x.to_bits(), y.to_bits()))
            .collect();
        let _ = writeln!(roads, "{:?} {:?} {coords:?}", r.highway, r.name);
    }
    let mut areas = Digest::new();
    for a in &dataset.areas {
        let _ = writeln!(areas, "{:?} {:?} {:?}", a.name, a.name_en, a.polygon);
    }
    let mut residents = Digest::new();
    for r in &dataset.residents {
        let _ = writeln!(
            residents,
            "{:?} {} {:?} {} {}",
            r.name,
            r.population,
            r.subdistrict,
            r.lon.to_bits(),
            r.lat.to_bits()
        );
    }
    println!(
        "facilities {} digest {}",
        dataset.facilities().len(),
        facilities.hex()
    );
    println!("per category digest {}", per_category.hex());
    println!("roads {} digest {}", dataset.roads.len(), roads.hex());
    println!("areas {} digest {}", dataset.areas.len(), areas.hex());
    println!(
        "residents {} digest {}",
        dataset.residents.len(),
        residents.hex()
    );
    println!(
        "sources {:?}",
        dataset
            .sources
            .iter()
            .map(|s| (&s.name, &s.provider))
            .collect::<Vec<_>>()
    );
    println!(
        "bounds {:?} area {:?} {:?} {}",
        dataset.bounds.map(f64::to_bits),
        dataset.area.source,
        dataset.area.bbox.map(f64::to_bits),
        dataset.area.margin_m
    );
    println!(
        "status counts {:?}",
        lifecircle::attributes::Status::ALL.map(|s| dataset.status_count(s))
    );
}
