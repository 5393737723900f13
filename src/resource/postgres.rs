//! PostgreSQL roles and databases, the two kinds a service's recipe declares to get its
//! own database (`role` with a generated password, `database` owned by it).
//!
//! Names are SQL identifiers chaton checks (`[a-z_][a-z0-9_]*`, at most 63 bytes), so they
//! are written into SQL double-quoted without further escaping. A role's password is a
//! generated secret: it is read from its file on the server by the shell that feeds psql,
//! so it never travels, never shows in a process list (printf is a shell builtin), and is
//! set when the role is created (and again by a move's import, `SET_ROLE_PASSWORD`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::secret;
use super::{Action, Change, Conversion, Kind, Leaving, Problem, Resource, Spec, change, checks};
use crate::command::Command;
use crate::diagnostic::quoted;
use crate::facts::{FactQuery, HostFacts, Undescribed};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Role {
    pub name: String,
    /// The secret file holding its password, on the server.
    pub password_file: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Database {
    pub name: String,
    pub owner: String,
}

/// Creates a login role; `$1` is its name, `$2` the file holding its password (or empty).
const CREATE_ROLE: &str = r#"if [ -n "$2" ]; then printf 'CREATE ROLE "%s" LOGIN PASSWORD '"'"'%s'"'"';\n' "$1" "$(cat -- "$2")"; else printf 'CREATE ROLE "%s" LOGIN;\n' "$1"; fi | runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1"#;

/// Sets a role's password again from its file; `$1` is its name, `$2` the file. A moved
/// service brings its own secrets: its role on the new server must take them.
pub const SET_ROLE_PASSWORD: &str = r#"printf 'ALTER ROLE "%s" PASSWORD '"'"'%s'"'"';\n' "$1" "$(cat -- "$2")" | runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1"#;

/// Whether `name` can be a role or database name chaton writes into SQL as is.
pub fn is_sql_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 63
        && chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn psql(sql: String) -> Command {
    Command::new(["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", &sql])
}

impl Kind for Role {
    const KIND: &'static str = "role";

    fn key(&self) -> String {
        self.name.clone()
    }

    fn wants(&self, query: &mut FactQuery) {
        query.postgres = true;
    }

    fn plan(&self, facts: &HostFacts) -> Option<Change> {
        if facts.postgres.as_ref().is_some_and(|pg| pg.roles.contains(&self.name)) {
            return None;
        }
        let reason = match &facts.postgres {
            Some(_) => format!("PostgreSQL has no role {}", self.name),
            None => "PostgreSQL is not running yet".to_owned(),
        };
        let file = self.password_file.clone().unwrap_or_default();
        Some(change(
            self.id(),
            Action::Create,
            None,
            Some(json!({ "login": true, "password": self.password_file.is_some() })),
            vec![reason],
            vec![Command::new(["sh", "-c", CREATE_ROLE, "sh", &self.name, &file])],
        ))
    }

    fn leaving(thing: &Undescribed, facts: &HostFacts) -> Leaving {
        let there = facts.postgres.as_ref().is_some_and(|pg| pg.roles.contains(&thing.name));
        if there {
            Leaving::Keep("data is never deleted by a plan: drop it by hand once you no longer need it".into())
        } else {
            Leaving::Nothing
        }
    }
}

impl Kind for Database {
    const KIND: &'static str = "database";

    fn key(&self) -> String {
        self.name.clone()
    }

    fn wants(&self, query: &mut FactQuery) {
        query.postgres = true;
    }

    fn plan(&self, facts: &HostFacts) -> Option<Change> {
        let owner = facts.postgres.as_ref().and_then(|pg| pg.databases.get(&self.name));
        match owner {
            Some(owner) if *owner == self.owner => None,
            Some(owner) => Some(change(
                self.id(),
                Action::Update,
                Some(json!({ "owner": owner })),
                Some(json!({ "owner": self.owner })),
                vec![format!("database {} belongs to {owner}, should belong to {}", self.name, self.owner)],
                vec![psql(format!("ALTER DATABASE \"{}\" OWNER TO \"{}\"", self.name, self.owner))],
            )),
            None => Some(change(
                self.id(),
                Action::Create,
                None,
                Some(json!({ "owner": self.owner })),
                vec![match &facts.postgres {
                    Some(_) => format!("PostgreSQL has no database {}", self.name),
                    None => "PostgreSQL is not running yet".to_owned(),
                }],
                vec![Command::new([
                    "runuser",
                    "-u",
                    "postgres",
                    "--",
                    "createdb",
                    "--owner",
                    &self.owner,
                    "--",
                    &self.name,
                ])],
            )),
        }
    }

    fn leaving(thing: &Undescribed, facts: &HostFacts) -> Leaving {
        let there = facts.postgres.as_ref().is_some_and(|pg| pg.databases.contains_key(&thing.name));
        if there {
            Leaving::Keep("data is never deleted by a plan: drop it by hand once you no longer need it".into())
        } else {
            Leaving::Nothing
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    /// Lowercase letters, digits and `_`.
    pub name: String,
    /// A generated secret of this recipe: `"{{ secrets.db_password }}"`.
    pub password: Option<String>,
    pub when: Option<String>,
    pub for_each: Option<String>,
    #[serde(default)]
    pub notify: Vec<String>,
}

impl Spec for RoleSpec {
    const KIND: &'static str = <Role as Kind>::KIND;

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn convert(self, conversion: &Conversion) -> Result<Vec<(Resource, Vec<String>)>, Problem> {
        checks::sql_identifier(&self.name)?;
        let password_file = match &self.password {
            None => None,
            Some(text) => match secret::placeholders(text).as_slice() {
                [(placeholder, id)] if *placeholder == text.trim() && conversion.secrets.contains(placeholder) => {
                    Some(secret::path_of(conversion.state_dir, id))
                }
                _ => {
                    return Err(Problem::Message(format!(
                        "the password of role {} must be one generated secret of this recipe, written \"{{{{ secrets.NAME }}}}\"",
                        quoted(&self.name)
                    )));
                }
            },
        };
        Ok(vec![(Resource::Role(Role { name: self.name, password_file }), self.notify)])
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSpec {
    pub name: String,
    /// The role that owns it.
    pub owner: String,
    pub when: Option<String>,
    pub for_each: Option<String>,
    #[serde(default)]
    pub notify: Vec<String>,
}

impl Spec for DatabaseSpec {
    const KIND: &'static str = <Database as Kind>::KIND;

    fn describe(&self) -> String {
        format!("{} owned by {}", self.name, self.owner)
    }

    fn convert(self, _conversion: &Conversion) -> Result<Vec<(Resource, Vec<String>)>, Problem> {
        checks::sql_identifier(&self.name)?;
        checks::sql_identifier(&self.owner)?;
        Ok(vec![(Resource::Database(Database { name: self.name, owner: self.owner }), self.notify)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(is_sql_identifier("nextcloud") && is_sql_identifier("pad_1") && is_sql_identifier("_x"));
        for bad in ["", "Nextcloud", "1pad", "pad-1", "a\"b", "a b", &"a".repeat(64)] {
            assert!(!is_sql_identifier(bad), "{bad}");
        }
    }
}
