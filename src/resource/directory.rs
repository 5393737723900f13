//! Directories with owner, group and mode.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::file::kind_name;
use super::{
    Action, Change, Conversion, Kind, Leaving, Problem, Resource, Spec, change, checks, fix_metadata, owner_args,
};
use crate::command::Command;
use crate::facts::{FactQuery, HostFacts, PathState, Undescribed};
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

    const PROBE: &'static str =
        "if [ -d \"$n\" ]; then st=\"present $(du -sk -- \"$n\" 2>/dev/null | cut -f1)\"; else st=absent; fi";

    /// A folder holds data (user files, repositories): kept, with its size.
    fn leaving(thing: &Undescribed, _facts: &HostFacts) -> Leaving {
        if !super::present(thing) {
            return Leaving::Nothing;
        }
        let size = thing.state.split_whitespace().nth(1).and_then(|k| k.parse::<u64>().ok());
        let size = size.map(|k| format!("{}, ", human_size(k * 1024))).unwrap_or_default();
        Leaving::Keep(format!("{size}data is never deleted by a plan: remove it by hand once you no longer need it"))
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

/// `12.3 MB`, in powers of 1000 as people read sizes.
fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < units.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", units[unit]) }
}
