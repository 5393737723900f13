//! Unix accounts: people (admins) and system users that services run as.

use serde::Serialize;
use serde_json::json;

use super::{Action, Change, ResourceId, change};
use crate::command::Command;
use crate::facts::HostFacts;

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

    pub fn plan(&self, facts: &HostFacts) -> Option<Change> {
        let id = ResourceId { kind: "user".into(), name: self.name.clone() };
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
}
