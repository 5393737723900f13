//! Directories with owner, group and mode.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::file::kind_name;
use super::{Action, Change, Conversion, Kind, Problem, Resource, Spec, change, checks, fix_metadata, owner_args};
use crate::command::Command;
use crate::facts::{FactQuery, HostFacts, PathState};
use crate::vocab::values::FileMode;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directory {
    pub path: String,
    pub owner: String,
    pub group: String,
    pub mode: FileMode,
}

impl Kind for Directory {
    const KIND: &'static str = "directory";

    fn key(&self) -> String {
        self.path.clone()
    }

    fn wants(&self, query: &mut FactQuery) {
        query.paths.insert(self.path.clone());
    }

    fn plan(&self, facts: &HostFacts) -> Option<Change> {
        let id = self.id();
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

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectorySpec {
    pub path: String,
    #[serde(default = "super::root")]
    pub owner: String,
    #[serde(default = "super::root")]
    pub group: String,
    pub mode: FileMode,
    pub when: Option<String>,
    pub for_each: Option<String>,
    #[serde(default)]
    pub notify: Vec<String>,
}

impl Spec for DirectorySpec {
    const KIND: &'static str = <Directory as Kind>::KIND;

    fn describe(&self) -> String {
        self.path.clone()
    }

    fn convert(self, _conversion: &Conversion) -> Result<Vec<(Resource, Vec<String>)>, Problem> {
        checks::path(&self.path)?;
        checks::owner(&self.owner, &self.group)?;
        let directory = Directory { path: self.path, owner: self.owner, group: self.group, mode: self.mode };
        Ok(vec![(Resource::Directory(directory), self.notify)])
    }
}
