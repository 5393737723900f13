//! Facts: what a server looks like, as far as the plan needs to know.
//!
//! Resources say which facts they need (`FactQuery`); a gatherer answers with `HostFacts`.
//! Offline planning answers from `fresh`, a model of a freshly installed Debian.

pub mod fresh;
pub mod gather;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::vocab::Proto;
use crate::vocab::values::FileMode;

/// Everything the plan knows about one server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostFacts {
    pub os: OsRelease,
    /// Installed packages and their versions.
    pub packages: BTreeMap<String, String>,
    /// State of every path a resource asked about. A path not listed is missing.
    pub paths: BTreeMap<String, PathState>,
    pub users: BTreeMap<String, UserFacts>,
    pub groups: BTreeMap<String, GroupFacts>,
    /// systemd units, by name as the recipes write it.
    pub units: BTreeMap<String, UnitFacts>,
    /// Ports the live firewall (table `inet chaton`) accepts; `None` when that table does
    /// not exist yet.
    pub firewall: Option<BTreeSet<(u16, Proto)>>,
    /// Results of `unless` guards, keyed by the guard's command line.
    pub guards: BTreeMap<String, bool>,
    /// First line of output of the commands' `explain` lines that ran, keyed like guards.
    #[serde(default)]
    pub explanations: BTreeMap<String, String>,
    /// Roles and databases, when PostgreSQL runs (`None`: not installed or not running).
    #[serde(default)]
    pub postgres: Option<PostgresFacts>,
    /// Handlers an earlier run recorded in the journal on the server but did not run
    /// (it failed or was killed after the change that notified them).
    #[serde(default)]
    pub pending_handlers: Vec<String>,
    /// An earlier run changed or reloaded the files that decide chaton's access and ended
    /// before a new login proved them (`STATE/access/unchecked` exists).
    #[serde(default)]
    pub access_unchecked: bool,
    /// What the server's record of managed things lists and the description no longer has
    /// (`resolve::record`), with what the server says of each.
    #[serde(default)]
    pub undescribed: Vec<Undescribed>,
    /// The container the server runs in, as `systemd-detect-virt --container` names it
    /// (`lxc`, `openvz`, `systemd-nspawn`), when asked for and it is one.
    #[serde(default)]
    pub container: Option<String>,
    /// Debian asks for a reboot (`/run/reboot-required`, left by an upgrade of the kernel,
    /// libc and the like): the packages that asked (`/run/reboot-required.pkgs`).
    #[serde(default)]
    pub reboot_required: Option<Vec<String>>,
}

/// A recorded thing the description no longer has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Undescribed {
    pub kind: String,
    pub name: String,
    /// The service or recipe that wanted it.
    pub origin: String,
    /// Handlers its change notified.
    pub notify: Vec<String>,
    /// `absent`, `present`, `present KIB` (a folder and its size), or a unit's
    /// `ENABLED ACTIVE` as systemctl says them.
    pub state: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsRelease {
    pub id: String,
    pub version_id: String,
    pub codename: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PathState {
    Missing,
    File {
        sha256: String,
        size: u64,
        owner: String,
        group: String,
        mode: FileMode,
        /// Content of small text files, for diffs.
        text: Option<String>,
    },
    Directory {
        owner: String,
        group: String,
        mode: FileMode,
    },
    Symlink {
        target: String,
    },
    /// A socket, device or fifo.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserFacts {
    pub uid: u32,
    pub home: String,
    pub shell: String,
    /// Supplementary groups.
    pub groups: BTreeSet<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostgresFacts {
    pub roles: BTreeSet<String>,
    /// Database name → owner.
    pub databases: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupFacts {
    pub gid: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitFacts {
    pub enabled: bool,
    pub active: bool,
}

impl HostFacts {
    pub fn path(&self, path: &str) -> &PathState {
        self.paths.get(path).unwrap_or(&PathState::Missing)
    }

    /// A digest of everything known, to tell whether a server changed since a plan.
    pub fn digest(&self) -> String {
        let json = serde_json::to_vec(self).expect("facts serialize");
        crate::command::sha256_hex(&json)
    }
}

/// What `systemctl is-enabled` says of a unit that starts at boot, or is started by what
/// it belongs to (`static`, `indirect`): enabled, for the facts and for the service
/// resource's enable.
pub const ENABLED_STATES: &[&str] = &["enabled", "enabled-runtime", "static", "alias", "indirect", "generated"];

/// What a plan needs to know about a server; the gatherer turns it into one batched script.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FactQuery {
    pub paths: BTreeSet<String>,
    /// Paths whose content is wanted too, for diffs (never sensitive files), with the
    /// digest of the desired content: the content only travels when it differs.
    pub texts: BTreeMap<String, String>,
    /// Files holding generated secrets: their digest is taken with each secret's value
    /// replaced by its placeholder, as (secret file, placeholder) pairs.
    pub masked: BTreeMap<String, Vec<(String, String)>>,
    pub users: BTreeSet<String>,
    pub groups: BTreeSet<String>,
    pub units: BTreeSet<String>,
    pub guards: BTreeSet<String>,
    /// Commands' `explain` lines (shell text) and the condition under which each runs.
    pub explains: BTreeMap<String, String>,
    pub packages: bool,
    pub firewall: bool,
    /// PostgreSQL's roles and databases.
    pub postgres: bool,
    /// `KIND<TAB>NAME` of everything described (`resolve::record`): the record's other lines
    /// are what the description no longer has. `None`: not asked.
    pub described: Option<Vec<String>>,
    /// How to find the state of a recorded thing that left the description, per kind:
    /// (kind, shell that sets `st` for the name `$n`), each kind's `Kind::PROBE`.
    pub probes: Vec<(&'static str, &'static str)>,
    /// Whether the server is a container (for units systemd skips there).
    pub container: bool,
}
