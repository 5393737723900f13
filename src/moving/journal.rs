//! How far a move went, kept next to the description in `moves/SERVICE/journal.json`, so a
//! move cut off at any point (a lost connection, a kill -9) resumes where it stopped, or is
//! rolled back; and, once done, what the old server still holds for `chaton move --purge`.
//!
//! Written atomically (a temporary file renamed over it) in a folder only its owner reads:
//! the data in transit sits next to it.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Step;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub service: String,
    pub from: String,
    pub to: String,
    /// The steps finished, in order.
    pub done: Vec<Step>,
    /// The paths the export found on the old server (those the import replaces on the new
    /// one, and `--purge` deletes on the old one).
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub databases: Vec<String>,
    /// SHA-256 of the data copied, as the old server computed it.
    #[serde(default)]
    pub sha256: Option<String>,
}

impl Journal {
    pub fn new(service: &str, from: &str, to: &str) -> Self {
        Self {
            service: service.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
            done: Vec::new(),
            paths: Vec::new(),
            databases: Vec::new(),
            sha256: None,
        }
    }

    pub fn is_done(&self, step: Step) -> bool {
        self.done.contains(&step)
    }

    /// Whether every step ran: the move is over, and only `--purge` is left.
    pub fn finished(&self) -> bool {
        self.is_done(Step::Describe)
    }
}

pub fn path(folder: &Path) -> PathBuf {
    folder.join("journal.json")
}

/// The data in transit, as the old server sent it.
pub fn data_path(folder: &Path) -> PathBuf {
    folder.join("data.tar.gz")
}

/// The journal of a move of this service, if one was started.
pub fn read(folder: &Path) -> Result<Option<Journal>, String> {
    let path = path(folder);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// The unfinished moves of other services than `service` kept next to the description
/// (`moves_folder` is its `moves/`): a move starts only once they are done or rolled back.
pub fn unfinished_others(moves_folder: &Path, service: &str) -> Result<Vec<Journal>, String> {
    let entries = match std::fs::read_dir(moves_folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", moves_folder.display())),
    };
    let mut unfinished = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", moves_folder.display()))?;
        if entry.file_name() == *service || !entry.path().is_dir() {
            continue;
        }
        if let Some(journal) = read(&entry.path())?.filter(|j| !j.finished()) {
            unfinished.push(journal);
        }
    }
    unfinished.sort_by(|a, b| a.service.cmp(&b.service));
    Ok(unfinished)
}

/// Writes `journal` in place of the last one, whole or not at all.
pub fn write(folder: &Path, journal: &Journal) -> Result<(), String> {
    let text = serde_json::to_string_pretty(journal).expect("a journal is plain JSON");
    write_private(&path(folder), text.as_bytes())
}

/// Makes the folder (0700) and writes `bytes` to `path` (0600) through a temporary file
/// renamed over it.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let folder = path.parent().expect("a file in a folder");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(folder)
        .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    let partial = path.with_extension("part");
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut file =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&partial).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&partial, path).map_err(fail)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn a_journal_reads_back_as_written_and_only_its_owner_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("moves/agenda");
        assert_eq!(read(&folder).unwrap(), None);
        let mut journal = Journal::new("agenda", "loutre", "pangolin");
        journal.done = vec![Step::Stop, Step::Backup];
        journal.paths = vec!["/var/lib/radicale/collections".into()];
        write(&folder, &journal).unwrap();
        assert_eq!(read(&folder).unwrap(), Some(journal.clone()));
        assert!(!journal.finished());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path(&folder)), 0o600);
        assert_eq!(mode(&folder), 0o700);
        assert!(!folder.join("journal.part").exists());
    }

    #[test]
    fn only_the_unfinished_moves_of_other_services_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let moves = dir.path().join("moves");
        assert!(unfinished_others(&moves, "agenda").unwrap().is_empty());
        let mut cloud = Journal::new("cloud", "loutre", "pangolin");
        write(&moves.join("cloud"), &cloud).unwrap();
        let mut pads = Journal::new("pads", "loutre", "pangolin");
        pads.done = super::super::Step::ALL.to_vec();
        write(&moves.join("pads"), &pads).unwrap();
        write(&moves.join("agenda"), &Journal::new("agenda", "loutre", "pangolin")).unwrap();
        let found = unfinished_others(&moves, "agenda").unwrap();
        assert_eq!(found, vec![cloud.clone()]);
        cloud.done = super::super::Step::ALL.to_vec();
        write(&moves.join("cloud"), &cloud).unwrap();
        assert!(unfinished_others(&moves, "agenda").unwrap().is_empty());
    }
}
