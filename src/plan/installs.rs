//! One apt run per server: the package installs a plan holds join the first of them, so
//! apt reads its lists, resolves dependencies and runs dpkg's triggers (man-db, systemd,
//! ldconfig) and its hooks once per run instead of once per recipe. On a fresh server
//! with the example's services this is most of the first apply's time.
//!
//! An install moves up only past changes that cannot decide what apt installs: a change
//! that configures apt's sources, pins or keys, dpkg, debconf or policy-rc.d (a recipe
//! adding a repository, then installing from it) starts a new group after it, and so does a
//! command that runs apt-get or dpkg itself. The base's security updates (unattended-upgrade)
//! are no such command: installing first and updating after is the same end, quicker.

use std::collections::BTreeMap;

use super::PlannedChange;
use crate::facts::HostFacts;
use crate::resource::package::{self, Package};
use crate::resource::{Change, ResourceId};

/// Paths whose change may alter what a later `apt-get install` does.
const APT_SETTINGS: &[&str] = &[
    "/etc/apt/sources.list",
    "/etc/apt/preferences",
    "/etc/apt/trusted.gpg",
    "/etc/apt/keyrings/",
    "/etc/apt/auth.conf",
    "/usr/share/keyrings/",
    "/etc/dpkg/",
    "/usr/sbin/policy-rc.d",
];

/// Programs a command may run that set apt up or are apt's own work.
const APT_PROGRAMS: &[&str] = &["apt-get", "apt-key", "dpkg", "debconf"];

/// Joins the planned installs (`installs`: position in `changes` and the resource) into one
/// change per group, at the place of the group's first. Returns the id each joined change
/// had and the id of the change that now does its work, for the handlers they notify.
pub(super) fn join(
    changes: &mut Vec<PlannedChange>,
    installs: &[(usize, &Package)],
    facts: &HostFacts,
) -> BTreeMap<ResourceId, ResourceId> {
    let mut groups: Vec<Vec<(usize, &Package)>> = Vec::new();
    for &(at, resource) in installs {
        match groups.last_mut() {
            Some(group) if !changes[group[0].0 + 1..at].iter().any(|c| settles_apt(&c.change)) => {
                group.push((at, resource));
            }
            _ => groups.push(vec![(at, resource)]),
        }
    }
    let mut renamed = BTreeMap::new();
    let mut dropped = Vec::new();
    for group in groups.iter().filter(|g| g.len() > 1) {
        let resources: Vec<&Package> = group.iter().map(|(_, r)| *r).collect();
        let Some(joined) = package::install(&resources, facts) else { continue };
        for &(at, _) in group {
            renamed.insert(changes[at].change.resource.clone(), joined.resource.clone());
        }
        let mut origins: Vec<&str> = Vec::new();
        for &(at, _) in group {
            if !origins.contains(&changes[at].origin.as_str()) {
                origins.push(&changes[at].origin);
            }
        }
        let origin = origins.join(", ");
        let first = group[0].0;
        changes[first] = PlannedChange { origin, change: joined };
        dropped.extend(group[1..].iter().map(|(at, _)| *at));
    }
    dropped.sort_unstable();
    for at in dropped.into_iter().rev() {
        changes.remove(at);
    }
    renamed
}

/// Whether a change may decide what a later install gets or how it runs.
fn settles_apt(change: &Change) -> bool {
    let id = &change.resource;
    match id.kind.as_str() {
        "file" | "directory" | "link" | "download" => APT_SETTINGS.iter().any(|p| id.name.starts_with(p)),
        // A command that sets debconf or dpkg up, or runs apt-get or dpkg itself.
        "command" => APT_PROGRAMS.iter().any(|p| id.name.contains(p)),
        // Another install or a removal: apt's own work, in the plan's order.
        "package" => change.action == crate::resource::Action::Delete,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{Action, change};
    use crate::vocab::Presence;

    fn packages(names: &[&str]) -> Package {
        Package { names: names.iter().map(|n| (*n).to_owned()).collect(), state: Presence::Present }
    }

    fn planned(origin: &str, kind: &str, name: &str) -> PlannedChange {
        let id = ResourceId { kind: kind.into(), name: name.into() };
        PlannedChange { origin: origin.into(), change: change(id, Action::Create, None, None, vec![], vec![]) }
    }

    fn names(changes: &[PlannedChange]) -> Vec<String> {
        changes
            .iter()
            .map(|c| format!("{} {} [{}]", c.change.resource.kind, c.change.resource.name, c.origin))
            .collect()
    }

    #[test]
    fn installs_join_the_first_and_keep_every_other_change_in_order() {
        let (base, web) = (packages(&["sudo", "nftables"]), packages(&["nginx"]));
        let mut changes = vec![
            planned("base", "package", "sudo nftables"),
            planned("base", "file", "/etc/nftables.conf"),
            planned("web", "package", "nginx"),
            planned("web", "file", "/etc/nginx/nginx.conf"),
        ];
        let mut facts = HostFacts::default();
        facts.packages.insert("nftables".into(), "1.0".into());
        let renamed = join(&mut changes, &[(0, &base), (2, &web)], &facts);
        assert_eq!(
            names(&changes),
            [
                "package sudo nftables nginx [base, web]",
                "file /etc/nftables.conf [base]",
                "file /etc/nginx/nginx.conf [web]"
            ]
        );
        let command = &changes[0].change.commands[0].argv;
        assert_eq!(&command[command.len() - 2..], ["sudo", "nginx"], "only the missing ones: {command:?}");
        assert_eq!(changes[0].change.action, Action::Update, "nftables is there already");
        let joined = ResourceId { kind: "package".into(), name: "sudo nftables nginx".into() };
        assert_eq!(renamed.get(&ResourceId { kind: "package".into(), name: "nginx".into() }), Some(&joined));
    }

    #[test]
    fn an_install_does_not_move_above_a_change_that_sets_apt_up() {
        let (first, second, third) = (packages(&["curl"]), packages(&["extrepo-tool"]), packages(&["jq"]));
        let mut changes = vec![
            planned("a", "package", "curl"),
            planned("b", "file", "/etc/apt/sources.list.d/vendor.sources"),
            planned("b", "package", "extrepo-tool"),
            planned("c", "package", "jq"),
            planned("c", "command", "apt-get install ./tool.deb"),
            planned("c", "package", "tmux"),
        ];
        let fourth = packages(&["tmux"]);
        join(&mut changes, &[(0, &first), (2, &second), (3, &third), (5, &fourth)], &HostFacts::default());
        assert_eq!(
            names(&changes),
            [
                "package curl [a]",
                "file /etc/apt/sources.list.d/vendor.sources [b]",
                "package extrepo-tool jq [b, c]",
                "command apt-get install ./tool.deb [c]",
                "package tmux [c]",
            ]
        );
    }
}
