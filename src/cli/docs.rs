//! `chaton docs`: writes the charter site and reports the charter self-check.

use std::path::Path;

use crate::diagnostic::Diagnostic;
use crate::error::{Error, exit};
use crate::pipeline;

/// Marks a folder as written by `chaton docs`, so a rebuild may replace it.
const MARKER: &str = ".chaton-site";

/// Today, or the day of `SOURCE_DATE_EPOCH` for reproducible builds.
fn today() -> String {
    let seconds = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    });
    crate::engine::utc_timestamp(seconds)[..10].to_owned()
}

pub(super) fn run(
    file: &Path,
    out: Option<&Path>,
    check: bool,
    recipes: Option<&Path>,
    color: bool,
) -> Result<u8, Error> {
    if out.is_none() && !check {
        return Err(Error::Invalid(vec![
            Diagnostic::error("nothing to do")
                .help("give --out DIR to write the site, --check for the charter report, or both"),
        ]));
    }
    let checked = pipeline::check(file, recipes)?;
    super::output::print_diagnostics(&checked.warnings, color);
    let site = crate::site::build(&checked.description, &checked.catalogue, &today())?;
    if let Some(dir) = out {
        write(dir, &site.files)?;
        eprintln!("wrote {} files under {}", site.files.len(), dir.display());
    }
    if check {
        for item in &site.checks {
            let status = match (item.ok, item.required) {
                (true, _) => "ok      ",
                (false, true) => "MISSING ",
                (false, false) => "advice  ",
            };
            println!("{status}{}\n        {}", item.title_en, crate::diagnostic::sanitize(&item.evidence));
        }
        let missing = site.missing().count();
        if missing > 0 {
            eprintln!("{missing} required charter item(s) missing");
            return Ok(exit::ERROR);
        }
        let advice = site.checks.iter().filter(|c| !c.required && !c.ok).count();
        if advice > 0 {
            eprintln!("every required charter item is there; {advice} piece(s) of advice above");
        } else {
            eprintln!("every charter item chaton can check is there");
        }
    }
    Ok(exit::OK)
}

fn write(dir: &Path, files: &std::collections::BTreeMap<String, Vec<u8>>) -> Result<(), Error> {
    let fail = |what: &Path, e: std::io::Error| Error::Output(format!("cannot write {}: {e}", what.display()));
    if dir.exists() && std::fs::read_dir(dir).map_err(|e| fail(dir, e))?.next().is_some() {
        if !dir.join(MARKER).exists() {
            return Err(Error::Output(format!(
                "{} is not empty and was not written by `chaton docs`; choose another --out folder",
                dir.display()
            )));
        }
        std::fs::remove_dir_all(dir).map_err(|e| fail(dir, e))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    std::fs::write(dir.join(MARKER), "").map_err(|e| fail(dir, e))?;
    for (path, bytes) in files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| fail(parent, e))?;
        }
        std::fs::write(&target, bytes).map_err(|e| fail(&target, e))?;
    }
    Ok(())
}
