//! The charter website and ChatonsInfos files, a pure rendering of the description and the
//! recipes' metadata (beside the pipeline: it reads the same values, changes nothing).
//!
//! Pages in French and English under `fr/` and `en/`, one stylesheet, no script, no font,
//! no image, nothing loaded from elsewhere; ChatonsInfos files under `chatonsinfos/`.
//! Templates live under `templates/site/` and can be replaced from a local recipes folder.

pub mod check;
pub mod context;
pub mod properties;

use std::collections::BTreeMap;

use serde_json::json;
use tera::{Context, Tera};

use crate::description::Description;
use crate::diagnostic::Diagnostic;
use crate::recipe::Catalogue;
use crate::source::{Pos, Span};
use check::CheckItem;
use context::SiteData;

/// The pages, in menu order: (file name, English title, French title).
pub const PAGES: &[(&str, &str, &str)] = &[
    ("index", "About us", "Qui sommes-nous"),
    ("services", "Services", "Services"),
    ("terms", "Terms of use", "Conditions d'utilisation"),
    ("economy", "Economic model", "Modèle économique"),
    ("data", "Your data", "Vos données"),
    ("privacy", "Privacy and statistics", "Vie privée et statistiques"),
    ("infrastructure", "Infrastructure and security", "Infrastructure et sécurité"),
    ("legal", "Legal notice", "Mentions légales"),
    ("charter", "Charter self-check", "Auto-évaluation de la charte"),
];

const LANGUAGES: &[&str] = &["fr", "en"];

/// The built site: files by path relative to the site's root, and the charter check.
#[derive(Debug, Clone)]
pub struct Site {
    pub files: BTreeMap<String, Vec<u8>>,
    pub checks: Vec<CheckItem>,
}

impl Site {
    /// Required charter items that are missing.
    pub fn missing(&self) -> impl Iterator<Item = &CheckItem> {
        self.checks.iter().filter(|c| c.required && !c.ok)
    }
}

/// Builds the site. `today` (`YYYY-MM-DD`) is used when the description pins no date.
pub fn build(description: &Description, catalogue: &Catalogue, today: &str) -> Result<Site, Vec<Diagnostic>> {
    let data = SiteData::from_description(description, catalogue, today);
    let mut tera = Tera::default();
    tera.autoescape_on(vec![".html"]);
    // `{{ text | in_lang(lang=lang) }}`: free text the description gives in one string for
    // both languages, or as `{fr, en}` (`Localized`).
    tera.register_filter("in_lang", |value: tera::Value, kwargs: tera::Kwargs, _: &tera::State| {
        let lang: &str = kwargs.get("lang").ok().flatten().unwrap_or("fr");
        match value.as_str() {
            Some(text) => text.to_owned(),
            None => value.get_from_path(lang).and_then(|v| v.as_str()).unwrap_or_default().to_owned(),
        }
    });
    let mut problems = Vec::new();
    // All at once: a page and the layout it extends must be added together.
    let templates: Vec<(&str, &str)> = catalogue
        .templates_under("site/")
        .filter(|(n, _)| n.ends_with(".html"))
        .map(|(n, s)| (n, s.text.as_str()))
        .collect();
    if let Err(e) = tera.add_raw_templates(templates) {
        let name = match e.kind() {
            tera::ErrorKind::SyntaxError(r) => r.filename().to_owned(),
            _ => String::new(),
        };
        return Err(vec![template_error(catalogue, &name, &e)]);
    }

    let mut files = BTreeMap::new();
    let default = match description.hoster.organisation.language {
        crate::description::model::Language::Fr => "fr",
        crate::description::model::Language::En => "en",
    };
    let style = catalogue.template("site/style.css").map(|s| s.text.clone()).unwrap_or_default();
    files.insert("style.css".to_owned(), style.into_bytes());
    for (path, text) in chatonsinfos(&data) {
        files.insert(path, text.into_bytes());
    }
    let info_files: Vec<&String> = files.keys().filter(|k| k.starts_with("chatonsinfos/")).collect();
    let info_files: Vec<String> = info_files.into_iter().cloned().collect();

    let render = |page: &str, lang: &str, checks: &[CheckItem]| -> Result<String, Diagnostic> {
        let other = if lang == "fr" { "en" } else { "fr" };
        let pages: Vec<_> =
            PAGES.iter().map(|(id, en, fr)| json!({ "id": id, "title": if lang == "fr" { fr } else { en } })).collect();
        let title = PAGES
            .iter()
            .find(|(id, ..)| *id == page)
            .map(|(_, en, fr)| if lang == "fr" { *fr } else { *en })
            .unwrap_or_default();
        let value = json!({
            "site": data,
            "lang": lang,
            "other_lang": other,
            "page": page,
            "title": title,
            "pages": pages,
            "checks": checks,
            "chatonsinfos": info_files,
        });
        let context = Context::from_serialize(&value).map_err(|e| Diagnostic::error(e.to_string()))?;
        let name = format!("site/{page}.html");
        tera.render(&name, &context).map_err(|e| template_error(catalogue, &name, &e))
    };

    for (page, ..) in PAGES.iter().filter(|(id, ..)| *id != "charter") {
        for lang in LANGUAGES {
            match render(page, lang, &[]) {
                Ok(html) => {
                    files.insert(format!("{lang}/{page}.html"), html.into_bytes());
                }
                Err(d) => problems.push(d),
            }
        }
    }
    files.insert("index.html".to_owned(), language_choice(&data, default).into_bytes());
    let external = external_resources(&files);
    let checks = check::run(&data, &external);
    for lang in LANGUAGES {
        match render("charter", lang, &checks) {
            Ok(html) => {
                files.insert(format!("{lang}/charter.html"), html.into_bytes());
            }
            Err(d) => problems.push(d),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    // The charter page is checked like the others.
    let external = external_resources(&files);
    let checks = check::run(&data, &external);
    Ok(Site { files, checks })
}

fn template_error(catalogue: &Catalogue, name: &str, error: &tera::Error) -> Diagnostic {
    let (message, span) = match error.kind() {
        tera::ErrorKind::SyntaxError(r) | tera::ErrorKind::RenderingError(r) => {
            let s = r.span();
            (r.message().to_owned(), Some(Span::point(Pos { line: s.start_line, column: s.start_col + 1 })))
        }
        other => (other.to_string(), None),
    };
    let mut d = Diagnostic::error(format!("site template error: {message}"));
    if let (Some(source), Some(span)) = (catalogue.template(name), span) {
        d = d.at(source, span);
    }
    d
}

/// The root page: a plain choice of language, sending readers to the default one.
fn language_choice(data: &SiteData, default: &str) -> String {
    let name = html_escape(&data.organisation.name);
    format!(
        "<!DOCTYPE html>\n<html lang=\"{default}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta http-equiv=\"refresh\" content=\"0; url={default}/index.html\">\n<title>{name}</title>\n<link rel=\"stylesheet\" href=\"style.css\">\n</head>\n<body>\n<main>\n<h1>{name}</h1>\n<ul>\n<li><a href=\"fr/index.html\" hreflang=\"fr\" lang=\"fr\">Français</a></li>\n<li><a href=\"en/index.html\" hreflang=\"en\" lang=\"en\">English</a></li>\n</ul>\n</main>\n</body>\n</html>\n"
    )
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Resources a page would load from another site: `src=`, stylesheet links, CSS `url()`
/// and `@import` with an absolute address. Links people click are not resources.
pub fn external_resources(files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut found = Vec::new();
    for (path, bytes) in files.iter().filter(|(p, _)| p.ends_with(".html") || p.ends_with(".css")) {
        let text = String::from_utf8_lossy(bytes);
        let lower = text.to_ascii_lowercase();
        for marker in
            ["src=\"http", "src='http", "src=\"//", "url(http", "url(\"http", "url('http", "url(//", "@import"]
        {
            if lower.contains(marker) {
                found.push(format!("{path} ({marker}…)"));
            }
        }
        for tag in lower.split("<link").skip(1) {
            let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
            if tag.contains("href=\"http") || tag.contains("href=\"//") {
                found.push(format!("{path} (<link href=…>)"));
            }
        }
    }
    found
}

/// ChatonsInfos files (protocol ChatonsInfos-0.1): one for the organisation, linking to
/// one per service.
fn chatonsinfos(data: &SiteData) -> Vec<(String, String)> {
    let org = &data.organisation;
    let website = org.website.clone().unwrap_or_default();
    let base = website.trim_end_matches('/').to_owned();
    let datetime = format!("{}T00:00:00", data.updated);
    let header = |class: &str| -> Vec<(String, String)> {
        vec![
            ("file.class".into(), class.into()),
            ("file.protocol".into(), "ChatonsInfos-0.1".into()),
            ("file.datetime".into(), datetime.clone()),
            ("file.generator".into(), data.generator.clone()),
        ]
    };
    let mut files = Vec::new();
    let mut entries = header("Organization");
    let add = |entries: &mut Vec<(String, String)>, key: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            entries.push((key.to_owned(), v));
        }
    };
    add(&mut entries, "organization.name", Some(org.name.clone()));
    // In the organisation's own language: ChatonsInfos holds one text.
    let lang = match org.language {
        crate::description::model::Language::Fr => "fr",
        crate::description::model::Language::En => "en",
    };
    add(&mut entries, "organization.description", org.description.as_ref().map(|d| d.get(lang).to_owned()));
    add(&mut entries, "organization.website", org.website.clone());
    add(&mut entries, "organization.logo.url", org.logo.clone().filter(|l| l.starts_with("https://")));
    add(&mut entries, "organization.contact.email", org.contact.as_ref().and_then(|c| c.email.clone()));
    add(&mut entries, "organization.contact.url", org.contact.as_ref().and_then(|c| c.url.clone()));
    add(&mut entries, "organization.legal.url", Some(format!("{base}/fr/legal.html")));
    add(&mut entries, "organization.technical.url", Some(format!("{base}/fr/infrastructure.html")));
    add(&mut entries, "organization.startDate", org.start_date.clone());
    add(&mut entries, "organization.geography", org.geography.clone());
    for service in &data.services {
        entries.push((format!("subs.{}", service.name), format!("{base}/chatonsinfos/{}.properties", service.name)));
    }
    files.push((
        "chatonsinfos/organization.properties".to_owned(),
        properties::render(&format!("ChatonsInfos of {}, generated by {}", org.name, data.generator), &entries),
    ));
    for s in &data.services {
        let mut e = header("Service");
        let mut add = |key: &str, value: Option<String>| {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                e.push((key.to_owned(), v));
            }
        };
        add("service.name", Some(s.name.clone()));
        add("service.description", Some(s.summary.en.clone()));
        add("service.website", s.url.clone());
        add("service.startdate", s.start_date.clone());
        add("service.status.level", Some(s.status.to_owned()));
        add("service.registration", Some(s.registration.to_owned()));
        add("service.registration.load", Some(s.capacity.to_owned()));
        add("service.install.type", Some(s.software.install.to_owned()));
        add("software.name", Some(s.software.name.clone()));
        add("software.version", Some(s.software.version.clone()));
        add("software.website", Some(s.software.website.clone()));
        add("software.license.name", Some(s.software.licence.clone()));
        add("software.license.url", Some(s.software.licence_url.clone()));
        add("software.source.url", Some(s.software.source.clone()));
        add("host.name", Some(s.server.provider.clone()));
        add("host.server.distribution", Some(s.server.distribution.to_owned()));
        add("host.provider.type", Some(s.server.provider_type.to_owned()));
        add("host.provider.hypervisor", s.server.hypervisor.clone());
        add("host.country.name", Some(s.server.country_name.clone()));
        add("host.country.code", Some(s.server.country_code.clone()));
        files.push((
            format!("chatonsinfos/{}.properties", s.name),
            properties::render(&format!("ChatonsInfos of the service {}", s.name), &e),
        ));
    }
    files
}
