//! Directories with owner, group and mode.

use serde::Serialize;
use serde_json::json;

use super::file::kind_name;
use super::{Action, Change, ResourceId, change, fix_metadata, owner_args};
use crate::command::Command;
use crate::facts::{HostFacts, PathState};
use crate::vocab::values::FileMode;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directory {
    pub path: String,
    pub owner: String,
    pub group: String,
    pub mode: FileMode,
}

impl Directory {
    pub fn plan(&self, facts: &HostFacts) -> Option<Change> {
        let id = ResourceId { kind: "directory".into(), name: self.path.clone() };
        let want = json!({ "owner": self.owner, "group": self.group, "mode": self.mode });
        match facts.path(&self.path) {
            PathState::Directory { owner, group, mode } => {
                let mut reasons = Vec::new();
                let mut commands = Vec::new();
                fix_metadata(
                    &self.path,
                    (owner, group, *mode),
                    (&self.owner, &self.group, self.mode),
                    &mut reasons,
                    &mut commands,
                );
                if commands.is_empty() {
                    return None;
                }
                let before = json!({ "owner": owner, "group": group, "mode": mode });
                Some(change(id, Action::Update, Some(before), Some(want), reasons, commands))
            }
            other => {
                let mut argv = vec!["install".to_owned(), "-d".to_owned()];
                argv.extend(owner_args(&self.owner, &self.group, self.mode));
                argv.push(self.path.clone());
                let (action, reason) = match other {
                    PathState::Missing => (Action::Create, format!("{} does not exist", self.path)),
                    other => (Action::Update, format!("{} is a {}, not a directory", self.path, kind_name(other))),
                };
                Some(change(id, action, None, Some(want), vec![reason], vec![Command::new(argv)]))
            }
        }
    }
}
