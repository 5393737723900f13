//! Symbolic links.

use serde::Serialize;
use serde_json::json;

use super::file::kind_name;
use super::{Action, Change, ResourceId, change};
use crate::command::Command;
use crate::facts::{HostFacts, PathState};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub path: String,
    pub target: String,
}

impl Link {
    pub fn plan(&self, facts: &HostFacts) -> Option<Change> {
        let id = ResourceId { kind: "link".into(), name: self.path.clone() };
        let (action, before, reason) = match facts.path(&self.path) {
            PathState::Symlink { target } if *target == self.target => return None,
            PathState::Symlink { target } => (
                Action::Update,
                Some(json!({ "target": target })),
                format!("points to {target}, should point to {}", self.target),
            ),
            PathState::Missing => (Action::Create, None, format!("{} does not exist", self.path)),
            other => (
                Action::Update,
                Some(json!({ "type": kind_name(other) })),
                format!("{} is a {}, not a link", self.path, kind_name(other)),
            ),
        };
        let command = Command::new([
            "ln",
            "--symbolic",
            "--force",
            "--no-dereference",
            "--no-target-directory",
            &self.target,
            &self.path,
        ]);
        Some(change(id, action, before, Some(json!({ "target": self.target })), vec![reason], vec![command]))
    }
}
