//! Debian packages, installed or removed with apt in one command per resource.

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
            Presence::Present => {
                let missing: Vec<&String> = self.names.iter().filter(|n| !installed(n)).collect();
                if missing.is_empty() {
                    return None;
                }
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
                let action = if missing.len() == self.names.len() { Action::Create } else { Action::Update };
                Some(change(
                    id,
                    action,
                    Some(json!({ "missing": missing })),
                    Some(json!({ "installed": self.names })),
                    reasons,
                    vec![Command::new(argv).env("DEBIAN_FRONTEND", "noninteractive")],
                ))
            }
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
