//! The charter self-check: each commitment the tool can check from the description and the
//! recipes, with its evidence or what is missing. Shown on the charter page and by
//! `chaton docs --check` (which exits 1 when a required item is missing).

use serde::Serialize;

use super::context::SiteData;
use crate::recipe::model::Text;

#[derive(Debug, Clone, Serialize)]
pub struct CheckItem {
    pub id: &'static str,
    pub title_en: &'static str,
    pub title_fr: &'static str,
    pub required: bool,
    pub ok: bool,
    /// What shows it holds, or what is missing: in English (the command line's), and in
    /// French for the French pages.
    pub evidence: String,
    pub evidence_fr: String,
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
    result: Result<Text, Text>,
) -> CheckItem {
    let ok = result.is_ok();
    let Text { en, fr } = result.unwrap_or_else(|missing| missing);
    CheckItem { id, title_en, title_fr, required, ok, evidence: en, evidence_fr: fr }
}

/// Evidence as the English and the French pages say it.
fn says(en: impl Into<String>, fr: impl Into<String>) -> Text {
    Text { en: en.into(), fr: fr.into() }
}

/// Evidence that reads the same in both languages (names, licences, files).
fn same(text: impl Into<String>) -> Text {
    let text = text.into();
    Text { en: text.clone(), fr: text }
}

/// Checks what the description and recipes say. `external` lists resources the built
/// pages load from other sites (filled in after rendering).
pub fn run(data: &SiteData, external: &[String]) -> Vec<CheckItem> {
    let services = &data.services;
    let mut items = Vec::new();
    // A check over every service says yes to none at all: that is a gap, not a pass.
    let no_service = || Err::<Text, Text>(says("no service is described", "aucun service n'est décrit"));

    let placeholders = placeholders_in_identity(data);
    items.push(item(
        "identity",
        "The organisation, its website and its contact are named",
        "L'organisation, son site et son contact sont indiqués",
        true,
        if placeholders.is_empty() {
            let o = &data.organisation;
            let contact = o.contact.as_ref().and_then(|c| c.email.clone().or_else(|| c.url.clone()));
            Ok(same(
                [Some(o.name.clone()), o.website.clone(), contact].into_iter().flatten().collect::<Vec<_>>().join(", "),
            ))
        } else {
            let list = placeholders.join("; ");
            Err(says(
                format!("placeholders written by `chaton init`: {list}"),
                format!("valeurs provisoires écrites par `chaton init` : {list}"),
            ))
        },
    ));
    items.push(item(
        "terms",
        "The terms of use were read and adapted by the hoster",
        "Les conditions d'utilisation ont été relues et adaptées par l'hébergeur",
        true,
        if data.terms_reviewed {
            Ok(says("terms.html, reviewed (site.terms_reviewed)", "terms.html, relues (site.terms_reviewed)"))
        } else {
            Err(says(
                "terms.html is chaton's proposal, not reviewed: read and adapt it, then set site.terms_reviewed: true",
                "terms.html est la proposition de chaton, non relue : lisez-la et adaptez-la, puis mettez site.terms_reviewed: true",
            ))
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
            Ok(same(
                services
                    .iter()
                    .map(|s| format!("{}: {}", s.software.name, s.software.licence))
                    .collect::<Vec<_>>()
                    .join("; "),
            ))
        } else {
            let list = non_free.join(", ");
            Err(says(format!("not recognised as free: {list}"), format!("non reconnus comme libres : {list}")))
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
            let n = services.len();
            Ok(says(
                format!("{n} source link(s) on the services page"),
                format!("{n} lien(s) vers les sources sur la page des services"),
            ))
        } else {
            let list = no_source.join(", ");
            Err(says(format!("no source for {list}"), format!("pas de source pour {list}")))
        },
    ));
    items.push(item(
        "economic-model",
        "A dedicated page explains the economic model",
        "Une page dédiée présente le modèle économique",
        true,
        match &data.organisation.economic_model {
            Some(m) if !m.funding.is_empty() || m.price_policy.is_some() => {
                let funding = |lang| m.funding.iter().map(|f| f.get(lang)).collect::<Vec<_>>().join(", ");
                Ok(says(
                    format!("economy.html; funding: {}", funding("en")),
                    format!("economy.html ; financement : {}", funding("fr")),
                ))
            }
            Some(_) => Err(says(
                "economic_model has no funding sources and no price policy",
                "economic_model n'a ni financement ni politique de prix",
            )),
            None => Err(says("organisation.economic_model is missing", "organisation.economic_model manque")),
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
            let list = |none: &str, colon: &str| {
                services
                    .iter()
                    .map(|s| match &s.export {
                        Some(e) => format!("{}{colon}{}", s.name, e.formats.join(", ")),
                        None => format!("{}{colon}{none}", s.name),
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            Ok(says(list("holds no user data", ": "), list("ne garde pas de données d'utilisateurs", " : ")))
        } else {
            let list = no_export.join(", ");
            Err(says(format!("no export documented for {list}"), format!("aucun export indiqué pour {list}")))
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
            let list = |days: &str, none: &str, colon: &str| {
                services
                    .iter()
                    .map(|s| match s.log_retention_days {
                        0 => format!("{}{colon}{none}", s.name),
                        n => format!("{}{colon}{n} {days}", s.name),
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            Ok(says(list("day(s)", "no logs", ": "), list("jour(s)", "aucun journal", " : ")))
        },
    ));
    items.push(item(
        "statistics",
        "Visitor statistics, if any, use free self-hosted software",
        "Les statistiques de visite, s'il y en a, utilisent un logiciel libre auto-hébergé",
        true,
        match &data.statistics {
            None => Ok(says("no statistics tool", "aucun outil de statistiques")),
            Some(s) if s.self_hosted && is_free_licence(&s.licence) => Ok(says(
                format!("{} ({}), self-hosted", s.software, s.licence),
                format!("{} ({}), auto-hébergé", s.software, s.licence),
            )),
            Some(s) => Err(says(
                format!("{} ({}) is not free software hosted by you", s.software, s.licence),
                format!("{} ({}) n'est pas un logiciel libre hébergé par vous", s.software, s.licence),
            )),
        },
    ));
    items.push(item(
        "no-third-party",
        "The site loads nothing from other sites (fonts, scripts, images, CDNs)",
        "Le site ne charge rien depuis d'autres sites (polices, scripts, images, CDN)",
        true,
        if external.is_empty() {
            Ok(says("no external resource in any page", "aucune ressource extérieure dans les pages"))
        } else {
            let list = external.join(", ");
            Err(says(format!("external resources: {list}"), format!("ressources extérieures : {list}")))
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
            Err(says("no server is described", "aucun serveur n'est décrit"))
        } else if unnamed.is_empty() {
            let control = |c: &str, fr: bool| match (c, fr) {
                ("owned", false) => "our own machine",
                ("owned", true) => "machine à nous",
                ("rented", false) => "rented machine",
                ("rented", true) => "machine louée",
                (_, false) => "rented virtual server",
                (_, true) => "serveur virtuel loué",
            };
            let list = |fr: bool| {
                data.servers
                    .iter()
                    .map(|s| {
                        let colon = if fr { " : " } else { ": " };
                        format!("{}{colon}{}, {}, {}", s.name, s.provider, s.country_code, control(s.control, fr))
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            Ok(says(list(false), list(true)))
        } else {
            let list = unnamed.join(", ");
            Err(says(
                format!("no provider named for {list} (or `chaton init`'s {PLACEHOLDER_PROVIDER:?})"),
                format!("aucun hébergeur nommé pour {list} (ou le {PLACEHOLDER_PROVIDER:?} de `chaton init`)"),
            ))
        },
    ));
    // The legal notice: who publishes (with an address) and who hosts (name, address,
    // phone), as French law asks of any site (LCEN, article 6).
    let mut legal_gaps: Vec<Text> = Vec::new();
    if data.organisation.address.as_deref().is_none_or(|a| a.trim().is_empty()) {
        legal_gaps.push(same("organisation.address"));
    }
    for s in &data.servers {
        if s.provider_address.as_deref().is_none_or(|a| a.trim().is_empty()) {
            legal_gaps.push(says(
                format!("the address of {}'s provider", s.name),
                format!("l'adresse de l'hébergeur de {}", s.name),
            ));
        }
        if s.provider_phone.as_deref().is_none_or(|a| a.trim().is_empty()) {
            legal_gaps.push(says(
                format!("the phone of {}'s provider", s.name),
                format!("le téléphone de l'hébergeur de {}", s.name),
            ));
        }
    }
    let gaps = |fr: bool| {
        legal_gaps.iter().map(|g| if fr { g.fr.as_str() } else { g.en.as_str() }).collect::<Vec<_>>().join(", ")
    };
    items.push(item(
        "legal-notice",
        "The legal notice gives the publisher's address and each host's address and phone",
        "Les mentions légales donnent l'adresse de l'éditeur, et l'adresse et le téléphone de chaque hébergeur",
        false,
        if legal_gaps.is_empty() {
            Ok(same("legal.html"))
        } else {
            Err(says(
                format!("missing (a French legal notice must give them): {}", gaps(false)),
                format!("manquent (des mentions légales françaises doivent les donner) : {}", gaps(true)),
            ))
        },
    ));
    // Free text in one string is shown as it is on the pages of both languages.
    let o = &data.organisation;
    let mut one_language: Vec<String> = Vec::new();
    let mut note = |field: &str, text: Option<&crate::description::model::Localized>| {
        if text.is_some_and(|t| t.in_one_language() && !t.is_blank()) {
            one_language.push(field.to_owned());
        }
    };
    note("organisation.description", o.description.as_ref());
    note("organisation.meetings", o.meetings.as_ref());
    if let Some(m) = &o.economic_model {
        for (i, f) in m.funding.iter().enumerate() {
            note(&format!("economic_model.funding[{i}]"), Some(f));
        }
        note("economic_model.membership_fee", m.membership_fee.as_ref());
        note("economic_model.price_policy", m.price_policy.as_ref());
        note("economic_model.spending", m.spending.as_ref());
    }
    items.push(item(
        "both-languages",
        "The pages' free text is written in French and in English",
        "Les textes libres des pages sont écrits en français et en anglais",
        false,
        if one_language.is_empty() {
            Ok(says("every free text has `fr` and `en`", "chaque texte libre a `fr` et `en`"))
        } else {
            let list = one_language.join(", ");
            Err(says(
                format!("in one language, shown as it is on both sites: {list} (write {{fr: ..., en: ...}})"),
                format!(
                    "en une seule langue, montrés tels quels sur les deux sites : {list} (écrivez {{fr: ..., en: ...}})"
                ),
            ))
        },
    ));
    let uncommitted: Vec<&str> = data.admins.iter().filter(|a| !a.committed).map(|a| a.name.as_str()).collect();
    items.push(item(
        "confidentiality",
        "Every admin committed to confidentiality",
        "Chaque admin s'est engagé·e à la confidentialité",
        false,
        if data.admins.is_empty() {
            Err(says(
                "no admin is described: add yourself under admins",
                "aucun admin n'est décrit : ajoutez-vous sous admins",
            ))
        } else if uncommitted.is_empty() {
            Ok(same(format!("{} admin(s)", data.admins.len())))
        } else {
            let list = uncommitted.join(", ");
            Err(says(format!("not signed: {list}"), format!("non signé : {list}")))
        },
    ));
    items.push(item(
        "backups",
        "Backups are described: frequency, retention, places, encryption",
        "Les sauvegardes sont décrites : fréquence, rétention, lieux, chiffrement",
        false,
        match &data.backups {
            Some(b) if b.destinations.iter().any(|d| d.provider.trim() == PLACEHOLDER_PROVIDER) => Err(says(
                format!("a backup destination's provider is `chaton init`'s {PLACEHOLDER_PROVIDER:?}"),
                format!(
                    "le fournisseur d'une destination de sauvegarde est le {PLACEHOLDER_PROVIDER:?} de `chaton init`"
                ),
            )),
            Some(b) if b.encryption => {
                let n = b.destinations.len();
                Ok(says(
                    format!("{}, {n} destination(s), encrypted", b.schedule_words.en),
                    format!("{}, {n} destination(s), chiffrées", b.schedule_words.fr),
                ))
            }
            Some(_) => Err(says("backups are not encrypted", "les sauvegardes ne sont pas chiffrées")),
            None => Err(says("no backups section", "pas de section backups")),
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
