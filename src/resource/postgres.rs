//! PostgreSQL roles and databases, the two kinds a service's recipe declares to get its
//! own database (`role` with a generated password, `database` owned by it).
//!
//! Names are SQL identifiers chaton checks (`[a-z_][a-z0-9_]*`, at most 63 bytes), so they
//! are written into SQL double-quoted without further escaping. A role's password is a
//! generated secret: it is read from its file on the server by the shell that feeds psql,
//! so it never travels, never shows in a process list (printf is a shell builtin), and is
//! set once, when the role is created.

use serde::Serialize;
use serde_json::json;

use super::{Action, Change, ResourceId, change};
use crate::command::Command;
use crate::facts::HostFacts;

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

impl Role {
    pub fn id(&self) -> ResourceId {
        ResourceId { kind: "role".into(), name: self.name.clone() }
    }

    pub fn plan(&self, facts: &HostFacts) -> Option<Change> {
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
}

impl Database {
    pub fn id(&self) -> ResourceId {
        ResourceId { kind: "database".into(), name: self.name.clone() }
    }

    pub fn plan(&self, facts: &HostFacts) -> Option<Change> {
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
