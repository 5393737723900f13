//! One `systemctl daemon-reload` for unit files written one after the other. A unit file's
//! change ends with a reload, so that the units started further down the run see it; a
//! service and its timer, written next to each other, need systemd to read them once, not
//! twice (a reload takes 0.15 to 0.25 s on a small server, several times in a first apply).
//!
//! A unit file followed by the enabling of a unit needs no reload either: `systemctl
//! enable` reloads systemd itself, and where the unit was enabled already, the reload runs
//! in its place (resource::service::reload_with_enable).
//!
//! Only changes next to each other are joined: nothing runs between them that could start
//! a unit, and when the second fails, the run stops there and the next run writes it again,
//! with its reload.

use super::PlannedChange;

fn ends_with_reload(change: &PlannedChange) -> bool {
    change.change.commands.last().is_some_and(|c| c.argv == ["systemctl", "daemon-reload"])
}

/// Drops the reload of every change whose next change reloads systemd too, either at its
/// end or by enabling a unit first (`systemctl enable` reloads systemd once it is done).
pub(super) fn join(changes: &mut [PlannedChange]) {
    for at in 1..changes.len() {
        if !ends_with_reload(&changes[at - 1]) {
            continue;
        }
        if ends_with_reload(&changes[at]) || crate::resource::service::reload_with_enable(&mut changes[at].change) {
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

    fn service(unit: &str, enabled: bool, facts_enabled: bool) -> PlannedChange {
        use crate::resource::Kind;
        let mut facts = crate::facts::HostFacts::default();
        facts.units.insert(unit.into(), crate::facts::UnitFacts { enabled: facts_enabled, active: false });
        let service =
            crate::resource::service::Service { unit: unit.into(), enabled, running: true, not_in_containers: false };
        PlannedChange { origin: "web".into(), change: service.plan(&facts).unwrap() }
    }

    #[test]
    fn a_unit_file_before_the_enabling_of_a_unit_leaves_the_reload_to_it() {
        let reload: &[&str] = &["systemctl", "daemon-reload"];
        let mv: &[&str] = &["mv", "x", "y"];
        let mut changes = vec![
            change("/etc/systemd/system/a.service", &[mv, reload]),
            change("/etc/systemd/system/a.timer", &[mv, reload]),
            service("a.timer", true, false),
            // Already enabled: only started, which needs the unit file's reload before it.
            change("/etc/systemd/system/b.service", &[mv, reload]),
            service("b.service", true, true),
        ];
        join(&mut changes);
        assert_eq!(reloads(&changes), [false, false, false, true, false]);
        let enable = &changes[2].change.commands[0].argv[2];
        assert!(
            enable.contains("systemctl enable --quiet") && enable.contains(") systemctl daemon-reload ;;"),
            "{enable}"
        );
        assert_eq!(changes[4].change.commands[0].argv, ["systemctl", "start", "--", "b.service"]);
    }
}
