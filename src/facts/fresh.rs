//! The facts of a freshly installed Debian server, for `plan --offline`.
//!
//! Modelled on a minimal Debian install with SSH (what providers hand over and what
//! `debootstrap --variant=minbase --include=openssh-server,systemd` gives): the packages,
//! accounts, directories and services present before chaton runs.

use std::collections::{BTreeMap, BTreeSet};

use super::{FactQuery, GroupFacts, HostFacts, OsRelease, PathState, UnitFacts, UserFacts};
use crate::vocab::Distribution;
use crate::vocab::values::FileMode;

const PACKAGES: &[&str] = &[
    "apt",
    "base-files",
    "base-passwd",
    "bash",
    "ca-certificates",
    "coreutils",
    "dbus",
    "debconf",
    "debian-archive-keyring",
    "diffutils",
    "dpkg",
    "findutils",
    "gpgv",
    "grep",
    "gzip",
    "hostname",
    "init-system-helpers",
    "iproute2",
    "libc-bin",
    "login",
    "mawk",
    "mount",
    "ncurses-base",
    "openssh-client",
    "openssh-server",
    "openssl",
    "passwd",
    "perl-base",
    "sed",
    "systemd",
    "systemd-sysv",
    "sysvinit-utils",
    "tar",
    "tzdata",
    "util-linux",
];

const DIRECTORIES: &[&str] = &[
    "/",
    "/etc",
    "/etc/apt",
    "/etc/apt/apt.conf.d",
    "/etc/default",
    "/etc/ssh",
    "/etc/ssh/sshd_config.d",
    "/etc/systemd",
    "/etc/systemd/system",
    "/home",
    "/opt",
    "/root",
    "/srv",
    "/usr",
    "/usr/local",
    "/usr/local/bin",
    "/var",
    "/var/lib",
    "/var/log",
];

/// `(name, uid, home, shell)` of the accounts Debian's base-passwd creates that recipes use.
const USERS: &[(&str, u32, &str, &str)] = &[
    ("root", 0, "/root", "/bin/bash"),
    ("www-data", 33, "/var/www", "/usr/sbin/nologin"),
    ("nobody", 65534, "/nonexistent", "/usr/sbin/nologin"),
];

const GROUPS: &[(&str, u32)] =
    &[("root", 0), ("adm", 4), ("sudo", 27), ("www-data", 33), ("staff", 50), ("users", 100), ("nogroup", 65534)];

/// Facts of a fresh server of this distribution, answering `query`.
pub fn fresh(distribution: Distribution, query: &FactQuery) -> HostFacts {
    let version = match distribution {
        Distribution::Debian12 => "12",
        Distribution::Debian13 => "13",
    };
    let mut facts = HostFacts {
        os: OsRelease { id: "debian".into(), version_id: version.into(), codename: distribution.codename().into() },
        packages: PACKAGES.iter().map(|p| ((*p).to_owned(), "installed".to_owned())).collect(),
        ..HostFacts::default()
    };
    for path in &query.paths {
        if DIRECTORIES.contains(&path.as_str()) {
            let mode = if path == "/root" { 0o700 } else { 0o755 };
            facts.paths.insert(
                path.clone(),
                PathState::Directory { owner: "root".into(), group: "root".into(), mode: FileMode(mode) },
            );
        }
    }
    let wanted_users: BTreeSet<&str> = query.users.iter().map(String::as_str).collect();
    for (name, uid, home, shell) in USERS {
        if wanted_users.contains(name) {
            facts.users.insert(
                (*name).to_owned(),
                UserFacts { uid: *uid, home: (*home).into(), shell: (*shell).into(), groups: BTreeSet::new() },
            );
        }
    }
    for (name, gid) in GROUPS {
        if query.groups.contains(*name) {
            facts.groups.insert((*name).to_owned(), GroupFacts { gid: *gid });
        }
    }
    let units: BTreeMap<&str, UnitFacts> = [("ssh", UnitFacts { enabled: true, active: true })].into_iter().collect();
    for unit in &query.units {
        if let Some(state) = units.get(unit.trim_end_matches(".service")) {
            facts.units.insert(unit.clone(), state.clone());
        }
    }
    facts
}
