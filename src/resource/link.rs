//! Symbolic links.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::file::kind_name;
use super::{Action, Change, Conversion, Kind, Leaving, Problem, Resource, Spec, change, checks};
use crate::command::Command;
use crate::facts::{FactQuery, HostFacts, PathState, Undescribed};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub path: String,
    pub target: String,
}

impl Kind for Link {
    const KIND: &'static str = "link";

    fn key(&self) -> String {
        self.path.clone()
    }

    fn wants(&self, query: &mut FactQuery) {
        query.paths.insert(self.path.clone());
    }

    fn plan(&self, facts: &HostFacts) -> Option<Change> {
        let id = self.id();
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

    fn written_path(&self) -> Option<&str> {
        Some(&self.path)
    }

    const PROBE: &'static str = super::PATH_PROBE;

    fn leaving(thing: &Undescribed, _facts: &HostFacts) -> Leaving {
        super::remove_path(thing)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    pub path: String,
    pub target: String,
    pub when: Option<String>,
    pub for_each: Option<String>,
    #[serde(default)]
    pub notify: Vec<String>,
}

impl Spec for LinkSpec {
    const KIND: &'static str = <Link as Kind>::KIND;

    fn describe(&self) -> String {
        format!("{} -> {}", self.path, self.target)
    }

    fn convert(self, _conversion: &Conversion) -> Result<Vec<(Resource, Vec<String>)>, Problem> {
        checks::path(&self.path)?;
        checks::text(&self.target, "link target")?;
        Ok(vec![(Resource::Link(Link { path: self.path, target: self.target }), self.notify)])
    }
}
