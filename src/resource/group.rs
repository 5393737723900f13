//! Unix groups.

use serde::Serialize;
use serde_json::json;

use super::{Action, Change, ResourceId, change};
use crate::command::Command;
use crate::facts::HostFacts;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub name: String,
    pub system: bool,
}

impl Group {
    pub fn plan(&self, facts: &HostFacts) -> Option<Change> {
        if facts.groups.contains_key(&self.name) {
            return None;
        }
        let mut argv = vec!["groupadd".to_owned()];
        if self.system {
            argv.push("--system".into());
        }
        argv.extend(["--".to_owned(), self.name.clone()]);
        Some(change(
            ResourceId { kind: "group".into(), name: self.name.clone() },
            Action::Create,
            None,
            Some(json!({ "system": self.system })),
            vec![format!("group {} does not exist", self.name)],
            vec![Command::new(argv)],
        ))
    }
}
