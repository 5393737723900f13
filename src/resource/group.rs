//! Unix groups.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Action, Change, Conversion, Kind, Leaving, Problem, Resource, Spec, change, checks};
use crate::command::Command;
use crate::facts::{FactQuery, HostFacts, Undescribed};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub name: String,
    pub system: bool,
}

impl Kind for Group {
    const KIND: &'static str = "group";

    fn key(&self) -> String {
        self.name.clone()
    }

    fn wants(&self, query: &mut FactQuery) {
        query.groups.insert(self.name.clone());
    }

    fn plan(&self, facts: &HostFacts) -> Option<Change> {
        if facts.groups.contains_key(&self.name) {
            return None;
        }
        let mut argv = vec!["groupadd".to_owned()];
        if self.system {
            argv.push("--system".into());
        }
        argv.extend(["--".to_owned(), self.name.clone()]);
        Some(change(
            self.id(),
            Action::Create,
            None,
            Some(json!({ "system": self.system })),
            vec![format!("group {} does not exist", self.name)],
            vec![Command::new(argv)],
        ))
    }

    const PROBE: &'static str = "if getent group \"$n\" >/dev/null 2>&1; then st=present; else st=absent; fi";

    fn leaving(thing: &Undescribed, _facts: &HostFacts) -> Leaving {
        super::keep_if_present(thing, "files may still belong to it")
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    pub name: String,
    #[serde(default)]
    pub system: bool,
    pub when: Option<String>,
    pub for_each: Option<String>,
    #[serde(default)]
    pub notify: Vec<String>,
}

impl Spec for GroupSpec {
    const KIND: &'static str = <Group as Kind>::KIND;

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn convert(self, _conversion: &Conversion) -> Result<Vec<(Resource, Vec<String>)>, Problem> {
        checks::unix_name(&self.name)?;
        Ok(vec![(Resource::Group(Group { name: self.name, system: self.system }), self.notify)])
    }
}
