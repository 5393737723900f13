//! Resource kinds: a closed set of things chaton manages on a server, one file each.
//!
//! A kind's file holds all of it: its spec (what a recipe writes, `- KIND: {...}`) and how
//! the spec, once its strings are rendered, converts into resources (`Spec`); the facts the
//! resource needs and its plan, a pure function `desired + facts -> Option<Change>`: `None`
//! when the server already matches, otherwise the change with its reasons and the exact
//! commands that make it (`Kind`). Adding a kind is a new file plus one line in `resources!`
//! and one in `specs!` below.

pub mod charter_site;
pub mod checks;
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

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::diagnostic::Diagnostic;
use crate::facts::{FactQuery, HostFacts, Undescribed};

pub use charter_site::CharterSiteSpec;
pub use directory::{Directory, DirectorySpec};
pub use download::{Download, DownloadSpec};
pub use exec::{CommandSpec, Exec};
pub use file::{File, FileSpec};
pub use firewall::FirewallPort;
pub use group::{Group, GroupSpec};
pub use link::{Link, LinkSpec};
pub use package::{Package, PackageSpec};
pub use postgres::{Database, DatabaseSpec, Role, RoleSpec};
pub use secret::Secret;
pub use service::{Service, ServiceSpec};
pub use user::{User, UserSpec};

/// A resource kind on the server: each in a file of its own, with its spec (what a recipe
/// writes for it), how the spec converts, the facts it wants and its plan.
pub trait Kind {
    /// Its name, as plans, records and recipes spell it (`file`).
    const KIND: &'static str;

    /// What names it among its kind (`/etc/motd`, `nginx.service`).
    fn key(&self) -> String;

    /// Adds the facts it needs to `query`.
    fn wants(&self, query: &mut FactQuery);

    /// The change needed to make the server match, or `None` when it already does.
    fn plan(&self, facts: &HostFacts) -> Option<Change>;

    /// What it is, for people and for matching: kind and key (`file /etc/motd`).
    fn id(&self) -> ResourceId {
        ResourceId { kind: Self::KIND.to_owned(), name: self.key() }
    }

    /// The path it writes, for the kinds that write one (a file, a link, a download).
    fn written_path(&self) -> Option<&str> {
        None
    }

    /// The names chaton's record on the server keeps of it, to take it down once no
    /// description wants it (a package resource names several; a command, none).
    fn recorded(&self) -> Vec<String> {
        vec![self.key()]
    }

    /// Shell text for the facts script: sets `st` to the state of the recorded thing named
    /// `$n` that left the description, as `leaving` reads it.
    const PROBE: &'static str = "st=present";

    /// What becomes of a recorded thing of this kind once it left the description:
    /// configuration goes, data stays.
    fn leaving(_thing: &Undescribed, _facts: &HostFacts) -> Leaving
    where
        Self: Sized,
    {
        Leaving::Nothing
    }
}

/// What becomes of a thing that left the description (`Kind::leaving`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leaving {
    /// Stopped by this command, before any file goes (a unit).
    Stop(Command),
    /// Removed by this command (a file, a link).
    Remove(Command),
    /// Kept, with what it is and how to remove it by hand (data, accounts, packages).
    Keep(String),
    /// Nothing to do: already gone.
    Nothing,
}

/// `st=present` or `st=absent`, as the path `$n` exists or not (a dangling link exists).
const PATH_PROBE: &str = "if [ -e \"$n\" ] || [ -L \"$n\" ]; then st=present; else st=absent; fi";

/// Whether a probe found the thing there.
fn present(thing: &Undescribed) -> bool {
    thing.state.starts_with("present")
}

/// A path that left the description (a file, a link, a download): removed when it is there.
fn remove_path(thing: &Undescribed) -> Leaving {
    if present(thing) {
        Leaving::Remove(Command::new(["rm", "-f", "--", thing.name.as_str()]))
    } else {
        Leaving::Nothing
    }
}

/// What left the description but is kept when it is there (an account, a package), and why.
fn keep_if_present(thing: &Undescribed, why: &str) -> Leaving {
    if present(thing) { Leaving::Keep(why.to_owned()) } else { Leaving::Nothing }
}

/// Declares `Resource`, one variant per kind, and its dispatch to each kind's `Kind`.
macro_rules! resources {
    ($($variant:ident($kind:ty)),* $(,)?) => {
        /// One desired resource.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        pub enum Resource {
            $($variant($kind),)*
        }

        impl Resource {
            pub fn id(&self) -> ResourceId {
                match self { $(Resource::$variant(r) => r.id(),)* }
            }

            /// Its kind's name (`file`).
            pub fn kind(&self) -> &'static str {
                match self { $(Resource::$variant(_) => <$kind as Kind>::KIND,)* }
            }

            /// Adds the facts this resource needs to `query`.
            pub fn wants(&self, query: &mut FactQuery) {
                match self { $(Resource::$variant(r) => r.wants(query),)* }
            }

            /// The change needed to make the server match, or `None` when it already does.
            pub fn plan(&self, facts: &HostFacts) -> Option<Change> {
                match self { $(Resource::$variant(r) => r.plan(facts),)* }
            }

            /// The path it writes, for the kinds that write one.
            pub fn written_path(&self) -> Option<&str> {
                match self { $(Resource::$variant(r) => r.written_path(),)* }
            }

            /// The names chaton's record on the server keeps of it.
            pub fn recorded(&self) -> Vec<String> {
                match self { $(Resource::$variant(r) => r.recorded(),)* }
            }

            /// Each kind's probe of a recorded thing that left the description: (kind, shell).
            pub fn probes() -> Vec<(&'static str, &'static str)> {
                vec![$((<$kind as Kind>::KIND, <$kind as Kind>::PROBE),)*]
            }

            /// What becomes of a recorded thing that left the description (`Kind::leaving`
            /// of its kind; nothing for a kind chaton no longer has).
            pub fn leaving(thing: &Undescribed, facts: &HostFacts) -> Leaving {
                $(if thing.kind == <$kind as Kind>::KIND {
                    return <$kind as Kind>::leaving(thing, facts);
                })*
                Leaving::Nothing
            }
        }
    };
}

// Adding a kind: a file of its own, and one line here (and one in `specs!` below when
// recipes write it).
resources! {
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

/// A kind's spec: what a recipe writes as `- KIND: {...}`. Every string in it is a template,
/// rendered before `convert` runs.
pub trait Spec {
    /// The kind, as recipes write it.
    const KIND: &'static str;

    /// What it is, in one line, for `chaton recipes show` (its text as the recipe writes it).
    fn describe(&self) -> String;

    /// The resources it stands for, each with the handlers it notifies; or why its values
    /// cannot stand.
    fn convert(self, conversion: &Conversion) -> Result<Vec<(Resource, Vec<String>)>, Problem>;
}

/// What a spec's conversion needs from the stage that renders it (`resolve`).
pub struct Conversion<'a> {
    /// Renders a template file of the recipes (`web/vhost.conf`) with this resource's context.
    pub render_file: &'a dyn Fn(&str) -> Result<String, Diagnostic>,
    /// chaton's folder on the server (`--remote-state-dir`): generated secrets live there.
    pub state_dir: &'a str,
    /// The placeholders of the recipe's own generated secrets (`secret::placeholder`).
    pub secrets: &'a [String],
    /// The charter site's files by path, built when a `charter_site` asks for them.
    pub site_files: &'a dyn Fn() -> Result<&'a BTreeMap<String, Vec<u8>>, String>,
}

/// Why a rendered spec was refused: a bad value (reported at the recipe field), or an error
/// in a template file (reported in that file).
#[derive(Debug)]
pub enum Problem {
    Message(String),
    Template(Diagnostic),
}

impl From<String> for Problem {
    fn from(message: String) -> Self {
        Problem::Message(message)
    }
}

/// Declares `ResourceSpec`, one variant per kind recipes write, and its dispatch to each
/// kind's `Spec`. Every spec repeats `when`, `for_each` and `notify`: serde cannot combine
/// `flatten` with `deny_unknown_fields`, and rejecting unknown keys matters more than saving
/// those lines.
macro_rules! specs {
    ($($(#[$doc:meta])* $variant:ident($spec:ty)),* $(,)?) => {
        /// One resource of a recipe, written `- KIND: {...}`. Strings are Tera templates;
        /// `when` is a Tera expression that must be true for the resource to exist;
        /// `for_each` names a list in the template context, each element bound to `item`.
        #[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
        #[serde(rename_all = "snake_case", deny_unknown_fields)]
        pub enum ResourceSpec {
            $($(#[$doc])* $variant($spec),)*
        }

        impl ResourceSpec {
            /// The kind, as recipes write it (`file`).
            pub fn kind(&self) -> &'static str {
                match self { $(ResourceSpec::$variant(_) => <$spec as Spec>::KIND,)* }
            }

            pub fn for_each(&self) -> Option<&str> {
                match self { $(ResourceSpec::$variant(s) => s.for_each.as_deref(),)* }
            }

            pub fn notify(&self) -> &[String] {
                match self { $(ResourceSpec::$variant(s) => &s.notify,)* }
            }

            /// What it is, in one line (`Spec::describe`).
            pub fn describe(&self) -> String {
                match self { $(ResourceSpec::$variant(s) => s.describe(),)* }
            }

            /// The resources it stands for (`Spec::convert`).
            pub fn convert(self, conversion: &Conversion) -> Result<Vec<(Resource, Vec<String>)>, Problem> {
                match self { $(ResourceSpec::$variant(s) => s.convert(conversion),)* }
            }
        }
    };
}

specs! {
    Package(PackageSpec),
    File(FileSpec),
    Directory(DirectorySpec),
    Link(LinkSpec),
    User(UserSpec),
    Group(GroupSpec),
    Service(ServiceSpec),
    Download(DownloadSpec),
    Command(CommandSpec),
    /// The charter website (`chaton docs`), published as files in a folder.
    CharterSite(CharterSiteSpec),
    /// A PostgreSQL login role (the recipe must `require: [postgresql]`).
    Role(RoleSpec),
    /// A PostgreSQL database.
    Database(DatabaseSpec),
}

/// The default owner and group of what a spec writes.
fn root() -> String {
    "root".to_owned()
}

/// A long command line cut to one readable line.
pub fn shortened(line: &str) -> String {
    const LIMIT: usize = 90;
    if line.chars().count() <= LIMIT {
        return line.to_owned();
    }
    format!("{}…", line.chars().take(LIMIT - 1).collect::<String>())
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
