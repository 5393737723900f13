//! Debian packages, installed or removed with apt in one command per resource; the plan
//! may join several resources' installs into one apt run (`install`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Action, Change, Conversion, Kind, Leaving, Problem, Resource, ResourceId, Spec, change, checks};
use crate::command::Command;
use crate::facts::{FactQuery, HostFacts, Undescribed};
use crate::vocab::Presence;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    pub names: Vec<String>,
    pub state: Presence,
}

/// The install script: the missing packages come as its arguments. The security updates
/// pending on the server (what `apt-get upgrade` would take from Debian-Security) join the
/// same apt run: apt resolves and runs dpkg's triggers once, and a new package never lands
/// next to a known hole. Naming them to apt marks them installed by hand, so those that were
/// dependencies are marked so again afterwards (autoremove keeps working).
const INSTALL: &str = concat!(
    r"up=$(apt-get -s -o Debug::NoLocking=1 upgrade 2>/dev/null | sed -n 's/^Inst \([^ ]*\) \[.*Debian-Security.*/\1/p'); ",
    r#"auto=; [ -z "$up" ] || auto=$(apt-mark showauto $up); "#,
    "apt-get install --yes --no-install-recommends -o DPkg::Lock::Timeout=600 ",
    "-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold ",
    r#""$@" $up || exit; [ -z "$auto" ] || apt-mark auto $auto >/dev/null"#
);

/// One apt run installing the packages of `resources` that are missing (with the pending
/// security updates), or `None` when none is. Its name lists every package of them, so a
/// plan shows what the run covers.
pub fn install(resources: &[&Package], facts: &HostFacts) -> Option<Change> {
    let names: Vec<&String> = resources.iter().flat_map(|r| &r.names).collect();
    let missing: Vec<&String> = names.iter().copied().filter(|n| !facts.packages.contains_key(n.as_str())).collect();
    if missing.is_empty() {
        return None;
    }
    let id =
        ResourceId { kind: Package::KIND.into(), name: names.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(" ") };
    // Fresh images run unattended-upgrades at first boot: apt waits for its lock (600 s).
    let mut argv: Vec<String> = ["sh", "-c", INSTALL, "sh"].map(String::from).to_vec();
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

impl Kind for Package {
    const KIND: &'static str = "package";

    fn key(&self) -> String {
        self.names.join(" ")
    }

    fn wants(&self, query: &mut FactQuery) {
        query.packages = true;
    }

    fn plan(&self, facts: &HostFacts) -> Option<Change> {
        let id = self.id();
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

    fn recorded(&self) -> Vec<String> {
        self.names.clone()
    }

    const PROBE: &'static str = "if dpkg-query -W -f='${Status}' -- \"$n\" 2>/dev/null | grep -q ' installed$'; then st=present; else st=absent; fi";

    fn leaving(thing: &Undescribed, _facts: &HostFacts) -> Leaving {
        super::keep_if_present(thing, "may serve something else: remove it with apt-get once nothing needs it")
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageSpec {
    pub names: Vec<String>,
    #[serde(default)]
    pub state: Presence,
    pub when: Option<String>,
    pub for_each: Option<String>,
    #[serde(default)]
    pub notify: Vec<String>,
}

impl Spec for PackageSpec {
    const KIND: &'static str = <Package as Kind>::KIND;

    fn describe(&self) -> String {
        self.names.join(" ")
    }

    fn convert(self, _conversion: &Conversion) -> Result<Vec<(Resource, Vec<String>)>, Problem> {
        for name in &self.names {
            checks::package_name(name)?;
        }
        Ok(vec![(Resource::Package(Package { names: self.names, state: self.state }), self.notify)])
    }
}
