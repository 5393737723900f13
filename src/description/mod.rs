//! Stage 1: the hoster description. `load` reads and types `hoster.yml`; `crate::validate` checks
//! what types cannot (references, uniqueness, formats) and reports every problem at once.

pub mod model;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostic::Diagnostic;
use crate::source::SourceFile;
pub use crate::yaml::locate::Locations;
pub use model::Hoster;

/// A parsed description, with what is needed to point back into its text.
#[derive(Debug)]
pub struct Description {
    pub hoster: Hoster,
    pub source: Arc<SourceFile>,
    pub locations: Locations,
    /// Folder of the description: relative paths in it (recipes_dir, logo) start here.
    pub dir: PathBuf,
    /// Date of the last successful restore drill per service, from `backup-drills.json`
    /// next to the description (written by `chaton backup drill`).
    pub drills: BTreeMap<String, String>,
}

/// The record of restore drills, next to the description: the hoster commits it, and the
/// infrastructure page states it.
pub const DRILLS_FILE: &str = "backup-drills.json";

/// Reads and parses a description file. A syntax error stops it; type, value and key
/// problems are all reported, each with its position; semantic problems are `validate`'s.
pub fn load(path: &Path) -> Result<Description, Vec<Diagnostic>> {
    match load_for_check(path)? {
        (description, problems, _) if problems.is_empty() => Ok(description),
        (_, problems, _) => Err(problems),
    }
}

/// For `check`: the description, and when it has type, value or key problems, those
/// problems with the description read without the faulty parts (and their field paths),
/// so the semantic checks can report the rest in the same run. `Err`: nothing could be
/// read (the file, its syntax).
pub fn load_for_check(path: &Path) -> Result<(Description, Vec<Diagnostic>, Vec<String>), Vec<Diagnostic>> {
    let source = crate::yaml::read_source(path).map_err(|d| vec![d])?;
    read_for_check(path, source)
}

/// `load_for_check` for a description's `text` not yet written to `path` (a change
/// `chaton move` checks before it writes it).
pub fn load_text_for_check(
    path: &Path,
    text: String,
) -> Result<(Description, Vec<Diagnostic>, Vec<String>), Vec<Diagnostic>> {
    let source = crate::yaml::text_from_bytes(path.display().to_string(), text.into_bytes()).map_err(|d| vec![d])?;
    read_for_check(path, source)
}

type ForCheck = (Description, Vec<Diagnostic>, Vec<String>);

fn read_for_check(path: &Path, source: Arc<SourceFile>) -> Result<ForCheck, Vec<Diagnostic>> {
    let (hoster, problems, taken_out) = match crate::yaml::parse_all::<Hoster>(&source) {
        Ok(hoster) => (hoster, Vec::new(), Vec::new()),
        Err(crate::yaml::Partial { problems, repaired: Some((hoster, taken_out)) }) => (hoster, problems, taken_out),
        Err(crate::yaml::Partial { problems, repaired: None }) => return Err(problems),
    };
    let locations = Locations::index(&source.text);
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let drills = read_drills(&dir).map_err(|d| vec![*d])?;
    Ok((Description { hoster, source, locations, dir, drills }, problems, taken_out))
}

fn read_drills(dir: &Path) -> Result<BTreeMap<String, String>, Box<Diagnostic>> {
    let path = dir.join(DRILLS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(Box::new(Diagnostic::error(format!("cannot read {}: {e}", path.display())))),
    };
    serde_json::from_str(&text).map_err(|e| {
        Box::new(
            Diagnostic::error(format!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))
                .help("`chaton backup drill` writes this file: a JSON object, service name → date"),
        )
    })
}
