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
/// dependencies are marked so again afterwards (autoremove keeps working); which those are
/// is read from apt's own list of them, not asked of `apt-mark`, which loads apt's whole
/// cache to answer (a quarter of a second). When the run took every pending update, it
/// leaves /var/lib/chaton/security-updates-installed: the base recipe's first security
/// update (recipes/base/recipe.yml) then has nothing to do and does not start
/// unattended-upgrade, which takes 1.5 to 2.5 s to find that out.
const INSTALL: &str = concat!(
    r"if sim=$(apt-get -s -o Debug::NoLocking=1 upgrade 2>/dev/null); then current=1; else current=; fi; ",
    r#"up=$(printf '%s\n' "$sim" | sed -n 's/^Inst \([^ ]*\) \[.*Debian-Security.*/\1/p'); "#,
    r#"auto=; [ -z "$up" ] || auto=$(awk -v up=" $(echo $up) " '/^Package:/ { p = $2 } "#,
    r#"/^Auto-Installed: 1/ && index(up, " " p " ") { print p }' /var/lib/apt/extended_states 2>/dev/null); "#,
    "apt-get install --yes --no-install-recommends -o DPkg::Lock::Timeout=600 ",
    "-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold ",
    r#""$@" $up || exit; [ -z "$auto" ] || apt-mark auto $auto >/dev/null || exit; "#,
    r#"[ -z "$current" ] || { mkdir -p /var/lib/chaton && : > /var/lib/chaton/security-updates-installed; }"#
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stand_ins::StandIns;

    /// INSTALL as it runs on `here`'s stand-ins: apt's state and chaton's marker in its scratch folder.
    fn install_on(here: &StandIns, simulated: &str) -> std::process::Output {
        here.program(
            "apt-get",
            &format!(
                "case $1 in -s) {simulated};; *) echo \"apt-get $*\" >> {0};; esac\n",
                here.path("calls").display()
            ),
        );
        here.program("apt-mark", &format!("echo \"apt-mark $*\" >> {}\n", here.path("calls").display()));
        let scratch = format!("{}/var/lib/", here.dir().display());
        here.run_with_args(&INSTALL.replace("/var/lib/", &scratch), &["nginx", "dehydrated"])
    }

    #[test]
    fn the_install_takes_the_pending_security_updates_and_leaves_their_dependencies_automatic() {
        let here = StandIns::new();
        std::fs::create_dir_all(here.path("var/lib/apt")).unwrap();
        std::fs::write(
            here.path("var/lib/apt/extended_states"),
            "Package: libc6\nArchitecture: amd64\nAuto-Installed: 1\n\nPackage: openssl\nArchitecture: amd64\nAuto-Installed: 0\n\nPackage: libssl3\nArchitecture: amd64\nAuto-Installed: 1\n",
        )
        .unwrap();
        let out = install_on(
            &here,
            "printf '%s\\n' 'Inst libc6 [2.36-9] (2.36-9+deb12u9 Debian-Security:12/stable-security [amd64])' \
             'Inst tzdata [2024a-0] (2025b-0 Debian:12.11/stable [all])' \
             'Inst openssl [3.0.15-1] (3.0.16-1 Debian-Security:12/stable-security [amd64])'",
        );
        assert!(out.status.success(), "{out:?}");
        let calls = std::fs::read_to_string(here.path("calls")).unwrap();
        let lines: Vec<&str> = calls.lines().collect();
        assert_eq!(lines.len(), 2, "{calls}");
        // The missing packages and the security updates, not the point release's tzdata.
        assert!(lines[0].starts_with("apt-get install --yes --no-install-recommends"), "{calls}");
        assert!(lines[0].ends_with(" nginx dehydrated libc6 openssl"), "{calls}");
        // libc6 was a dependency and stays one; openssl was installed by hand; libssl3 was not named.
        assert_eq!(lines[1], "apt-mark auto libc6");
        assert!(here.path("var/lib/chaton/security-updates-installed").exists());
    }

    #[test]
    fn an_install_that_could_not_list_the_security_updates_does_not_say_they_are_installed() {
        let here = StandIns::new();
        let out = install_on(&here, "echo 'E: The package lists are broken' >&2; exit 100");
        assert!(out.status.success(), "{out:?}");
        let calls = std::fs::read_to_string(here.path("calls")).unwrap();
        assert!(calls.trim_end().ends_with(" nginx dehydrated") && calls.lines().count() == 1, "{calls}");
        assert!(!here.path("var/lib/chaton/security-updates-installed").exists());
    }

    #[test]
    fn a_failed_install_leaves_no_mark_and_says_so() {
        let here = StandIns::new();
        here.program(
            "apt-get",
            "case $1 in -s) exit 0;; *) echo 'E: Unable to locate package nginx' >&2; exit 100;; esac\n",
        );
        let scratch = format!("{}/var/lib/", here.dir().display());
        let out = here.run_with_args(&INSTALL.replace("/var/lib/", &scratch), &["nginx"]);
        assert_eq!(out.status.code(), Some(100));
        assert!(!here.path("var/lib/chaton/security-updates-installed").exists());
    }
}
