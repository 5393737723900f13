//! systemd services: enabled at boot and running, or not.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Action, Change, Conversion, Kind, Leaving, Problem, Resource, Spec, change, checks};
use crate::command::Command;
use crate::facts::{FactQuery, HostFacts, Undescribed, UnitFacts};

/// Enables the unit `$1` unless systemd already counts it enabled, in the facts' own terms;
/// `when_enabled` is what runs instead then.
fn enable_unless_enabled(when_enabled: &str) -> String {
    format!(
        r#"case "$(systemctl is-enabled -- "$1" 2>/dev/null)" in {}) {when_enabled};; *) systemctl enable --quiet -- "$1" ;; esac"#,
        crate::facts::ENABLED_STATES.join("|")
    )
}

/// Lets the enabling of a unit, when `change` starts with it, stand for the reload of
/// systemd that the unit file written just before it ends with: `systemctl enable` reloads
/// systemd itself once the unit is enabled, and where the unit was enabled already, the
/// reload runs in its place. Returns whether it did (src/plan/reloads.rs drops that reload).
pub(crate) fn reload_with_enable(change: &mut Change) -> bool {
    let Some(first) = change.commands.first_mut() else { return false };
    if change.resource.kind != Service::KIND || first.argv.get(2) != Some(&enable_unless_enabled("")) {
        return false;
    }
    first.argv[2] = enable_unless_enabled("systemctl daemon-reload ");
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    pub unit: String,
    pub enabled: bool,
    pub running: bool,
    /// systemd skips it in containers: nothing to do where the facts find one.
    pub not_in_containers: bool,
}

impl Kind for Service {
    const KIND: &'static str = "service";

    fn key(&self) -> String {
        self.unit.clone()
    }

    fn wants(&self, query: &mut FactQuery) {
        query.units.insert(self.unit.clone());
        query.container |= self.not_in_containers;
    }

    fn plan(&self, facts: &HostFacts) -> Option<Change> {
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
            commands.push(if self.enabled {
                // Installing a package often enables its unit first; `systemctl enable` would
                // still reload systemd (0.3 s a unit on a first apply).
                Command::new(["sh", "-c", &enable_unless_enabled(""), "sh", &self.unit])
            } else {
                Command::new(["systemctl", verb, "--quiet", "--", &self.unit])
            });
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
            self.id(),
            Action::Update,
            Some(json!({ "enabled": have.enabled, "running": have.active })),
            Some(json!({ "enabled": self.enabled, "running": self.running })),
            reasons,
            commands,
        ))
    }

    const PROBE: &'static str =
        "st=\"$(systemctl is-enabled -- \"$n\" 2>/dev/null) $(systemctl is-active -- \"$n\" 2>/dev/null)\"";

    /// A unit that runs or would start at boot is stopped and disabled.
    fn leaving(thing: &Undescribed, _facts: &HostFacts) -> Leaving {
        let mut words = thing.state.split_whitespace();
        let (enabled, active) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        if enabled == "enabled" || active == "active" || active == "activating" {
            Leaving::Stop(Command::new(["systemctl", "disable", "--now", "--", thing.name.as_str()]))
        } else {
            Leaving::Nothing
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// systemd unit name (`nginx` or `nginx.service`).
    pub name: String,
    pub enabled: bool,
    pub running: bool,
    /// systemd itself skips this unit in containers (`ConditionVirtualization=!container`,
    /// as `systemd-timesyncd`): where the facts find a container, it is not expected to run,
    /// whether or not the description names the server's hypervisor.
    #[serde(default)]
    pub not_in_containers: bool,
    pub when: Option<String>,
    pub for_each: Option<String>,
    #[serde(default)]
    pub notify: Vec<String>,
}

impl Spec for ServiceSpec {
    const KIND: &'static str = <Service as Kind>::KIND;

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn convert(self, _conversion: &Conversion) -> Result<Vec<(Resource, Vec<String>)>, Problem> {
        checks::unit_name(&self.name)?;
        let service = Service {
            unit: self.name,
            enabled: self.enabled,
            running: self.running,
            not_in_containers: self.not_in_containers,
        };
        Ok(vec![(Resource::Service(service), self.notify)])
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

    /// The enabling script of a change for `a.timer`, run with a stand-in `systemctl` that
    /// says the unit is `state` and writes down how it was called.
    fn enabling_runs(reloading: bool, state: &str) -> String {
        let here = crate::stand_ins::StandIns::new();
        let calls = here.path("calls");
        here.program(
            "systemctl",
            &format!("echo \"$*\" >> {}\n[ \"$1\" = is-enabled ] && echo {state}\nexit 0\n", calls.display()),
        );
        let timer = Service { unit: "a.timer".into(), enabled: true, running: true, not_in_containers: false };
        let mut change = timer.plan(&HostFacts::default()).unwrap();
        assert!(reload_with_enable(&mut change));
        let script = if reloading { change.commands[0].argv[2].clone() } else { enable_unless_enabled("") };
        let out = here.run_with_args(&script, &["a.timer"]);
        assert!(out.status.success(), "{out:?}");
        std::fs::read_to_string(calls).unwrap()
    }

    #[test]
    fn an_enabling_that_stands_for_a_reload_reloads_systemd_once_either_way() {
        // `systemctl enable` reloads systemd itself.
        assert_eq!(enabling_runs(true, "disabled"), "is-enabled -- a.timer\nenable --quiet -- a.timer\n");
        assert_eq!(enabling_runs(true, "enabled"), "is-enabled -- a.timer\ndaemon-reload\n");
        // Without a unit file written before it, an enabled unit needs nothing.
        assert_eq!(enabling_runs(false, "enabled"), "is-enabled -- a.timer\n");
    }
}
