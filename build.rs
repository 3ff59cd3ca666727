//! Build script: the npm packages the map page needs (MapLibre GL JS, pinned in
//! `web/package-lock.json`) → their files listed in `web/embed.txt`, embedded in the binary.
//!
//! The packages are installed with `npm ci` into this build's output folder, once per lock file:
//! a later build finds them there and runs no npm. Without npm (or offline) the build still
//! succeeds: it prints a cargo warning saying what is missing and how to add it, and the binary
//! carries that message for the map page (`http::web`). A `web/node_modules` that already holds
//! the pinned versions (from `npm ci --prefix web`) is used when npm cannot run.
//!
//! Gives `$OUT_DIR/web_deps.rs`: `WEB_DEPS` (served path → bytes), `WEB_DEP_VERSIONS` and
//! `WEB_DEPS_MISSING` (the message, or `None`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One line of `web/embed.txt`: a file of an npm package to serve under `/assets/`.
struct EmbedLine {
    package: String,
    /// Path inside the package, e.g. `dist/maplibre-gl.mjs`.
    file: String,
}

impl EmbedLine {
    /// Served at `/assets/{package}/{file without its leading dist/}`.
    fn served_path(&self) -> String {
        let inner = self.file.strip_prefix("dist/").unwrap_or(&self.file);
        format!("{}/{inner}", self.package)
    }
}

fn main() {
    let manifest_dir =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    let web = manifest_dir.join("web");
    for file in ["embed.txt", "package.json", "package-lock.json"] {
        println!("cargo::rerun-if-changed=web/{file}");
    }
    println!("cargo::rerun-if-env-changed=LIFECIRCLE_NPM");

    let lines = read_embed_list(&web.join("embed.txt"));
    let lock = std::fs::read(web.join("package-lock.json")).unwrap_or_default();
    let versions = pinned_versions(&lock, &lines);
    let outcome = find_or_install(&web, &out_dir.join("web-deps"), &lines, &versions, &lock);
    let (root, missing) = match outcome {
        Ok(root) => {
            // The generated source names these files by absolute path: if they go (a moved or
            // pruned target folder), run again rather than fail the build on a missing include.
            for line in &lines {
                let path = root.join(&line.package).join(&line.file);
                println!("cargo::rerun-if-changed={}", path.display());
            }
            (Some(root), None)
        }
        Err(reason) => {
            let message = format!(
                "{reason}. The map page at / needs the files of {} (web/embed.txt); install Node.js \
                 with npm and build again (`cargo build --release`), or set `[web] maplibre_dist` to \
                 a MapLibre GL JS `dist` folder",
                package_names(&lines)
            );
            println!("cargo::warning={message}");
            // Track PATH so that installing npm later makes the next build try again.
            println!("cargo::rerun-if-env-changed=PATH");
            (None, Some(message))
        }
    };
    std::fs::write(
        out_dir.join("web_deps.rs"),
        generated_source(root.as_deref(), &lines, &versions, missing.as_deref()),
    )
    .expect("writing web_deps.rs into OUT_DIR");
}

fn read_embed_list(path: &Path) -> Vec<EmbedLine> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .map(|line| {
            let mut parts = line.split_whitespace();
            let (Some(package), Some(file), None) = (parts.next(), parts.next(), parts.next())
            else {
                panic!(
                    "{}: `{line}` is not `<npm package> <path inside the package>`",
                    path.display()
                );
            };
            EmbedLine {
                package: package.into(),
                file: file.into(),
            }
        })
        .collect()
}

fn package_names(lines: &[EmbedLine]) -> String {
    let mut names: Vec<&str> = lines.iter().map(|l| l.package.as_str()).collect();
    names.dedup();
    names.join(", ")
}

/// Each listed package with the version the lock file pins (`None` when it pins none).
fn pinned_versions(lock: &[u8], lines: &[EmbedLine]) -> Vec<(String, Option<String>)> {
    let lock: serde_json::Value = serde_json::from_slice(lock).unwrap_or_default();
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for line in lines {
        if out.iter().any(|(name, _)| *name == line.package) {
            continue;
        }
        let version = lock["packages"][format!("node_modules/{}", line.package)]["version"]
            .as_str()
            .map(str::to_owned);
        out.push((line.package.clone(), version));
    }
    out
}

/// A `node_modules` folder holding every listed file at the pinned versions: the build's cache,
/// filled by `npm ci` when it lacks them, or else `web/node_modules`.
fn find_or_install(
    web: &Path,
    cache: &Path,
    lines: &[EmbedLine],
    versions: &[(String, Option<String>)],
    lock: &[u8],
) -> Result<PathBuf, String> {
    if let Some((package, _)) = versions.iter().find(|(_, v)| v.is_none()) {
        return Err(format!(
            "web/package-lock.json pins no version of `{package}`"
        ));
    }
    let cached = cache.join("node_modules");
    let lock_copy = cache.join("package-lock.json");
    if std::fs::read(&lock_copy).ok().as_deref() == Some(lock) && complete(&cached, lines, versions)
    {
        return Ok(cached);
    }
    let installed = npm_ci(web, cache);
    if installed.is_ok() && complete(&cached, lines, versions) {
        return Ok(cached);
    }
    let beside = web.join("node_modules");
    if complete(&beside, lines, versions) {
        return Ok(beside);
    }
    Err(match installed {
        Err(reason) => reason,
        Ok(()) => format!(
            "`npm ci` did not install every file web/embed.txt lists (under {})",
            cached.display()
        ),
    })
}

/// Are all listed files there, each package at its pinned version?
fn complete(
    node_modules: &Path,
    lines: &[EmbedLine],
    versions: &[(String, Option<String>)],
) -> bool {
    let versions_match = versions.iter().all(|(package, pinned)| {
        let manifest = std::fs::read(node_modules.join(package).join("package.json"));
        let manifest: serde_json::Value = manifest
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        manifest["version"].as_str() == pinned.as_deref()
    });
    versions_match
        && lines
            .iter()
            .all(|l| node_modules.join(&l.package).join(&l.file).is_file())
}

/// `npm ci` of `web/package.json` and its lock into `cache`; the error says what failed.
fn npm_ci(web: &Path, cache: &Path) -> Result<(), String> {
    std::fs::create_dir_all(cache).map_err(|e| format!("creating {}: {e}", cache.display()))?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(web.join(file), cache.join(file))
            .map_err(|e| format!("copying web/{file}: {e}"))?;
    }
    let npm = std::env::var("LIFECIRCLE_NPM").unwrap_or_else(|_| "npm".into());
    let output = Command::new(&npm)
        .args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ])
        .current_dir(cache)
        .output()
        .map_err(|e| format!("npm could not be run (`{npm}`: {e})"))?;
    if output.status.success() {
        return Ok(());
    }
    // Forget the lock copy so that the next build tries again.
    let _ = std::fs::remove_file(cache.join("package-lock.json"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output");
    Err(format!(
        "`npm ci` of web/package-lock.json failed ({}: {last})",
        output.status
    ))
}

fn generated_source(
    root: Option<&Path>,
    lines: &[EmbedLine],
    versions: &[(String, Option<String>)],
    missing: Option<&str>,
) -> String {
    let mut out = String::from("// Generated by build.rs from web/embed.txt.\n");
    out.push_str("pub const WEB_DEPS: &[(&str, &[u8])] = &[\n");
    if let Some(root) = root {
        for line in lines {
            let path = root.join(&line.package).join(&line.file);
            let _ = writeln!(
                out,
                "    ({:?}, include_bytes!({:?})),",
                line.served_path(),
                path.display().to_string()
            );
        }
    }
    out.push_str("];\npub const WEB_DEP_VERSIONS: &[(&str, &str)] = &[\n");
    if root.is_some() {
        for (package, version) in versions {
            let _ = writeln!(
                out,
                "    ({package:?}, {:?}),",
                version.as_deref().unwrap_or("")
            );
        }
    }
    let _ = writeln!(
        out,
        "];\npub const WEB_DEPS_MISSING: Option<&str> = {missing:?};"
    );
    out
}
