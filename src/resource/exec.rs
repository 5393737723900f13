//! Guarded commands: run only when `creates` names a missing path or the `unless` command
//! fails. A command without a guard is refused by the recipe checks: it would never converge.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Action, Change, Conversion, Kind, Problem, Resource, Spec, change, checks};
use crate::command::Command;
use crate::facts::{FactQuery, HostFacts, PathState};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exec {
    pub run: Vec<String>,
    pub creates: Option<String>,
    pub unless: Option<Vec<String>>,
    /// Shown in the plan when the command runs (`CommandSpec::explain`).
    pub explain: Option<Vec<String>>,
}

impl Exec {
    /// Key of the `unless` guard in the facts: its command rendered as shell text.
    pub fn guard_key(unless: &[String]) -> String {
        crate::shell::render(&Command::read_only(unless.to_vec()))
    }
}

impl Kind for Exec {
    const KIND: &'static str = "command";

    fn key(&self) -> String {
        self.run.join(" ")
    }

    fn wants(&self, query: &mut FactQuery) {
        if let Some(path) = &self.creates {
            query.paths.insert(path.clone());
        }
        if let Some(unless) = &self.unless {
            query.guards.insert(Self::guard_key(unless));
        }
        if let Some(explain) = &self.explain {
            // Run only while the guard says the command will: a no-op pays nothing for it.
            let mut runs = Vec::new();
            if let Some(path) = &self.creates {
                runs.push(format!("[ ! -e {} ]", crate::shell::quote(path)));
            }
            if let Some(unless) = &self.unless {
                runs.push(format!("! ( {} ) </dev/null >/dev/null 2>&1", Self::guard_key(unless)));
            }
            query.explains.insert(Self::guard_key(explain), runs.join(" && "));
        }
    }

    fn plan(&self, facts: &HostFacts) -> Option<Change> {
        let mut reasons = Vec::new();
        if let Some(path) = &self.creates {
            if *facts.path(path) != PathState::Missing {
                return None;
            }
            reasons.push(format!("{path} does not exist yet"));
        }
        if let Some(unless) = &self.unless {
            let key = Self::guard_key(unless);
            if facts.guards.get(&key).copied().unwrap_or(false) {
                return None;
            }
            reasons.push(format!("`{key}` does not succeed yet"));
        }
        let note = self.explain.as_ref().and_then(|e| facts.explanations.get(&Self::guard_key(e))).cloned();
        let mut change = change(
            self.id(),
            Action::Run,
            None,
            Some(json!({ "run": self.run })),
            reasons,
            vec![Command::new(self.run.clone())],
        );
        change.note = note;
        Some(change)
    }

    fn recorded(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A command, run only when its guard says it is needed.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    /// Program and arguments (no shell).
    pub run: Vec<String>,
    /// Skip when this path exists.
    pub creates: Option<String>,
    /// Skip when this command succeeds.
    pub unless: Option<Vec<String>>,
    /// A read-only command whose first line of output the plan shows beside this one when
    /// it is about to run (what it will do: "12 security update(s) pending"). Gathered with
    /// the facts, only while the guard says the command runs.
    pub explain: Option<Vec<String>>,
    pub when: Option<String>,
    pub for_each: Option<String>,
    #[serde(default)]
    pub notify: Vec<String>,
}

impl Spec for CommandSpec {
    const KIND: &'static str = <Exec as Kind>::KIND;

    fn describe(&self) -> String {
        super::shortened(&self.run.join(" "))
    }

    fn convert(self, _conversion: &Conversion) -> Result<Vec<(Resource, Vec<String>)>, Problem> {
        checks::argv(&self.run)?;
        if let Some(u) = &self.unless {
            checks::argv(u)?;
        }
        if let Some(p) = &self.creates {
            checks::path(p)?;
        }
        if let Some(e) = &self.explain {
            checks::argv(e)?;
        }
        let exec = Exec { run: self.run, creates: self.creates, unless: self.unless, explain: self.explain };
        Ok(vec![(Resource::Command(exec), self.notify)])
    }
}
