//! Resource kinds: a closed set of things chaton manages on a server.
//!
//! Each kind is a pure function `desired + facts -> Option<Change>`: `None` when the server
//! already matches, otherwise the change with its reasons and the exact commands that make
//! it. Each kind also says which facts it needs (`wants`), so one script can gather them all.

pub mod directory;
pub mod download;
pub mod exec;
pub mod file;
pub mod firewall;
pub mod group;
pub mod link;
pub mod package;
pub mod postgres;
pub mod secret;
pub mod service;
pub mod user;

use serde::Serialize;

use crate::command::Command;
use crate::facts::{FactQuery, HostFacts};

pub use directory::Directory;
pub use download::Download;
pub use exec::Exec;
pub use file::File;
pub use firewall::FirewallPort;
pub use group::Group;
pub use link::Link;
pub use package::Package;
pub use postgres::{Database, Role};
pub use secret::Secret;
pub use service::Service;
pub use user::User;

/// One desired resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resource {
    Package(Package),
    File(File),
    Directory(Directory),
    Link(Link),
    User(User),
    Group(Group),
    Service(Service),
    FirewallPort(FirewallPort),
    Download(Download),
    Command(Exec),
    Secret(Secret),
    Role(Role),
    Database(Database),
}

/// What a resource is, for people and for matching: kind and key (`file /etc/motd`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
pub struct ResourceId {
    pub kind: String,
    pub name: String,
}

impl std::fmt::Display for ResourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, crate::diagnostic::sanitize(&self.name))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Delete,
    /// A guarded command whose guard says it must run.
    Run,
}

impl Action {
    pub fn symbol(self) -> char {
        match self {
            Action::Create => '+',
            Action::Update => '~',
            Action::Delete => '-',
            Action::Run => '!',
        }
    }
}

/// The difference between a resource on the server and as desired, with the commands
/// that remove it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub resource: ResourceId,
    pub action: Action,
    /// A summary of the state before and after (never file contents).
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    /// Why the change is needed, one plain sentence each.
    pub reasons: Vec<String>,
    /// Unified diff of a text file's content; a placeholder for sensitive files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    pub commands: Vec<Command>,
    /// Temporary files to remove if one of the commands fails.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cleanup: Vec<String>,
    /// The file this change replaces decides chaton's access: back it up first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guards_access: Option<String>,
    /// What the server says this change will do, shown under it in every plan (a command's
    /// `explain`: "12 security update(s) pending").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Resource {
    pub fn id(&self) -> ResourceId {
        let (kind, name) = match self {
            Resource::Package(r) => ("package", r.names.join(" ")),
            Resource::File(r) => ("file", r.path.clone()),
            Resource::Directory(r) => ("directory", r.path.clone()),
            Resource::Link(r) => ("link", r.path.clone()),
            Resource::User(r) => ("user", r.name.clone()),
            Resource::Group(r) => ("group", r.name.clone()),
            Resource::Service(r) => ("service", r.unit.clone()),
            Resource::FirewallPort(r) => ("firewall_port", format!("{}/{}", r.port, r.proto)),
            Resource::Download(r) => ("download", r.path.clone()),
            Resource::Command(r) => ("command", r.run.join(" ")),
            Resource::Secret(r) => ("secret", r.id.clone()),
            Resource::Role(r) => return r.id(),
            Resource::Database(r) => return r.id(),
        };
        ResourceId { kind: kind.to_owned(), name }
    }

    /// Adds the facts this resource needs to `query`.
    pub fn wants(&self, query: &mut FactQuery) {
        match self {
            Resource::Package(_) => query.packages = true,
            Resource::File(r) => {
                query.paths.insert(r.path.clone());
                if !r.secrets.is_empty() {
                    let pairs =
                        r.secrets.iter().map(|(placeholder, file)| (file.clone(), placeholder.clone())).collect();
                    query.masked.insert(r.path.clone(), pairs);
                } else if !r.sensitive {
                    query.texts.insert(r.path.clone(), r.sha256());
                }
            }
            Resource::Directory(r) => {
                query.paths.insert(r.path.clone());
            }
            Resource::Link(r) => {
                query.paths.insert(r.path.clone());
            }
            Resource::User(r) => {
                query.users.insert(r.name.clone());
            }
            Resource::Group(r) => {
                query.groups.insert(r.name.clone());
            }
            Resource::Service(r) => {
                query.units.insert(r.unit.clone());
                query.container |= r.not_in_containers;
            }
            Resource::FirewallPort(_) => query.firewall = true,
            Resource::Download(r) => {
                query.paths.insert(r.path.clone());
            }
            Resource::Command(r) => r.wants(query),
            Resource::Secret(r) => {
                query.paths.insert(r.path());
            }
            Resource::Role(_) | Resource::Database(_) => query.postgres = true,
        }
    }

    /// The change needed to make the server match, or `None` when it already does.
    pub fn plan(&self, facts: &HostFacts) -> Option<Change> {
        match self {
            Resource::Package(r) => r.plan(facts),
            Resource::File(r) => r.plan(facts),
            Resource::Directory(r) => r.plan(facts),
            Resource::Link(r) => r.plan(facts),
            Resource::User(r) => r.plan(facts),
            Resource::Group(r) => r.plan(facts),
            Resource::Service(r) => r.plan(facts),
            Resource::FirewallPort(r) => r.plan(facts),
            Resource::Download(r) => r.plan(facts),
            Resource::Command(r) => r.plan(facts),
            Resource::Secret(r) => r.plan(facts),
            Resource::Role(r) => r.plan(facts),
            Resource::Database(r) => r.plan(facts),
        }
    }
}

/// Builds a change for `resource` with the given action, reasons and commands.
pub(crate) fn change(
    resource: ResourceId,
    action: Action,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    reasons: Vec<String>,
    commands: Vec<Command>,
) -> Change {
    Change {
        resource,
        action,
        before,
        after,
        reasons,
        diff: None,
        commands,
        cleanup: Vec::new(),
        guards_access: None,
        note: None,
    }
}

/// `install`-style ownership and mode arguments shared by files, directories, downloads.
pub(crate) fn owner_args(owner: &str, group: &str, mode: crate::vocab::values::FileMode) -> Vec<String> {
    vec!["-o".into(), owner.into(), "-g".into(), group.into(), "-m".into(), mode.to_string()]
}

/// Commands that bring an existing path's owner, group and mode to the desired ones, with
/// a reason for each difference.
pub(crate) fn fix_metadata(
    path: &str,
    have: (&str, &str, crate::vocab::values::FileMode),
    want: (&str, &str, crate::vocab::values::FileMode),
    reasons: &mut Vec<String>,
    commands: &mut Vec<Command>,
) {
    let (have_owner, have_group, have_mode) = have;
    let (owner, group, mode) = want;
    if have_owner != owner || have_group != group {
        reasons.push(format!("owner is {have_owner}:{have_group}, should be {owner}:{group}"));
        commands.push(Command::new(["chown", "--no-dereference", &format!("{owner}:{group}"), "--", path]));
    }
    if have_mode != mode {
        reasons.push(format!("mode is {have_mode}, should be {mode}"));
        commands.push(Command::new(["chmod", &mode.to_string(), "--", path]));
    }
}

/// The temporary name a new file is written to before it replaces `path` (same
/// directory, so the final rename is atomic).
pub(crate) fn temporary_path(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((dir, base)) => format!("{dir}/.{base}.chaton-new"),
        None => format!(".{path}.chaton-new"),
    }
}
