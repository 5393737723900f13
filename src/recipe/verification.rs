//! Verification levels: what the end-to-end suite proved of each recipe on each Debian
//! release. The suite writes them (`record`) into `verification/levels.json` as it proves
//! them on real servers; nobody types them. `chaton recipes list` shows them, and a level
//! recorded for an older version of a recipe (another digest, `Catalogue::digest`) is shown
//! as no longer standing.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The levels as recorded when this binary was built.
const RECORDED: &str = include_str!("../../verification/levels.json");

/// Where the suite writes them, from the project's folder.
pub const FILE: &str = "verification/levels.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// A first apply made the server match the recipe.
    Converged,
    /// A second apply planned nothing and ran one channel.
    Idempotent,
    /// `chaton verify`: converged, and the recipe's checks pass.
    Verified,
    /// A backup of what the service holds was taken, to every repository.
    BackedUp,
    /// A drill and a real restore brought deleted data back.
    Restored,
}

impl Level {
    pub fn label(self) -> &'static str {
        match self {
            Level::Converged => "converged",
            Level::Idempotent => "idempotent",
            Level::Verified => "verified",
            Level::BackedUp => "backed up",
            Level::Restored => "restored",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub recipe: String,
    /// `debian-12`, `debian-13`.
    pub release: String,
    /// The recipe's digest when it was proved.
    pub digest: String,
    /// The upstream software's version the levels were proved with, where the recipe
    /// installs a release of its own (Nextcloud 34.0.1); none for Debian's packages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    pub proved: Vec<Level>,
    /// `YYYY-MM-DD`
    pub date: String,
    /// The end-to-end test that proved it.
    pub test: String,
}

/// The records built into this binary (none if the file is damaged: then nothing is claimed).
pub fn recorded() -> Vec<Record> {
    serde_json::from_str(RECORDED).unwrap_or_default()
}

/// Adds or replaces the records of `records` (by recipe and release) in `path`. For the
/// end-to-end suite, once it has proved them.
pub fn record(path: &Path, records: &[Record]) -> std::io::Result<()> {
    let mut all: Vec<Record> =
        std::fs::read_to_string(path).ok().and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default();
    for new in records {
        match all.iter_mut().find(|r| r.recipe == new.recipe && r.release == new.release) {
            Some(old) => {
                // Levels proved by another test for the same digest stand too.
                let mut proved = if old.digest == new.digest { old.proved.clone() } else { Vec::new() };
                proved.extend(new.proved.iter().copied());
                proved.sort();
                proved.dedup();
                *old = Record { proved, ..new.clone() };
            }
            None => all.push(new.clone()),
        }
    }
    all.sort_by(|a, b| (&a.recipe, &a.release).cmp(&(&b.recipe, &b.release)));
    let text = serde_json::to_string_pretty(&all).map_err(std::io::Error::other)? + "\n";
    let tmp = path.with_extension("json.new");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_of(recipe: &str, digest: &str, proved: &[Level]) -> Record {
        Record {
            recipe: recipe.into(),
            release: "debian-12".into(),
            digest: digest.into(),
            proved: proved.to_vec(),
            date: "2026-11-26".into(),
            test: "t".into(),
            upstream: None,
        }
    }

    #[test]
    fn levels_add_up_for_one_digest_and_start_over_for_another() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("levels.json");
        record(&file, &[record_of("web", "a", &[Level::Converged, Level::Verified])]).unwrap();
        record(&file, &[record_of("web", "a", &[Level::BackedUp]), record_of("base", "b", &[Level::Converged])])
            .unwrap();
        let all: Vec<Record> = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].proved, [Level::Converged, Level::Verified, Level::BackedUp]);
        // The recipe changed: what was proved of the old one no longer counts.
        record(&file, &[record_of("web", "c", &[Level::Converged])]).unwrap();
        let all: Vec<Record> = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(all[1].proved, [Level::Converged]);
    }

    #[test]
    fn the_recorded_levels_read() {
        // A damaged file would silently claim nothing: it must parse.
        assert!(serde_json::from_str::<Vec<Record>>(RECORDED).is_ok());
    }
}
