//! The evaluation report page in headless Chromium (`tests/js/report_page.mjs`), against the
//! real server on the bundled sample: Chinese and English, phone and desktop widths, print media
//! emulated; no console errors, every number equal to `/report.json`, screenshots and an A4 PDF
//! per language written to `target/screenshots/` (test artefacts, git-ignored), beside the map
//! page's.

use crate::node_script;
use crate::support;

pub fn report_matches_its_json_in_a_real_browser() {
    let server = support::spawn("[service_load]\nbelow = 0.05\n");
    let out = support::repo_root().join("target/screenshots");
    let out_text = out.display().to_string();
    let output = node_script(
        "report_page.mjs",
        &["--base", &server.base, "--out", &out_text],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("report_page.mjs printed no report ({e}):\n{stdout}\n{stderr}"));
    assert!(
        output.status.success() && report["ok"] == true,
        "report page test failed: {}\n{stderr}",
        serde_json::to_string_pretty(&report).unwrap()
    );
    for lang in ["zh", "en"] {
        for width in ["phone", "desktop"] {
            let name = format!("report-{lang}-{width}.png");
            let bytes = std::fs::read(out.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(bytes.starts_with(b"\x89PNG"), "{name} is not a PNG");
        }
        let pdf = std::fs::read(out.join(format!("report-{lang}.pdf"))).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
    }
}
