//! Unix accounts: people (admins) and system users that services run as.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Action, Change, Conversion, Kind, Leaving, Problem, Resource, Spec, change, checks};
use crate::command::Command;
use crate::facts::{FactQuery, HostFacts, Undescribed};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub name: String,
    pub system: bool,
    pub home: Option<String>,
    pub shell: Option<String>,
    /// Supplementary groups the user must be in (others are left alone).
    pub groups: Vec<String>,
}

impl User {
    fn shell(&self) -> &str {
        self.shell.as_deref().unwrap_or(if self.system { "/usr/sbin/nologin" } else { "/bin/bash" })
    }

    fn home(&self) -> String {
        self.home
            .clone()
            .unwrap_or_else(|| if self.system { "/nonexistent".into() } else { format!("/home/{}", self.name) })
    }
}

impl Kind for User {
    const KIND: &'static str = "user";

    fn key(&self) -> String {
        self.name.clone()
    }

    fn wants(&self, query: &mut FactQuery) {
        query.users.insert(self.name.clone());
    }

    fn plan(&self, facts: &HostFacts) -> Option<Change> {
        let id = self.id();
        let want = json!({ "home": self.home(), "shell": self.shell(), "groups": self.groups });
        let Some(have) = facts.users.get(&self.name) else {
            let mut argv = vec!["useradd".to_owned()];
            if self.system {
                argv.extend(["--system".into(), "--no-create-home".into(), "--user-group".into()]);
            } else {
                argv.extend(["--create-home".into(), "--user-group".into()]);
            }
            argv.extend(["--home-dir".into(), self.home(), "--shell".into(), self.shell().to_owned()]);
            if !self.groups.is_empty() {
                argv.extend(["--groups".into(), self.groups.join(",")]);
            }
            argv.extend(["--".to_owned(), self.name.clone()]);
            return Some(change(
                id,
                Action::Create,
                None,
                Some(want),
                vec![format!("user {} does not exist", self.name)],
                vec![Command::new(argv)],
            ));
        };
        let mut reasons = Vec::new();
        let mut argv = vec!["usermod".to_owned()];
        if have.shell != self.shell() {
            reasons.push(format!("shell is {}, should be {}", have.shell, self.shell()));
            argv.extend(["--shell".into(), self.shell().to_owned()]);
        }
        if have.home != self.home() {
            reasons.push(format!("home is {}, should be {}", have.home, self.home()));
            argv.extend(["--home".into(), self.home()]);
        }
        let missing: Vec<&String> = self.groups.iter().filter(|g| !have.groups.contains(*g)).collect();
        if !missing.is_empty() {
            reasons.push(format!("not in group {}", missing.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(", ")));
            argv.extend([
                "--append".into(),
                "--groups".into(),
                missing.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(","),
            ]);
        }
        if reasons.is_empty() {
            return None;
        }
        argv.extend(["--".to_owned(), self.name.clone()]);
        let before = json!({ "home": have.home, "shell": have.shell, "groups": have.groups });
        Some(change(id, Action::Update, Some(before), Some(want), reasons, vec![Command::new(argv)]))
    }

    const PROBE: &'static str = "if id -u -- \"$n\" >/dev/null 2>&1; then st=present; else st=absent; fi";

    fn leaving(thing: &Undescribed, _facts: &HostFacts) -> Leaving {
        super::keep_if_present(thing, "files may still belong to it")
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub name: String,
    #[serde(default)]
    pub system: bool,
    pub home: Option<String>,
    pub shell: Option<String>,
    /// Supplementary groups.
    #[serde(default)]
    pub groups: Vec<String>,
    pub when: Option<String>,
    pub for_each: Option<String>,
    #[serde(default)]
    pub notify: Vec<String>,
}

impl Spec for UserSpec {
    const KIND: &'static str = <User as Kind>::KIND;

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn convert(self, _conversion: &Conversion) -> Result<Vec<(Resource, Vec<String>)>, Problem> {
        checks::unix_name(&self.name)?;
        for g in &self.groups {
            checks::unix_name(g)?;
        }
        if let Some(home) = &self.home {
            checks::path(home)?;
        }
        if let Some(shell) = &self.shell {
            checks::path(shell)?;
        }
        let user =
            User { name: self.name, system: self.system, home: self.home, shell: self.shell, groups: self.groups };
        Ok(vec![(Resource::User(user), self.notify)])
    }
}
