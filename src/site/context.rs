//! What the charter pages show, gathered from the description and the recipes: the pages
//! are a pure rendering of this value, so they cannot say more than the description.
//! Addresses, host keys, SSH keys and secrets are left out on purpose.

use serde::Serialize;

use crate::description::Description;
use crate::description::model::{
    Backups, Capacity, Control, EconomicModel, Organisation, Price, ProviderType, Registration, Schedule,
    StatisticsTool, Status,
};
use crate::recipe::Catalogue;
use crate::recipe::model::{InstallType, RecipeKind, Text};
use crate::vocab::values::country_name;

#[derive(Debug, Clone, Serialize)]
pub struct SiteData {
    pub organisation: Organisation,
    pub admins: Vec<AdminData>,
    pub servers: Vec<ServerData>,
    pub services: Vec<ServiceData>,
    pub backups: Option<BackupsData>,
    pub statistics: Option<StatisticsTool>,
    /// `YYYY-MM-DD`.
    pub updated: String,
    pub generator: String,
    pub terms_reviewed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct AdminData {
    pub name: String,
    pub committed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerData {
    pub name: String,
    pub provider: String,
    pub provider_address: Option<String>,
    pub provider_phone: Option<String>,
    /// ChatonsInfos `host.provider.type`.
    pub provider_type: &'static str,
    pub country_code: String,
    pub country_name: String,
    /// owned, rented or vps.
    pub control: &'static str,
    pub hypervisor: Option<String>,
    pub distribution: &'static str,
    /// For a server at home: the server that relays it, and that server's provider.
    pub relay: Option<String>,
    pub relay_provider: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SoftwareData {
    pub name: String,
    pub version: String,
    pub licence: String,
    pub licence_url: String,
    pub website: String,
    pub source: String,
    pub install: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceData {
    pub name: String,
    /// The name the pages give it: the description's `title`, else its name.
    pub title: Text,
    pub recipe: String,
    pub url: Option<String>,
    pub summary: Text,
    pub software: SoftwareData,
    pub personal: Text,
    pub holds_user_data: bool,
    pub log_retention_days: u32,
    /// What the service deletes, and when (pads nobody edits any more), as the description
    /// sets it.
    pub retention: Option<Text>,
    pub export: Option<ExportData>,
    /// ChatonsInfos values.
    pub registration: &'static str,
    /// The same, as the pages say them in each language.
    pub registration_words: Text,
    pub status_words: Text,
    pub capacity: &'static str,
    pub price: &'static str,
    pub status: &'static str,
    pub start_date: Option<String>,
    pub server: ServerData,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportData {
    pub how: Text,
    pub formats: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackupsData {
    pub schedule: &'static str,
    pub schedule_words: Text,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
    pub destinations: Vec<DestinationData>,
    pub encryption: bool,
    /// The last successful restore drill of each service.
    pub drills: Vec<DrillData>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DrillData {
    pub service: String,
    /// `YYYY-MM-DD`.
    pub date: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DestinationData {
    pub name: String,
    pub provider: String,
    pub country_code: String,
    pub country_name: String,
}

fn licence_url(licence: &str) -> String {
    let simple = !licence.contains(' ');
    if simple { format!("https://spdx.org/licenses/{licence}.html") } else { "https://spdx.org/licenses/".to_owned() }
}

fn install_type(t: InstallType) -> &'static str {
    match t {
        InstallType::Distribution => "DISTRIBUTION",
        InstallType::Provider => "PROVIDER",
        InstallType::Package => "PACKAGE",
        InstallType::Tooling => "TOOLING",
        InstallType::Clonerepo => "CLONEREPO",
        InstallType::Archive => "ARCHIVE",
        InstallType::Sources => "SOURCES",
        InstallType::Container => "CONTAINER",
    }
}

impl SiteData {
    /// `updated` is the date the pages carry when the description does not pin one.
    pub fn from_description(description: &Description, catalogue: &Catalogue, today: &str) -> Self {
        let hoster = &description.hoster;
        let servers: Vec<ServerData> = hoster
            .servers
            .iter()
            .map(|s| ServerData {
                name: s.name.clone(),
                provider: s.provider.name.clone(),
                provider_address: s.provider.address.clone(),
                provider_phone: s.provider.phone.clone(),
                provider_type: match s.provider.kind {
                    ProviderType::Home => "HOME",
                    ProviderType::HostedBay => "HOSTEDBAY",
                    ProviderType::HostedServer => "HOSTEDSERVER",
                    ProviderType::Outsourced => "OUTSOURCED",
                },
                country_code: s.provider.country.clone(),
                country_name: country_name(&s.provider.country).unwrap_or_default().to_owned(),
                control: match s.control {
                    Control::Owned => "owned",
                    Control::Rented => "rented",
                    Control::Vps => "vps",
                },
                hypervisor: s.hypervisor.clone(),
                distribution: s.distribution.label(),
                relay: s.relay.clone(),
                relay_provider: s
                    .relay
                    .as_ref()
                    .and_then(|r| hoster.servers.iter().find(|other| other.name == *r))
                    .map(|r| r.provider.name.clone()),
            })
            .collect();
        let services = hoster
            .services
            .iter()
            .filter_map(|service| {
                let loaded = catalogue.get(&service.recipe)?;
                let recipe = &loaded.recipe;
                if recipe.kind != RecipeKind::Service {
                    return None;
                }
                let server = servers.iter().find(|s| s.name == service.server)?.clone();
                let release = hoster.servers.iter().find(|s| s.name == service.server)?.distribution.name();
                let sw = &recipe.software;
                Some(ServiceData {
                    name: service.name.clone(),
                    recipe: recipe.name.clone(),
                    url: service.domain.as_ref().map(|d| format!("https://{d}/")),
                    title: match &service.title {
                        Some(t) => Text { en: t.get("en").to_owned(), fr: t.get("fr").to_owned() },
                        None => Text { en: service.name.clone(), fr: service.name.clone() },
                    },
                    summary: match &service.description {
                        Some(d) => Text { en: d.get("en").to_owned(), fr: d.get("fr").to_owned() },
                        None => recipe.summary.clone(),
                    },
                    software: SoftwareData {
                        name: sw.name.clone(),
                        // The version on this service's server, not every release's.
                        version: sw.version.on(release),
                        licence: sw.licence.clone(),
                        licence_url: licence_url(&sw.licence),
                        website: sw.website.clone(),
                        source: sw.source.clone(),
                        install: install_type(sw.install),
                    },
                    personal: recipe.data.personal.clone(),
                    holds_user_data: recipe.data.holds_user_data,
                    log_retention_days: log_retention(recipe, hoster, catalogue),
                    retention: content_retention(loaded, service),
                    export: recipe
                        .data
                        .export
                        .as_ref()
                        .map(|e| ExportData { how: e.how.clone(), formats: e.formats.clone() }),
                    registration_words: match service.access.registration {
                        Registration::None => words("none, open to everyone", "aucune, ouvert à toutes et tous"),
                        Registration::Free => words("free sign-up", "libre"),
                        Registration::Member => words("members only", "réservée aux membres"),
                        Registration::Client => words("clients only", "réservée aux clients"),
                    },
                    status_words: match service.status {
                        Status::Ok => words("running normally", "fonctionne normalement"),
                        Status::Warning => words("disturbed", "perturbé"),
                        Status::Alert => words("seriously disturbed", "fortement perturbé"),
                        Status::Error => words("down", "en panne"),
                        Status::Over => words("closed", "fermé"),
                        Status::Void => words("not started yet", "pas encore ouvert"),
                    },
                    registration: match service.access.registration {
                        Registration::None => "None",
                        Registration::Free => "Free",
                        Registration::Member => "Member",
                        Registration::Client => "Client",
                    },
                    capacity: match service.access.capacity {
                        Capacity::Open => "OPEN",
                        Capacity::Full => "FULL",
                    },
                    price: match service.access.price {
                        Price::Free => "free",
                        Price::PayWhatYouWant => "pay_what_you_want",
                        Price::Paid => "paid",
                    },
                    status: match service.status {
                        Status::Ok => "OK",
                        Status::Warning => "WARNING",
                        Status::Alert => "ALERT",
                        Status::Error => "ERROR",
                        Status::Over => "OVER",
                        Status::Void => "VOID",
                    },
                    start_date: service.start_date.clone(),
                    server,
                })
            })
            .collect();
        Self {
            organisation: hoster.organisation.clone(),
            admins: hoster
                .admins
                .iter()
                .map(|a| AdminData { name: a.name.clone(), committed: a.confidentiality_commitment })
                .collect(),
            servers,
            services,
            backups: hoster.backups.as_ref().map(|b| backups(b, &description.drills)),
            statistics: hoster.site.statistics.clone(),
            updated: hoster.site.updated.clone().unwrap_or_else(|| today.to_owned()),
            generator: format!("chaton {}", env!("CARGO_PKG_VERSION")),
            terms_reviewed: hoster.site.terms_reviewed,
        }
    }

    pub fn economic_model(&self) -> Option<&EconomicModel> {
        self.organisation.economic_model.as_ref()
    }
}

/// How long a service's logs are kept: its own, or longer where what it stands on keeps
/// its logs longer (the web front's access logs, as the description sets them).
fn log_retention(
    recipe: &crate::recipe::model::Recipe,
    hoster: &crate::description::Hoster,
    catalogue: &Catalogue,
) -> u32 {
    let mut days = recipe.data.log_retention_days;
    for required in recipe.requires.iter().filter_map(|name| catalogue.get(name)) {
        let described = hoster.infrastructure.get(&required.recipe.name).cloned().unwrap_or_default();
        let set = required.params_with(&described)["log_retention_days"].as_u64();
        let value = set.map_or(required.recipe.data.log_retention_days, |d| u32::try_from(d).unwrap_or(u32::MAX));
        days = days.max(value);
    }
    days
}

/// The sentence on what the service deletes and when, with the days the description sets
/// (or the recipe's default).
fn content_retention(
    loaded: &crate::recipe::catalogue::LoadedRecipe,
    service: &crate::description::model::Service,
) -> Option<Text> {
    let retention = loaded.recipe.data.retention.as_ref()?;
    let days = loaded.params_with(&service.params)[&retention.param].as_u64().unwrap_or(0);
    if days == 0 {
        return Some(retention.never.clone());
    }
    let fill = |text: &str| text.replace("{days}", &days.to_string());
    Some(Text { en: fill(&retention.after.en), fr: fill(&retention.after.fr) })
}

/// A value as the pages say it in English and in French.
fn words(en: &str, fr: &str) -> Text {
    Text { en: en.to_owned(), fr: fr.to_owned() }
}

fn backups(b: &Backups, drills: &std::collections::BTreeMap<String, String>) -> BackupsData {
    BackupsData {
        schedule_words: match b.schedule {
            Schedule::Hourly => words("every hour", "toutes les heures"),
            Schedule::Daily => words("every day", "tous les jours"),
            Schedule::Weekly => words("every week", "toutes les semaines"),
        },
        schedule: match b.schedule {
            Schedule::Hourly => "hourly",
            Schedule::Daily => "daily",
            Schedule::Weekly => "weekly",
        },
        daily: b.retention.daily,
        weekly: b.retention.weekly,
        monthly: b.retention.monthly,
        destinations: b
            .destinations
            .iter()
            .map(|d| DestinationData {
                name: d.name.clone(),
                provider: d.provider.clone(),
                country_code: d.country.clone(),
                country_name: country_name(&d.country).unwrap_or_default().to_owned(),
            })
            .collect(),
        encryption: b.encryption,
        // The day is enough for readers, and keeps the pages from changing every drill.
        drills: drills
            .iter()
            .map(|(service, date)| DrillData { service: service.clone(), date: date.chars().take(10).collect() })
            .collect(),
    }
}
