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
    /// Outside auditors nobody here wrote (ssh-audit, testssl.sh, Lynis) judged the server
    /// and found what the suite requires; their figures are in the record's `audit`.
    Audited,
}

impl Level {
    pub fn label(self) -> &'static str {
        match self {
            Level::Converged => "converged",
            Level::Idempotent => "idempotent",
            Level::Verified => "verified",
            Level::BackedUp => "backed up",
            Level::Restored => "restored",
            Level::Audited => "audited",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub recipe: String,
    /// `debian-12`, `debian-13`.
    pub release: String,
    /// What the levels were proved for (`Catalogue::proof_digest`): the recipe, the recipes
    /// its servers also run, and chaton's code.
    pub digest: String,
    /// The upstream software's version the levels were proved with, where the recipe
    /// installs a release of its own (Nextcloud 34.0.1); none for Debian's packages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// The branches the proof took that a hoster's server may not (`systemd-nspawn
    /// container`, `wireguard-go`, `private ACME CA`): what the levels do not cover.
    #[serde(default)]
    pub conditions: Vec<String>,
    pub proved: Vec<Level>,
    /// The outside auditors' figures behind `audited`. Not compared between runs, as the
    /// date is not: Lynis reads some kernel settings of the lab machine's own kernel through
    /// the container, so its index may differ by a point from one machine to the next,
    /// above the floor the suite requires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<Audit>,
    /// `YYYY-MM-DD`
    pub date: String,
    /// The end-to-end test that proved it: one record per recipe, release and test.
    pub test: String,
}

/// What outside auditors found on a lab server the recipe set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audit {
    /// ssh-audit's failures and warnings ("unknown algorithm" aside).
    pub ssh_audit_problems: usize,
    /// The HTTPS sites testssl.sh scanned, and the findings it rated low or worse.
    pub testssl_sites: usize,
    pub testssl_findings: usize,
    /// Lynis's hardening index (0 to 100) and its warnings.
    pub lynis_index: u32,
    pub lynis_warnings: usize,
}

impl Audit {
    /// One line, in English, for `recipes list`.
    pub fn summary(&self) -> String {
        format!(
            "ssh-audit: {} failure(s) or warning(s); testssl.sh: {} finding(s) on {} site(s); Lynis hardening index {}, {} warning(s)",
            self.ssh_audit_problems, self.testssl_findings, self.testssl_sites, self.lynis_index, self.lynis_warnings
        )
    }
}

/// What stands of a recipe on a release: the levels of every record proved for `digest`,
/// with their upstream versions and conditions. `Err(date)`: records exist, but all for
/// other code (the newest date); `Ok(None)`: never proved.
pub fn standing<'a>(
    records: &'a [Record],
    recipe: &str,
    release: &str,
    digest: &str,
) -> Result<Option<Standing<'a>>, &'a str> {
    let mine: Vec<&Record> = records.iter().filter(|r| r.recipe == recipe && r.release == release).collect();
    let current: Vec<&Record> = mine.iter().copied().filter(|r| r.digest == digest).collect();
    if current.is_empty() {
        return match mine.iter().map(|r| r.date.as_str()).max() {
            Some(date) => Err(date),
            None => Ok(None),
        };
    }
    let mut levels: Vec<Level> = current.iter().flat_map(|r| r.proved.iter().copied()).collect();
    levels.sort();
    levels.dedup();
    let mut upstream: Vec<&str> = current.iter().filter_map(|r| r.upstream.as_deref()).collect();
    upstream.dedup();
    let mut conditions: Vec<&str> = current.iter().flat_map(|r| r.conditions.iter().map(String::as_str)).collect();
    conditions.sort();
    conditions.dedup();
    let audit = current.iter().find_map(|r| r.audit);
    Ok(Some(Standing { levels, upstream, conditions, audit }))
}

pub struct Standing<'a> {
    pub levels: Vec<Level>,
    pub upstream: Vec<&'a str>,
    pub conditions: Vec<&'a str>,
    pub audit: Option<Audit>,
}

/// The records built into this binary (none if the file is damaged: then nothing is claimed).
pub fn recorded() -> Vec<Record> {
    serde_json::from_str(RECORDED).unwrap_or_default()
}

/// Writes `records` into `path`, each replacing whatever the same test recorded of the same
/// recipe on the same release: a re-run replaces, never adds up with an older run. For the
/// end-to-end suite, once it has proved them. (CI starts from an empty file, so the levels of
/// a test that no longer exists disappear, and compares the result with the committed one.)
pub fn record(path: &Path, records: &[Record]) -> std::io::Result<()> {
    let mut all: Vec<Record> =
        std::fs::read_to_string(path).ok().and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default();
    for new in records {
        all.retain(|r| !(r.recipe == new.recipe && r.release == new.release && r.test == new.test));
        let mut new = new.clone();
        new.proved.sort();
        new.proved.dedup();
        all.push(new);
    }
    all.sort_by(|a, b| (&a.recipe, &a.release, &a.test).cmp(&(&b.recipe, &b.release, &b.test)));
    let text = serde_json::to_string_pretty(&all).map_err(std::io::Error::other)? + "\n";
    let tmp = path.with_extension("json.new");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_of(recipe: &str, digest: &str, test: &str, proved: &[Level]) -> Record {
        Record {
            recipe: recipe.into(),
            release: "debian-12".into(),
            digest: digest.into(),
            proved: proved.to_vec(),
            date: "2026-11-26".into(),
            test: test.into(),
            upstream: None,
            conditions: vec!["container".into()],
            audit: None,
        }
    }

    fn read(file: &Path) -> Vec<Record> {
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
    }

    #[test]
    fn a_rerun_replaces_what_the_same_test_proved_and_other_tests_add_up() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("levels.json");
        record(&file, &[record_of("web", "a", "t1", &[Level::Converged, Level::Verified])]).unwrap();
        record(&file, &[record_of("web", "a", "t2", &[Level::BackedUp])]).unwrap();
        let all = read(&file);
        let shown = standing(&all, "web", "debian-12", "a").unwrap().unwrap();
        assert_eq!(shown.levels, [Level::Converged, Level::Verified, Level::BackedUp]);
        // t1 runs again and proves less: its old levels do not linger.
        record(&file, &[record_of("web", "a", "t1", &[Level::Converged])]).unwrap();
        let all = read(&file);
        assert_eq!(all.len(), 2);
        let shown = standing(&all, "web", "debian-12", "a").unwrap().unwrap();
        assert_eq!(shown.levels, [Level::Converged, Level::BackedUp]);
        assert_eq!(shown.conditions, ["container"]);
        // The code changed: nothing stands until it is proved again.
        assert_eq!(standing(&all, "web", "debian-12", "b").err(), Some("2026-11-26"));
        assert!(standing(&all, "base", "debian-12", "a").unwrap().is_none());
    }

    #[test]
    fn the_recorded_levels_read() {
        // A damaged file would silently claim nothing: it must parse.
        assert!(serde_json::from_str::<Vec<Record>>(RECORDED).is_ok());
    }
}
