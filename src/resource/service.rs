//! systemd services: enabled at boot and running, or not.

use serde::Serialize;
use serde_json::json;

use super::{Action, Change, ResourceId, change};
use crate::command::Command;
use crate::facts::{HostFacts, UnitFacts};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    pub unit: String,
    pub enabled: bool,
    pub running: bool,
    /// systemd skips it in containers: nothing to do where the facts find one.
    pub not_in_containers: bool,
}

impl Service {
    pub fn plan(&self, facts: &HostFacts) -> Option<Change> {
        if self.not_in_containers && facts.container.is_some() {
            return None;
        }
        let have = facts.units.get(&self.unit).cloned().unwrap_or(UnitFacts { enabled: false, active: false });
        let mut reasons = Vec::new();
        let mut commands = Vec::new();
        if have.enabled != self.enabled {
            let verb = if self.enabled { "enable" } else { "disable" };
            reasons.push(format!(
                "{} is {}",
                self.unit,
                if have.enabled { "enabled at boot" } else { "not enabled at boot" }
            ));
            commands.push(Command::new(["systemctl", verb, "--quiet", "--", &self.unit]));
        }
        if have.active != self.running {
            let verb = if self.running { "start" } else { "stop" };
            reasons.push(format!("{} is {}", self.unit, if have.active { "running" } else { "not running" }));
            commands.push(Command::new(["systemctl", verb, "--", &self.unit]));
        }
        if commands.is_empty() {
            return None;
        }
        Some(change(
            ResourceId { kind: "service".into(), name: self.unit.clone() },
            Action::Update,
            Some(json!({ "enabled": have.enabled, "running": have.active })),
            Some(json!({ "enabled": self.enabled, "running": self.running })),
            reasons,
            commands,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_systemd_skips_in_containers_is_left_alone_in_one() {
        let timesyncd =
            Service { unit: "systemd-timesyncd".into(), enabled: true, running: true, not_in_containers: true };
        let mut facts = HostFacts::default();
        facts.units.insert("systemd-timesyncd".into(), UnitFacts { enabled: true, active: false });
        assert!(timesyncd.plan(&facts).is_some(), "on a machine of its own it must run");
        facts.container = Some("lxc".into());
        assert!(timesyncd.plan(&facts).is_none(), "in a container systemd never starts it");
    }
}
