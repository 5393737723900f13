//! One `systemctl daemon-reload` for unit files written one after the other. A unit file's
//! change ends with a reload, so that the units started further down the run see it; a
//! service and its timer, written next to each other, need systemd to read them once, not
//! twice (a reload takes 0.15 to 0.25 s on a small server, several times in a first apply).
//!
//! Only changes next to each other are joined: nothing runs between them that could start
//! a unit, and when the second fails, the run stops there and the next run writes it again,
//! with its reload.

use super::PlannedChange;

fn ends_with_reload(change: &PlannedChange) -> bool {
    change.change.commands.last().is_some_and(|c| c.argv == ["systemctl", "daemon-reload"])
}

/// Drops the reload of every change whose next change reloads systemd too.
pub(super) fn join(changes: &mut [PlannedChange]) {
    for at in 1..changes.len() {
        if ends_with_reload(&changes[at - 1]) && ends_with_reload(&changes[at]) {
            changes[at - 1].change.commands.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;
    use crate::resource::{Action, ResourceId};

    fn change(path: &str, argv: &[&[&str]]) -> PlannedChange {
        PlannedChange {
            origin: "web".into(),
            change: crate::resource::change(
                ResourceId { kind: "file".into(), name: path.into() },
                Action::Create,
                None,
                None,
                vec![],
                argv.iter().map(|a| Command::new(a.iter().copied())).collect(),
            ),
        }
    }

    fn reloads(changes: &[PlannedChange]) -> Vec<bool> {
        changes.iter().map(ends_with_reload).collect()
    }

    #[test]
    fn unit_files_written_one_after_the_other_reload_systemd_once_after_the_last() {
        let reload: &[&str] = &["systemctl", "daemon-reload"];
        let mv: &[&str] = &["mv", "x", "y"];
        let mut changes = vec![
            change("/etc/systemd/system/a.service", &[mv, reload]),
            change("/etc/systemd/system/a.timer", &[mv, reload]),
            change("/etc/a.conf", &[mv]),
            change("/etc/systemd/system/b.service", &[mv, reload]),
            change("/etc/systemd/system/b.timer", &[mv, reload]),
            change("/etc/systemd/system/b-more.service", &[mv, reload]),
            change("/etc/systemd/system/c.service", &[mv]),
        ];
        join(&mut changes);
        assert_eq!(reloads(&changes), [false, true, false, false, false, true, false]);
        // Only the reload goes: each file is still written.
        assert!(changes.iter().all(|c| c.change.commands[0].argv == ["mv", "x", "y"]));
    }
}
