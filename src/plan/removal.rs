//! What left the description, planned: configuration goes, data stays.
//!
//! The facts list what the server's record (`resolve::record`) has and the description no
//! longer does (`HostFacts::undescribed`), and each kind says what becomes of its things
//! (`resource::Kind::leaving`). Units are stopped and disabled first, then files,
//! links and downloads are removed, each change notifying the handlers the thing notified
//! when it was written (a removed nginx site reloads nginx), and systemd reloads its units
//! when a unit file went. Data is never deleted by a plan: folders (user files, repositories),
//! databases and their roles, generated secrets, accounts and packages are reported as kept,
//! with their size where it means something, for the hoster to remove by hand once sure.

use serde::Serialize;

use super::PlannedChange;
use crate::command::Command;
use crate::facts::{HostFacts, Undescribed};
use crate::resource::{Action, Leaving, Resource, ResourceId, change};

/// Something that left the description but stays on the server, because it is data or may
/// serve something else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    #[serde(flatten)]
    pub resource: ResourceId,
    /// The service or recipe that had it.
    pub origin: String,
    /// What it is and how to remove it, for people.
    pub detail: String,
}

/// The removals and what is kept, with the handlers each removal notifies.
pub struct Removals {
    pub changes: Vec<(PlannedChange, Vec<String>)>,
    pub kept: Vec<Kept>,
}

fn reason(thing: &Undescribed) -> String {
    format!("{} is no longer in the description", thing.origin)
}

pub fn plan(facts: &HostFacts) -> Removals {
    let mut units = Vec::new();
    let mut files = Vec::new();
    let mut kept = Vec::new();
    for thing in &facts.undescribed {
        let id = ResourceId { kind: thing.kind.clone(), name: thing.name.clone() };
        match Resource::leaving(thing, facts) {
            Leaving::Stop(command) => units.push((removal(id, thing, command), thing.notify.clone())),
            Leaving::Remove(command) => files.push((removal(id, thing, command), thing.notify.clone())),
            Leaving::Keep(detail) => kept.push(Kept { resource: id, origin: thing.origin.clone(), detail }),
            Leaving::Nothing => {}
        }
    }
    // Units stop before their files go; systemd forgets removed unit files at once.
    let unit_file_removed = files.iter().any(|(c, _)| is_unit_file(&c.change.resource.name));
    if unit_file_removed
        && let Some((last, _)) = files.iter_mut().rev().find(|(c, _)| is_unit_file(&c.change.resource.name))
    {
        last.change.commands.push(Command::new(["systemctl", "daemon-reload"]));
    }
    units.extend(files);
    Removals { changes: units, kept }
}

fn removal(id: ResourceId, thing: &Undescribed, command: Command) -> PlannedChange {
    PlannedChange {
        origin: thing.origin.clone(),
        change: change(id, Action::Delete, None, None, vec![reason(thing)], vec![command]),
    }
}

fn is_unit_file(path: &str) -> bool {
    ["/etc/systemd/system/", "/lib/systemd/system/", "/usr/lib/systemd/system/"].iter().any(|d| path.starts_with(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thing(kind: &str, name: &str, state: &str) -> Undescribed {
        Undescribed {
            kind: kind.into(),
            name: name.into(),
            origin: "pads".into(),
            notify: vec!["reload nginx".into()],
            state: state.into(),
        }
    }

    #[test]
    fn configuration_goes_units_first_and_data_stays_with_its_size() {
        let facts = HostFacts {
            undescribed: vec![
                thing("file", "/etc/systemd/system/etherpad.service", "present"),
                thing("file", "/etc/nginx/chaton/sites/pads.conf", "present"),
                thing("file", "/etc/gone.conf", "absent"),
                thing("service", "etherpad.service", "enabled active"),
                thing("service", "stopped.service", "disabled inactive"),
                thing("directory", "/var/lib/etherpad", "present 2048"),
                thing("package", "nodejs", "present"),
            ],
            ..HostFacts::default()
        };
        let removals = plan(&facts);
        let planned: Vec<String> = removals.changes.iter().map(|(c, _)| c.change.resource.to_string()).collect();
        assert_eq!(
            planned,
            [
                "service etherpad.service",
                "file /etc/systemd/system/etherpad.service",
                "file /etc/nginx/chaton/sites/pads.conf"
            ]
        );
        assert!(removals.changes.iter().all(|(c, _)| c.change.action == Action::Delete));
        assert_eq!(removals.changes[1].0.change.commands.last().unwrap().argv, ["systemctl", "daemon-reload"]);
        assert_eq!(removals.changes[2].1, ["reload nginx"]);
        assert_eq!(removals.changes[2].0.change.reasons, ["pads is no longer in the description"]);
        let kept: Vec<String> = removals.kept.iter().map(|k| format!("{} ({})", k.resource, k.detail)).collect();
        assert!(kept[0].starts_with("directory /var/lib/etherpad (2.1 MB, data is never deleted"), "{kept:?}");
        assert!(kept[1].starts_with("package nodejs"), "{kept:?}");
    }
}
