//! The hoster description: the typed form of `hoster.yml`.
//!
//! Every struct rejects unknown keys, so a typo is an error rather than a silently ignored
//! setting. Fields the charter pages need but a first draft may lack are `Option`s here and
//! checked by `validate`, which reports all of them at once instead of stopping at the first.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::vocab::Distribution;
use crate::vocab::values::FileMode;

/// The whole description file.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hoster {
    pub organisation: Organisation,
    #[serde(default)]
    pub admins: Vec<Admin>,
    pub servers: Vec<Server>,
    #[serde(default)]
    pub services: Vec<Service>,
    #[serde(default)]
    pub backups: Option<Backups>,
    /// Parameters of the recipes services stand on (`web`, `postgresql`, `backups`) and of
    /// `base`, by recipe name: `infrastructure: {web: {acme_email: ...}}`.
    #[serde(default)]
    pub infrastructure: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// Settings of the charter website (`chaton docs`).
    #[serde(default)]
    pub site: SiteSettings,
    /// A folder of local recipes that add to or replace the built-in ones, relative to the
    /// description file (the same layout as the project: `recipes/NAME/recipe.yml` and
    /// `recipes/NAME/templates/`).
    #[serde(default)]
    pub recipes_dir: Option<String>,
}

/// Free text the charter pages publish: one string, shown on the pages of both languages,
/// or one text per language, `{fr: ..., en: ...}` (`chaton docs --check` advises that).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Localized {
    PerLanguage { fr: String, en: String },
    Same(String),
}

impl Localized {
    /// The text for `lang` (`fr` or `en`).
    pub fn get(&self, lang: &str) -> &str {
        match self {
            Localized::PerLanguage { fr, .. } if lang == "fr" => fr,
            Localized::PerLanguage { en, .. } => en,
            Localized::Same(text) => text,
        }
    }

    pub fn is_blank(&self) -> bool {
        match self {
            Localized::PerLanguage { fr, en } => fr.trim().is_empty() && en.trim().is_empty(),
            Localized::Same(text) => text.trim().is_empty(),
        }
    }

    pub fn in_one_language(&self) -> bool {
        matches!(self, Localized::Same(_))
    }
}

/// A string, or a mapping with exactly `fr` and `en`, each refused with its own message.
impl<'de> Deserialize<'de> for Localized {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Localized;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a text, or its French and English versions as `{fr: ..., en: ...}`")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Localized, E> {
                Ok(Localized::Same(text.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Localized, A::Error> {
                use serde::de::Error as _;
                let (mut fr, mut en) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "fr" => fr = Some(map.next_value::<String>()?),
                        "en" => en = Some(map.next_value::<String>()?),
                        // Refused from inside the value, so the error points at this key.
                        other => {
                            return map.next_value_seed(Refuse(format!(
                                "unknown language `{other}`: the pages are in French and English (`fr`, `en`)"
                            )));
                        }
                    }
                }
                match (fr, en) {
                    (Some(fr), Some(en)) => Ok(Localized::PerLanguage { fr, en }),
                    (None, _) => Err(A::Error::custom(
                        "missing `fr`: give the text in both languages, or one string for both".to_owned(),
                    )),
                    (_, None) => Err(A::Error::custom(
                        "missing `en`: give the text in both languages, or one string for both".to_owned(),
                    )),
                }
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

/// A value that is refused whatever it holds, with `0` as the message.
struct Refuse(String);

impl<'de> serde::de::DeserializeSeed<'de> for Refuse {
    type Value = Localized;
    fn deserialize<D: serde::Deserializer<'de>>(self, _: D) -> Result<Localized, D::Error> {
        Err(serde::de::Error::custom(self.0))
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    pub name: String,
    pub description: Option<Localized>,
    pub website: Option<String>,
    /// Path (relative to the description) or URL of the logo.
    pub logo: Option<String>,
    pub legal_form: Option<LegalForm>,
    pub registration_id: Option<String>,
    pub address: Option<String>,
    pub publication_director: Option<String>,
    pub contact: Option<Contact>,
    /// `YYYY-MM-DD`.
    pub start_date: Option<String>,
    pub geography: Option<String>,
    /// Default language of the charter site.
    #[serde(default)]
    pub language: Language,
    pub economic_model: Option<EconomicModel>,
    pub meetings: Option<Localized>,
    pub chatons: Option<Chatons>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteSettings {
    /// Date the pages say they were updated (`YYYY-MM-DD`); pinned, the site is
    /// byte-for-byte reproducible. Default: today.
    pub updated: Option<String>,
    /// The visitor statistics tool, if any (the privacy page names it).
    pub statistics: Option<StatisticsTool>,
    /// The hoster has reviewed the proposed terms of use: the "template to review" notice
    /// goes away.
    #[serde(default)]
    pub terms_reviewed: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatisticsTool {
    pub software: String,
    /// SPDX licence identifier.
    pub licence: String,
    /// Runs on the hoster's own servers (no data sent to a third party).
    pub self_hosted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LegalForm {
    Person,
    Association,
    Company,
    Coop,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    #[default]
    Fr,
    En,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub email: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EconomicModel {
    pub for_profit: bool,
    /// Where the money comes from: "membership fees", "donations", "grants"...
    #[serde(default)]
    pub funding: Vec<Localized>,
    pub membership_fee: Option<Localized>,
    pub price_policy: Option<Localized>,
    /// What the money pays for (the charter asks for it).
    pub spending: Option<Localized>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Chatons {
    pub member: bool,
    pub since: Option<String>,
}

/// A person with administrative access to the servers.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    pub name: String,
    /// Unix login created on every server.
    pub login: String,
    pub ssh_keys: Vec<String>,
    /// Whether this admin signed the confidentiality commitment the charter asks for.
    pub confidentiality_commitment: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub name: String,
    /// IP address, DNS name or an alias from `~/.ssh/config`.
    pub address: String,
    #[serde(default = "default_ssh_user")]
    pub ssh_user: String,
    #[serde(default = "default_ssh_port")]
    pub port: u16,
    /// Pinned SSH host key (`ssh-ed25519 AAAA...`).
    pub host_key: Option<String>,
    /// Private key file to log in with, relative to the description (tried after the
    /// ssh-agent); by default the keys of `~/.ssh`.
    pub ssh_key: Option<String>,
    /// Another server of this description that this one is reached through (a home server
    /// with no public address, reached through the rented one): SSH's ProxyJump.
    pub proxy_jump: Option<String>,
    /// For a server at home, behind a household router with no port opened: the hoster's
    /// server with a public address it is reached through. chaton builds a WireGuard tunnel
    /// from here to there (started from here, kept open through the router), and reaches
    /// this server through it; `address` is then where it is on its own local network,
    /// used while the tunnel does not answer yet (the first apply, at a workshop).
    pub relay: Option<String>,
    pub provider: Provider,
    pub hypervisor: Option<String>,
    pub control: Control,
    #[serde(default)]
    pub distribution: Distribution,
    /// Extra files the hoster manages on this server (a message of the day, a robots.txt...).
    #[serde(default)]
    pub files: Vec<ExtraFile>,
}

fn default_ssh_user() -> String {
    "root".to_owned()
}

fn default_ssh_port() -> u16 {
    22
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    pub name: String,
    /// Postal address and phone number of the provider: a French legal notice must give
    /// them for whoever hosts the site (LCEN, article 6).
    pub address: Option<String>,
    pub phone: Option<String>,
    #[serde(rename = "type")]
    pub kind: ProviderType,
    /// ISO 3166-1 alpha-2 code of the country the server is in.
    pub country: String,
}

/// ChatonsInfos `host.provider.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProviderType {
    Home,
    HostedBay,
    HostedServer,
    Outsourced,
}

/// How much the hoster controls the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Control {
    Owned,
    Rented,
    Vps,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtraFile {
    pub path: String,
    pub content: String,
    #[serde(default = "default_root")]
    pub owner: String,
    #[serde(default = "default_root")]
    pub group: String,
    #[serde(default = "default_file_mode")]
    pub mode: FileMode,
}

fn default_root() -> String {
    "root".to_owned()
}

fn default_file_mode() -> FileMode {
    FileMode(0o644)
}

/// One service offered to users, made from a recipe on one server.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: String,
    /// The name the charter pages give it ("Notre cloud"), in one string or `{fr, en}`;
    /// the service's `name` when not given.
    pub title: Option<Localized>,
    /// What it offers, for the charter pages; the recipe's summary when not given.
    pub description: Option<Localized>,
    pub recipe: String,
    pub server: String,
    pub domain: Option<String>,
    #[serde(default)]
    pub access: Access,
    /// `YYYY-MM-DD`.
    pub start_date: Option<String>,
    #[serde(default)]
    pub status: Status,
    /// Recipe parameters, checked against the recipe's declared types.
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Access {
    #[serde(default)]
    pub registration: Registration,
    #[serde(default)]
    pub capacity: Capacity,
    #[serde(default)]
    pub price: Price,
}

/// ChatonsInfos `service.registration`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    None,
    #[default]
    Free,
    Member,
    Client,
}

/// ChatonsInfos `service.registration.load`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Capacity {
    #[default]
    Open,
    Full,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Price {
    #[default]
    Free,
    PayWhatYouWant,
    Paid,
}

/// ChatonsInfos `service.status.level`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Ok,
    Warning,
    Alert,
    Error,
    Over,
    Void,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Backups {
    pub schedule: Schedule,
    pub retention: Retention,
    pub destinations: Vec<BackupDestination>,
    /// Backups are encrypted before they leave the server.
    pub encryption: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    Hourly,
    Daily,
    Weekly,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    #[serde(default)]
    pub daily: u32,
    #[serde(default)]
    pub weekly: u32,
    #[serde(default)]
    pub monthly: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupDestination {
    pub name: String,
    /// Another of the hoster's servers (by name) that receives the backups over SSH;
    /// absent for a repository on the server itself.
    pub server: Option<String>,
    pub provider: String,
    pub country: String,
}
