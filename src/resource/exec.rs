//! Guarded commands: run only when `creates` names a missing path or the `unless` command
//! fails. A command without a guard is refused by the recipe checks: it would never converge.

use serde::Serialize;
use serde_json::json;

use super::{Action, Change, ResourceId, change};
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

    pub fn wants(&self, query: &mut FactQuery) {
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

    pub fn plan(&self, facts: &HostFacts) -> Option<Change> {
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
            ResourceId { kind: "command".into(), name: self.run.join(" ") },
            Action::Run,
            None,
            Some(json!({ "run": self.run })),
            reasons,
            vec![Command::new(self.run.clone())],
        );
        change.note = note;
        Some(change)
    }
}
