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
/// pending on the server join the same apt run: apt resolves and runs dpkg's triggers once,
/// and a new package never lands next to a known hole. They are the installed packages
/// (not held) that a Debian-Security list offers in a newer version, found with one `awk`
/// over those lists and dpkg's own: `apt-get -s upgrade` says the same but loads apt's
/// cache and solves a whole upgrade to do it, 0.5 to 0.9 s of a first apply. Naming them
/// to apt marks them installed by hand, so those that were dependencies are marked so again
/// afterwards (autoremove keeps working); which those are is read from apt's own list of
/// them, not asked of `apt-mark`, which loads apt's whole cache to answer. When the run
/// took every pending update, it leaves /var/lib/chaton/security-updates-installed: the
/// base recipe's first security update (recipes/base/recipe.yml) then has nothing to do and
/// does not start unattended-upgrade, which takes 1.5 to 2.5 s to find that out. Lists apt
/// keeps compressed, or none from Debian-Security, leave no mark: unattended-upgrade runs.
const INSTALL: &str = concat!(
    r#"sec=$(for r in /var/lib/apt/lists/*_InRelease; do grep -qsx 'Label: Debian-Security' "$r" && "#,
    r#"ls -d "${r%InRelease}"*_Packages; done 2>/dev/null); current=; up=; "#,
    r#"if [ -n "$sec" ] && have=$(dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Architecture} ${Version}\n') "#,
    r#"&& arch=$(dpkg --print-architecture); then current=1; "#,
    r#"for found in $(printf '%s\n' "$have" | awk -v arch="$arch" "#,
    r#"'function offered() { k = p " " a; if (k in have && have[k] != v) "#,
    r#"print (a == arch || a == "all" ? p : p ":" a) "=" have[k] "=" v; p = "" } "#,
    r#"FNR == NR { if ($1 == "ii") have[$2 " " $3] = $4; next } /^Package: / { p = $2 } "#,
    r#"/^Architecture: / { a = $2 } /^Version: / { v = $2 } /^$/ && p != "" { offered() } "#,
    r#"END { if (p != "") offered() }' - $sec); do "#,
    r#"name=${found%%=*}; versions=${found#*=}; "#,
    r#"dpkg --compare-versions "${versions#*=}" gt "${versions%%=*}" || continue; "#,
    r#"case " $up " in *" $name "*) ;; *) up="$up $name" ;; esac; done; fi; "#,
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

    const SECURITY_LIST: &str = "var/lib/apt/lists/security.example_debian-security_dists_bookworm-security";

    /// A server's apt state in `here`'s scratch folder: dpkg's view of what is installed
    /// (`dpkg-query`'s lines), and Debian-Security's list with `offered` as its packages.
    fn server(here: &StandIns, installed: &str, offered: &str) {
        std::fs::create_dir_all(here.path("var/lib/apt/lists")).unwrap();
        std::fs::write(here.path(&format!("{SECURITY_LIST}_InRelease")), "Origin: Debian\nLabel: Debian-Security\n")
            .unwrap();
        std::fs::write(here.path(&format!("{SECURITY_LIST}_main_binary-amd64_Packages")), offered).unwrap();
        // Debian's own point release offers newer versions too: they are not security updates.
        std::fs::write(
            here.path("var/lib/apt/lists/security.example_debian_dists_bookworm_InRelease"),
            "Origin: Debian\nLabel: Debian\n",
        )
        .unwrap();
        std::fs::write(
            here.path("var/lib/apt/lists/security.example_debian_dists_bookworm_main_binary-amd64_Packages"),
            "Package: tzdata\nVersion: 2025b-0\nArchitecture: all\n",
        )
        .unwrap();
        here.program("dpkg-query", &format!("printf '%s' '{installed}'\n"));
    }

    /// INSTALL as it runs on `here`'s stand-ins, with `apt-get install` doing `install`:
    /// apt's state and chaton's marker in its scratch folder.
    fn install_on(here: &StandIns, install: &str) -> std::process::Output {
        let calls = here.path("calls");
        here.program("apt-get", &format!("echo \"apt-get $*\" >> {}\n{install}\n", calls.display()));
        here.program("apt-mark", &format!("echo \"apt-mark $*\" >> {}\n", calls.display()));
        // dpkg compares versions for real; the architecture is the one the lists are for.
        here.program("dpkg", "[ \"$1\" = --print-architecture ] && echo amd64 && exit; exec /usr/bin/dpkg \"$@\"\n");
        let scratch = here.path("var/lib/").display().to_string();
        here.run_with_args(&INSTALL.replace("/var/lib/", &scratch), &["nginx", "dehydrated"])
    }

    fn calls(here: &StandIns) -> Vec<String> {
        std::fs::read_to_string(here.path("calls")).unwrap().lines().map(String::from).collect()
    }

    #[test]
    fn the_install_takes_the_pending_security_updates_and_leaves_their_dependencies_automatic() {
        let here = StandIns::new();
        server(
            &here,
            "ii  libc6 amd64 2.36-9\nii  openssl amd64 3.0.15-1\nii  libssl3 amd64 3.0.16-1\n\
             ii  tzdata all 2024a-0\nhi  curl amd64 7.88.1-10\nii  zlib1g amd64 1:1.2.13.dfsg-1\n",
            // openssl twice, as a list may; libssl3 already at the offered version; zlib1g's
            // offered version is older than the installed one (epoch); curl is held.
            "Package: libc6\nVersion: 2.36-9+deb12u9\nArchitecture: amd64\n\n\
             Package: openssl\nSource: openssl\nVersion: 3.0.14-1\nArchitecture: amd64\n\n\
             Package: openssl\nVersion: 3.0.16-1\nArchitecture: amd64\n\n\
             Package: libssl3\nVersion: 3.0.16-1\nArchitecture: amd64\n\n\
             Package: zlib1g\nVersion: 1.2.13.dfsg-1+deb12u1\nArchitecture: amd64\n\n\
             Package: curl\nVersion: 7.88.1-10+deb12u8\nArchitecture: amd64",
        );
        std::fs::write(
            here.path("var/lib/apt/extended_states"),
            "Package: libc6\nArchitecture: amd64\nAuto-Installed: 1\n\nPackage: openssl\nArchitecture: amd64\nAuto-Installed: 0\n\nPackage: libssl3\nArchitecture: amd64\nAuto-Installed: 1\n",
        )
        .unwrap();
        let out = install_on(&here, "");
        assert!(out.status.success(), "{out:?}");
        let calls = calls(&here);
        assert_eq!(calls.len(), 2, "{calls:?}");
        // The missing packages and the security updates; not the point release's tzdata, not
        // an older or the same version, not a held package.
        assert!(calls[0].starts_with("apt-get install --yes --no-install-recommends"), "{calls:?}");
        assert!(calls[0].ends_with(" nginx dehydrated libc6 openssl"), "{calls:?}");
        // libc6 was a dependency and stays one; openssl was installed by hand.
        assert_eq!(calls[1], "apt-mark auto libc6");
        assert!(here.path("var/lib/chaton/security-updates-installed").exists());
    }

    #[test]
    fn a_package_of_another_architecture_is_named_with_it() {
        let here = StandIns::new();
        server(
            &here,
            "ii  libc6 amd64 2.36-9+deb12u9\nii  libc6 i386 2.36-9\n",
            "Package: libc6\nVersion: 2.36-9+deb12u9\nArchitecture: i386\n",
        );
        let out = install_on(&here, "");
        assert!(out.status.success(), "{out:?}");
        assert!(calls(&here)[0].ends_with(" nginx dehydrated libc6:i386"), "{:?}", calls(&here));
    }

    #[test]
    fn an_install_without_a_security_list_does_not_say_the_updates_are_installed() {
        let here = StandIns::new();
        here.program("dpkg-query", "echo 'ii  libc6 amd64 2.36-9'\n");
        let out = install_on(&here, "");
        assert!(out.status.success(), "{out:?}");
        let calls = calls(&here);
        assert!(calls.len() == 1 && calls[0].ends_with(" nginx dehydrated"), "{calls:?}");
        assert!(!here.path("var/lib/chaton/security-updates-installed").exists());
    }

    #[test]
    fn an_install_that_could_not_read_dpkg_does_not_say_the_updates_are_installed() {
        let here = StandIns::new();
        server(&here, "", "Package: libc6\nVersion: 2.36-9+deb12u9\nArchitecture: amd64\n");
        here.program("dpkg-query", "echo 'dpkg-query: error: parsing file' >&2; exit 2\n");
        let out = install_on(&here, "");
        assert!(out.status.success(), "{out:?}");
        assert!(calls(&here)[0].ends_with(" nginx dehydrated"), "{:?}", calls(&here));
        assert!(!here.path("var/lib/chaton/security-updates-installed").exists());
    }

    #[test]
    fn a_failed_install_leaves_no_mark_and_says_so() {
        let here = StandIns::new();
        server(&here, "ii  libc6 amd64 2.36-9\n", "Package: libc6\nVersion: 2.36-9+deb12u9\nArchitecture: amd64\n");
        let out = install_on(&here, "echo 'E: Unable to locate package nginx' >&2; exit 100");
        assert_eq!(out.status.code(), Some(100));
        assert!(!here.path("var/lib/chaton/security-updates-installed").exists());
    }
}
