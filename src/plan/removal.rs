//! What left the description, planned: configuration goes, data stays.
//!
//! The facts list what the server's record (`resolve::record`) has and the description no
//! longer does (`HostFacts::undescribed`). Units are stopped and disabled first, then files,
//! links and downloads are removed, each change notifying the handlers the thing notified
//! when it was written (a removed nginx site reloads nginx), and systemd reloads its units
//! when a unit file went. Data is never deleted by a plan: folders (user files, repositories),
//! databases and their roles, generated secrets, accounts and packages are reported as kept,
//! with their size where it means something, for the hoster to remove by hand once sure.

use serde::Serialize;

use super::PlannedChange;
use crate::command::Command;
use crate::facts::{HostFacts, Undescribed};
use crate::resource::{Action, ResourceId, change};

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
        let present = thing.state.starts_with("present");
        match thing.kind.as_str() {
            "service" => {
                let mut words = thing.state.split_whitespace();
                let (enabled, active) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                if enabled == "enabled" || active == "active" || active == "activating" {
                    let command = Command::new(["systemctl", "disable", "--now", "--", thing.name.as_str()]);
                    units.push((removal(id, thing, command), thing.notify.clone()));
                }
            }
            "file" | "link" | "download" if present => {
                let command = Command::new(["rm", "-f", "--", thing.name.as_str()]);
                files.push((removal(id, thing, command), thing.notify.clone()));
            }
            "directory" if present => {
                let size = thing.state.split_whitespace().nth(1).and_then(|k| k.parse::<u64>().ok());
                let size = size.map(|k| format!("{}, ", human_size(k * 1024))).unwrap_or_default();
                kept.push(Kept {
                    resource: id,
                    origin: thing.origin.clone(),
                    detail: format!(
                        "{size}data is never deleted by a plan: remove it by hand once you no longer need it"
                    ),
                });
            }
            "database" | "role" => {
                let pg = facts.postgres.as_ref();
                let there = match thing.kind.as_str() {
                    "database" => pg.is_some_and(|p| p.databases.contains_key(&thing.name)),
                    _ => pg.is_some_and(|p| p.roles.contains(&thing.name)),
                };
                if there {
                    kept.push(Kept {
                        resource: id,
                        origin: thing.origin.clone(),
                        detail: "data is never deleted by a plan: drop it by hand once you no longer need it".into(),
                    });
                }
            }
            "secret" | "user" | "group" | "package" if present => {
                let detail = match thing.kind.as_str() {
                    "secret" => "kept with the data it opens",
                    "package" => "may serve something else: remove it with apt-get once nothing needs it",
                    _ => "files may still belong to it",
                };
                kept.push(Kept { resource: id, origin: thing.origin.clone(), detail: detail.into() });
            }
            _ => {}
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

/// `12.3 MB`, in powers of 1000 as people read sizes.
fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < units.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", units[unit]) }
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
