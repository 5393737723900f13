//! The recipe format: what a recipe file (`recipes/NAME/recipe.yml`) may contain.
//!
//! A recipe is data: charter metadata, typed parameters, the ports it opens, resources
//! (whose strings are Tera templates rendered per service), handlers and checks. Every
//! struct rejects unknown keys, like the description.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::resource::{
    CharterSiteSpec, CommandSpec, DatabaseSpec, DirectorySpec, DownloadSpec, FileSpec, GroupSpec, LinkSpec,
    PackageSpec, ResourceSpec, RoleSpec, ServiceSpec, UserSpec,
};
use crate::vocab::Distribution;
pub use crate::vocab::{Presence, Proto};

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub name: String,
    pub summary: Text,
    pub kind: RecipeKind,
    pub software: Software,
    /// Whether a service of this recipe must have a `domain`.
    #[serde(default)]
    pub needs_domain: bool,
    /// A base recipe that writes the firewall (`/etc/nftables.conf` from `firewall_ports`):
    /// the live firewall is then checked for every declared port.
    #[serde(default)]
    pub manages_firewall: bool,
    /// The Debian releases it runs on, when not every release chaton supports, and why: a
    /// service on a server of another release is refused by `check`.
    #[serde(default)]
    pub releases: Option<Releases>,
    pub data: DataPolicy,
    /// Infrastructure recipes this one stands on (`web`, `postgresql`): set up once on
    /// each server that has a service needing them, before the services.
    #[serde(default)]
    pub requires: Vec<String>,
    /// What this recipe gives the engine or the recipes standing on it, beyond its own
    /// resources (none for most recipes).
    #[serde(default)]
    pub provides: Option<Provides>,
    #[serde(default)]
    pub params: BTreeMap<String, ParamSpec>,
    #[serde(default)]
    pub ports: Vec<PortSpec>,
    /// Network interfaces the recipe brings up (a VPN's tunnel): the firewall lets their
    /// traffic reach the server, and on to the internet (masqueraded) where `forward` holds.
    #[serde(default)]
    pub interfaces: Vec<InterfaceSpec>,
    /// Secrets generated once on the server (passwords, keys); templates see a placeholder
    /// as `{{ secrets.NAME }}`, never the value.
    #[serde(default)]
    pub secrets: Vec<String>,
    #[serde(default)]
    pub resources: Vec<ResourceSpec>,
    #[serde(default)]
    pub handlers: Vec<HandlerSpec>,
    #[serde(default)]
    pub checks: Vec<CheckSpec>,
}

/// A part the engine plays with one recipe, named by what it gives rather than by the
/// recipe: any recipe may take it (a second backup tool, another database server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provides {
    /// It takes the backups: set up on each server holding data to back up or receiving
    /// another server's backups, with what to back up and where in its scope as `backup`
    /// (the passphrase and SSH key kept next to the description). One recipe at most.
    Backups,
    /// Its services are WireGuard VPNs: chaton makes the keys of the server and of each
    /// peer without its own, gives addresses, writes the peers' configurations next to the
    /// description, and the recipe sees them as `vpn`. It reads the parameters `network`
    /// (network), `peers` (peers), `port` (integer) and, when declared, `endpoint`,
    /// `full_tunnel` and `dns`.
    WireguardKeys,
    /// A PostgreSQL server: recipes that require it may declare `role` and `database`
    /// resources, which chaton reads and writes through its `psql`.
    Postgresql,
    /// It writes the relay tunnel between a home server (`relay:` in the description) and
    /// its relay: set up on both, with the end it is rendered for in its scope as `relay`
    /// (the keys kept next to the description). One recipe at most.
    RelayTunnel,
}

impl Provides {
    pub fn name(self) -> &'static str {
        match self {
            Provides::Backups => "backups",
            Provides::WireguardKeys => "wireguard_keys",
            Provides::Postgresql => "postgresql",
            Provides::RelayTunnel => "relay_tunnel",
        }
    }
}

/// The releases a recipe is limited to, and why.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Releases {
    pub only: Vec<Distribution>,
    /// Said with the error, after "recipe X does not run on RELEASE: ".
    pub why: String,
}

/// A text in both languages of the charter site.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub en: String,
    pub fr: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecipeKind {
    /// Applied to every server before anything else (`base`).
    Base,
    /// Something users use: listed on the charter services page.
    Service,
    /// Something services stand on (a database, the web front, backups).
    Infrastructure,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Software {
    pub name: String,
    pub version: Version,
    /// SPDX licence identifier.
    pub licence: String,
    pub website: String,
    pub source: String,
    pub install: InstallType,
}

/// The software's version: one for every release, or one per Debian release
/// (`{debian-12: "1.22", debian-13: "1.26"}`) where each ships its own.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Version {
    PerRelease(BTreeMap<String, String>),
    Same(String),
}

impl Version {
    /// The version a server of `release` (`debian-12`) runs.
    pub fn on(&self, release: &str) -> String {
        match self {
            Version::Same(v) => v.clone(),
            Version::PerRelease(map) => map.get(release).cloned().unwrap_or_else(|| self.summary()),
        }
    }

    /// Every version, with its release: `1.22 (Debian 12), 1.26 (Debian 13)`.
    pub fn summary(&self) -> String {
        match self {
            Version::Same(v) => v.clone(),
            Version::PerRelease(map) => map
                .iter()
                .map(|(release, v)| format!("{v} ({})", release.replace("debian-", "Debian ")))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// ChatonsInfos `service.install.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstallType {
    Distribution,
    Provider,
    Package,
    Tooling,
    Clonerepo,
    Archive,
    Sources,
    Container,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataPolicy {
    /// What personal data the software holds.
    pub personal: Text,
    /// Whether users keep data of their own in it (files, pads, calendars...): then the
    /// charter asks how they get it back (`export`).
    #[serde(default = "yes")]
    pub holds_user_data: bool,
    /// Whether users need an account the hoster makes for them (Nextcloud, Radicale, a VPN
    /// peer), rather than using it as they come (a website, Etherpad's pads): `chaton init`
    /// then describes the service as for members (`registration: member`), else open
    /// without registration (`none`).
    #[serde(default)]
    pub accounts: bool,
    /// How long logs are kept, in days (0: no logs).
    pub log_retention_days: u32,
    /// How a user gets their data out, if the service holds user data.
    pub export: Option<Export>,
    /// Content the service deletes after a while, as a parameter sets it (pads nobody
    /// edits any more): the charter pages say so.
    pub retention: Option<Retention>,
    #[serde(default)]
    pub backup: BackupSpec,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Export {
    pub how: Text,
    /// Open formats the data comes out in.
    pub formats: Vec<String>,
}

/// What goes, and when: `after` where the parameter `param` (days) is above 0, with `{days}`
/// replaced by it; `never` where it is 0.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    pub param: String,
    pub after: Text,
    pub never: Text,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupSpec {
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub databases: Vec<String>,
    /// Commands (argv, templated) that hold the service still while its files and
    /// databases are copied or put back (Nextcloud's maintenance mode), and let it go again:
    /// `after` runs whatever happened in between.
    #[serde(default)]
    pub pause: Option<BackupPause>,
    /// A command (argv, templated) run after a restore, once the service is let go: what the
    /// software needs to learn that its data went back in time (clients told to resync,
    /// caches dropped).
    #[serde(default)]
    pub after_restore: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupPause {
    pub before: Vec<String>,
    pub after: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    #[serde(rename = "type")]
    pub kind: ParamType,
    pub description: String,
    /// Used when the service does not set the parameter; no default means required.
    pub default: Option<serde_json::Value>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// Allowed values of a string parameter.
    pub choices: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    /// One line of text: no control characters (a newline would start a new line of the
    /// configuration it goes into).
    String,
    /// Text of several lines, for what is one (a PEM certificate); no other control character.
    Text,
    /// A file name in a folder: letters, digits, `.`, `-`, `_` (`index.html`).
    FileName,
    /// An amount of storage as Nextcloud, PHP and nginx read it: `512M`, `2G`, `1 GB`.
    Size,
    Integer,
    Boolean,
    /// An absolute path.
    Path,
    Domain,
    Email,
    /// A list of strings.
    List,
    /// An IPv4 network, `10.66.0.0/24`.
    Network,
    /// VPN peers: a list of `{name, public_key}`; without `public_key`, chaton makes the
    /// peer's keys and writes its configuration next to the description.
    Peers,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InterfaceSpec {
    /// Its name (a template: `wg-{{ service.name }}`).
    pub name: String,
    /// The IPv4 network behind it (a template).
    pub network: String,
    /// A Tera expression: when true, its traffic may go out through the server.
    pub forward: Option<String>,
}

/// A port the recipe opens in the firewall.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortSpec {
    /// A fixed port number...
    pub port: Option<u16>,
    /// ...or the name of an integer parameter that holds it.
    pub port_param: Option<String>,
    pub proto: Proto,
    /// Several services may share it (the web front's 80 and 443 serve every domain).
    #[serde(default)]
    pub shared: bool,
}

fn yes() -> bool {
    true
}

/// Runs once after the changes when a resource that notifies it changed: reloads or
/// restarts a systemd service, or runs a command.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HandlerSpec {
    pub name: String,
    /// The systemd unit to reload or restart...
    pub service: Option<String>,
    pub action: Option<HandlerAction>,
    /// ...or a command to run (program and arguments, no shell).
    pub run: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HandlerAction {
    Reload,
    Restart,
}

/// What `chaton verify` checks once the plan is empty.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CheckSpec {
    /// A port answers on the server.
    Port { port: String, proto: Proto },
    /// An HTTP(S) URL answers with this status.
    Http {
        url: String,
        status: u16,
        /// PEM certificates of a private or test CA to trust besides the system's (empty: none).
        ca_certificate: Option<String>,
    },
    /// A command succeeds on the server; only where `when` holds, if given (the same
    /// conditions as resources: a check of a file only some servers get).
    Command {
        run: Vec<String>,
        #[serde(default)]
        when: Option<String>,
    },
}
