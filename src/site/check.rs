//! The charter self-check: each commitment the tool can check from the description and the
//! recipes, with its evidence or what is missing. Shown on the charter page and by
//! `chaton docs --check` (which exits 1 when a required item is missing).

use serde::Serialize;

use super::context::SiteData;

#[derive(Debug, Clone, Serialize)]
pub struct CheckItem {
    pub id: &'static str,
    pub title_en: &'static str,
    pub title_fr: &'static str,
    pub required: bool,
    pub ok: bool,
    /// What shows it holds, or what is missing.
    pub evidence: String,
}

/// SPDX identifiers of free software licences (OSI-approved or FSF-free) the recipes use
/// or that hosters commonly meet.
const FREE_LICENCES: &[&str] = &[
    "0BSD",
    "AGPL-3.0-only",
    "AGPL-3.0-or-later",
    "Apache-2.0",
    "Artistic-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "BSL-1.0",
    "CC0-1.0",
    "CECILL-2.1",
    "EPL-2.0",
    "EUPL-1.2",
    "GPL-2.0-only",
    "GPL-2.0-or-later",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "ISC",
    "LGPL-2.1-only",
    "LGPL-2.1-or-later",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "MIT",
    "MPL-2.0",
    "OpenSSL",
    "PostgreSQL",
    "Python-2.0",
    "SSH-OpenSSH",
    "Unlicense",
    "X11",
    "Zlib",
];

/// Whether every licence in an SPDX expression is free (`A AND (B OR C) WITH X`).
pub fn is_free_licence(expression: &str) -> bool {
    let spaced = expression.replace(['(', ')'], " ");
    let mut tokens = spaced.split_whitespace().peekable();
    let mut any = false;
    while let Some(token) = tokens.next() {
        match token {
            "AND" | "OR" => {}
            "WITH" => {
                tokens.next();
            }
            id => {
                any = true;
                if !FREE_LICENCES.contains(&id.trim_end_matches('+')) {
                    return false;
                }
            }
        }
    }
    any
}

/// What `chaton init` writes where the hoster has not answered yet. The self-check refuses
/// them: a charter page must not publish them as if they were true.
pub const PLACEHOLDER_NAME: &str = "My association";
pub const PLACEHOLDER_DOMAIN: &str = "example.org";
pub const PLACEHOLDER_PROVIDER: &str = "Your provider";

/// The placeholders left in what the pages publish of the organisation, as field: value.
fn placeholders_in_identity(data: &SiteData) -> Vec<String> {
    let o = &data.organisation;
    let mut found = Vec::new();
    if o.name.trim() == PLACEHOLDER_NAME || o.name.trim().is_empty() {
        found.push(format!("organisation.name is {:?}", o.name));
    }
    let on_placeholder_domain = |text: &str| {
        text.ends_with(&format!("/{PLACEHOLDER_DOMAIN}"))
            || text.ends_with(&format!("@{PLACEHOLDER_DOMAIN}"))
            || text.contains(&format!("/{PLACEHOLDER_DOMAIN}/"))
    };
    if let Some(website) = o.website.as_deref().filter(|w| on_placeholder_domain(w)) {
        found.push(format!("organisation.website is {website:?}"));
    }
    if let Some(email) = o.contact.as_ref().and_then(|c| c.email.as_deref()).filter(|e| on_placeholder_domain(e)) {
        found.push(format!("organisation.contact.email is {email:?}"));
    }
    found
}

fn item(
    id: &'static str,
    title_en: &'static str,
    title_fr: &'static str,
    required: bool,
    result: Result<String, String>,
) -> CheckItem {
    let ok = result.is_ok();
    CheckItem { id, title_en, title_fr, required, ok, evidence: result.unwrap_or_else(|missing| missing) }
}

/// Checks what the description and recipes say. `external` lists resources the built
/// pages load from other sites (filled in after rendering).
pub fn run(data: &SiteData, external: &[String]) -> Vec<CheckItem> {
    let services = &data.services;
    let mut items = Vec::new();
    // A check over every service says yes to none at all: that is a gap, not a pass.
    let no_service = || Err::<String, String>("no service is described".into());

    let placeholders = placeholders_in_identity(data);
    items.push(item(
        "identity",
        "The organisation, its website and its contact are named",
        "L'organisation, son site et son contact sont indiqués",
        true,
        if placeholders.is_empty() {
            let o = &data.organisation;
            let contact = o.contact.as_ref().and_then(|c| c.email.clone().or_else(|| c.url.clone()));
            Ok([Some(o.name.clone()), o.website.clone(), contact].into_iter().flatten().collect::<Vec<_>>().join(", "))
        } else {
            Err(format!("placeholders written by `chaton init`: {}", placeholders.join("; ")))
        },
    ));
    items.push(item(
        "terms",
        "The terms of use were read and adapted by the hoster",
        "Les conditions d'utilisation ont été relues et adaptées par l'hébergeur",
        true,
        if data.terms_reviewed {
            Ok("terms.html, reviewed (site.terms_reviewed)".into())
        } else {
            Err("terms.html is chaton's proposal, not reviewed: read and adapt it, then set site.terms_reviewed: true"
                .into())
        },
    ));

    let non_free: Vec<String> = services
        .iter()
        .filter(|s| !is_free_licence(&s.software.licence))
        .map(|s| format!("{} ({})", s.name, s.software.licence))
        .collect();
    items.push(item(
        "free-software",
        "All software is free software, with its SPDX licence",
        "Tous les logiciels sont libres, avec leur licence SPDX",
        true,
        if services.is_empty() {
            no_service()
        } else if non_free.is_empty() {
            Ok(services
                .iter()
                .map(|s| format!("{}: {}", s.software.name, s.software.licence))
                .collect::<Vec<_>>()
                .join("; "))
        } else {
            Err(format!("not recognised as free: {}", non_free.join(", ")))
        },
    ));
    let no_source: Vec<&str> =
        services.iter().filter(|s| !s.software.source.starts_with("https://")).map(|s| s.name.as_str()).collect();
    items.push(item(
        "sources",
        "The source code of each software is linked",
        "Le code source de chaque logiciel est indiqué",
        true,
        if services.is_empty() {
            no_service()
        } else if no_source.is_empty() {
            Ok(format!("{} source link(s) on the services page", services.len()))
        } else {
            Err(format!("no source for {}", no_source.join(", ")))
        },
    ));
    items.push(item(
        "economic-model",
        "A dedicated page explains the economic model",
        "Une page dédiée présente le modèle économique",
        true,
        match &data.organisation.economic_model {
            Some(m) if !m.funding.is_empty() || m.price_policy.is_some() => {
                Ok(format!("economy.html; funding: {}", m.funding.join(", ")))
            }
            Some(_) => Err("economic_model has no funding sources and no price policy".into()),
            None => Err("organisation.economic_model is missing".into()),
        },
    ));
    let no_export: Vec<&str> =
        services.iter().filter(|s| s.holds_user_data && s.export.is_none()).map(|s| s.name.as_str()).collect();
    items.push(item(
        "data-export",
        "Every service says how users get their data back",
        "Chaque service indique comment récupérer ses données",
        true,
        if services.is_empty() {
            no_service()
        } else if no_export.is_empty() {
            Ok(services
                .iter()
                .map(|s| match &s.export {
                    Some(e) => format!("{}: {}", s.name, e.formats.join(", ")),
                    None => format!("{}: holds no user data", s.name),
                })
                .collect::<Vec<_>>()
                .join("; "))
        } else {
            Err(format!("no export documented for {}", no_export.join(", ")))
        },
    ));
    items.push(item(
        "log-retention",
        "Log retention is stated for every service",
        "La durée de conservation des journaux est indiquée pour chaque service",
        true,
        if services.is_empty() {
            no_service()
        } else {
            Ok(services
                .iter()
                .map(|s| format!("{}: {} day(s)", s.name, s.log_retention_days))
                .collect::<Vec<_>>()
                .join("; "))
        },
    ));
    items.push(item(
        "statistics",
        "Visitor statistics, if any, use free self-hosted software",
        "Les statistiques de visite, s'il y en a, utilisent un logiciel libre auto-hébergé",
        true,
        match &data.statistics {
            None => Ok("no statistics tool".into()),
            Some(s) if s.self_hosted && is_free_licence(&s.licence) => {
                Ok(format!("{} ({}), self-hosted", s.software, s.licence))
            }
            Some(s) => Err(format!("{} ({}) is not free software hosted by you", s.software, s.licence)),
        },
    ));
    items.push(item(
        "no-third-party",
        "The site loads nothing from other sites (fonts, scripts, images, CDNs)",
        "Le site ne charge rien depuis d'autres sites (polices, scripts, images, CDN)",
        true,
        if external.is_empty() {
            Ok("no external resource in any page".into())
        } else {
            Err(format!("external resources: {}", external.join(", ")))
        },
    ));
    let unnamed: Vec<&str> = data
        .servers
        .iter()
        .filter(|s| s.provider.trim().is_empty() || s.provider.trim() == PLACEHOLDER_PROVIDER)
        .map(|s| s.name.as_str())
        .collect();
    items.push(item(
        "hosting",
        "Each server's provider, country and degree of control are named",
        "L'hébergeur, le pays et le degré de maîtrise de chaque serveur sont indiqués",
        true,
        if data.servers.is_empty() {
            Err("no server is described".into())
        } else if unnamed.is_empty() {
            Ok(data
                .servers
                .iter()
                .map(|s| format!("{}: {}, {}, {}", s.name, s.provider, s.country_code, s.control))
                .collect::<Vec<_>>()
                .join("; "))
        } else {
            Err(format!("no provider named for {} (or `chaton init`'s {PLACEHOLDER_PROVIDER:?})", unnamed.join(", ")))
        },
    ));
    // The legal notice: who publishes (with an address) and who hosts (name, address,
    // phone), as French law asks of any site (LCEN, article 6).
    let mut legal_gaps = Vec::new();
    if data.organisation.address.as_deref().is_none_or(|a| a.trim().is_empty()) {
        legal_gaps.push("organisation.address".to_owned());
    }
    for s in &data.servers {
        if s.provider_address.as_deref().is_none_or(|a| a.trim().is_empty()) {
            legal_gaps.push(format!("the address of {}'s provider", s.name));
        }
        if s.provider_phone.as_deref().is_none_or(|a| a.trim().is_empty()) {
            legal_gaps.push(format!("the phone of {}'s provider", s.name));
        }
    }
    items.push(item(
        "legal-notice",
        "The legal notice gives the publisher's address and each host's address and phone",
        "Les mentions légales donnent l'adresse de l'éditeur, et l'adresse et le téléphone de chaque hébergeur",
        false,
        if legal_gaps.is_empty() {
            Ok("legal.html".into())
        } else {
            Err(format!("missing (a French legal notice must give them): {}", legal_gaps.join(", ")))
        },
    ));
    let uncommitted: Vec<&str> = data.admins.iter().filter(|a| !a.committed).map(|a| a.name.as_str()).collect();
    items.push(item(
        "confidentiality",
        "Every admin committed to confidentiality",
        "Chaque admin s'est engagé·e à la confidentialité",
        false,
        if data.admins.is_empty() {
            Err("no admin is described: add yourself under admins".into())
        } else if uncommitted.is_empty() {
            Ok(format!("{} admin(s)", data.admins.len()))
        } else {
            Err(format!("not signed: {}", uncommitted.join(", ")))
        },
    ));
    items.push(item(
        "backups",
        "Backups are described: frequency, retention, places, encryption",
        "Les sauvegardes sont décrites : fréquence, rétention, lieux, chiffrement",
        false,
        match &data.backups {
            Some(b) if b.destinations.iter().any(|d| d.provider.trim() == PLACEHOLDER_PROVIDER) => {
                Err(format!("a backup destination's provider is `chaton init`'s {PLACEHOLDER_PROVIDER:?}"))
            }
            Some(b) if b.encryption => {
                Ok(format!("{}, {} destination(s), encrypted", b.schedule, b.destinations.len()))
            }
            Some(_) => Err("backups are not encrypted".into()),
            None => Err("no backups section".into()),
        },
    ));
    items
}

#[cfg(test)]
mod tests {
    use super::is_free_licence;

    #[test]
    fn spdx_expressions() {
        assert!(is_free_licence("AGPL-3.0-or-later"));
        assert!(is_free_licence("SSH-OpenSSH AND GPL-2.0-only AND (MIT OR Apache-2.0)"));
        assert!(is_free_licence("GPL-2.0-only WITH Classpath-exception-2.0"));
        assert!(!is_free_licence("LicenseRef-Proprietary"));
        assert!(!is_free_licence("BUSL-1.1"));
        assert!(!is_free_licence(""));
    }
}
