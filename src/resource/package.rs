//! Debian packages, installed or removed with apt in one command per resource; the plan
//! may join several resources' installs into one apt run (`install`).

use serde::Serialize;
use serde_json::json;

use super::{Action, Change, ResourceId, change};
use crate::command::Command;
use crate::facts::HostFacts;
use crate::vocab::Presence;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    pub names: Vec<String>,
    pub state: Presence,
}

impl Package {
    pub fn plan(&self, facts: &HostFacts) -> Option<Change> {
        let id = ResourceId { kind: "package".into(), name: self.names.join(" ") };
        let installed = |name: &&String| facts.packages.contains_key(name.as_str());
        match self.state {
            Presence::Present => install(&[self], facts),
            Presence::Absent => {
                let present: Vec<&String> = self.names.iter().filter(installed).collect();
                if present.is_empty() {
                    return None;
                }
                let mut argv: Vec<String> =
                    ["apt-get", "remove", "--yes", "-o", "DPkg::Lock::Timeout=600"].map(String::from).to_vec();
                argv.extend(present.iter().map(|n| (*n).clone()));
                let reasons = present.iter().map(|n| format!("{n} is installed but should not be")).collect();
                Some(change(
                    id,
                    Action::Delete,
                    Some(json!({ "installed": present })),
                    None,
                    reasons,
                    vec![Command::new(argv).env("DEBIAN_FRONTEND", "noninteractive")],
                ))
            }
        }
    }
}

/// One `apt-get install` for the packages of `resources` that are missing, or `None` when
/// none is. Its name lists every package of them, so a plan shows what the run covers.
pub fn install(resources: &[&Package], facts: &HostFacts) -> Option<Change> {
    let names: Vec<&String> = resources.iter().flat_map(|r| &r.names).collect();
    let missing: Vec<&String> = names.iter().copied().filter(|n| !facts.packages.contains_key(n.as_str())).collect();
    if missing.is_empty() {
        return None;
    }
    let id =
        ResourceId { kind: "package".into(), name: names.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(" ") };
    let mut argv: Vec<String> = [
        "apt-get",
        "install",
        "--yes",
        "--no-install-recommends",
        // Fresh images run unattended-upgrades at first boot: wait for its lock.
        "-o",
        "DPkg::Lock::Timeout=600",
        "-o",
        "Dpkg::Options::=--force-confdef",
        "-o",
        "Dpkg::Options::=--force-confold",
    ]
    .map(String::from)
    .to_vec();
    argv.extend(missing.iter().map(|n| (*n).clone()));
    let reasons = missing.iter().map(|n| format!("{n} is not installed")).collect();
    let action = if missing.len() == names.len() { Action::Create } else { Action::Update };
    Some(change(
        id,
        action,
        Some(json!({ "missing": missing })),
        Some(json!({ "installed": names })),
        reasons,
        vec![Command::new(argv).env("DEBIAN_FRONTEND", "noninteractive")],
    ))
}
