//! Stage 2: the description checked against the recipes, once both are loaded: everything
//! a type cannot say. Reports all problems
//! at once, each at its place in the file, with the field path and a hint where one helps.

use std::collections::{BTreeMap, HashMap};

use crate::diagnostic::{Diagnostic, quoted};
use crate::recipe::Catalogue;
use crate::recipe::check::check_param;
use crate::recipe::model::{Recipe, RecipeKind};
use crate::source::Span;
use crate::vocab::Proto;

use crate::description::Description;
use crate::vocab::suggest::closest;
use crate::vocab::values::{
    is_country_code, is_date, is_domain_name, is_email, is_identifier, is_safe_path, is_ssh_public_key, is_unix_name,
    is_web_url,
};

/// Collects diagnostics, each placed with the description's location index.
struct Report<'a> {
    description: &'a Description,
    found: Vec<Diagnostic>,
}

impl Report<'_> {
    /// A problem with the value at `path`.
    fn value(&mut self, path: &str, message: String) -> &mut Diagnostic {
        let span = self.description.locations.value(path);
        self.push(path, span, message)
    }

    /// A problem with a key that is missing or with the key itself (points at the key).
    fn key(&mut self, path: &str, message: String) -> &mut Diagnostic {
        let span = self.description.locations.key(path);
        self.push(path, span, message)
    }

    fn push(&mut self, path: &str, span: Option<Span>, message: String) -> &mut Diagnostic {
        let span = span.unwrap_or(Span::FILE_START);
        self.found.push(Diagnostic::error(message).at(&self.description.source, span).field(path));
        self.found.last_mut().expect("just pushed")
    }

    fn warn(&mut self, path: &str, message: String) -> &mut Diagnostic {
        let d = self.value(path, message);
        d.severity = crate::diagnostic::Severity::Warning;
        d
    }
}

trait Hint {
    fn hint(&mut self, text: impl Into<String>) -> &mut Self;
}

impl Hint for Diagnostic {
    fn hint(&mut self, text: impl Into<String>) -> &mut Self {
        self.help.push(text.into());
        self
    }
}

/// Checks a parsed description against itself and the recipe catalogue. Returns every
/// problem found (errors and warnings), in file order.
pub(crate) fn validate(description: &Description, catalogue: &Catalogue) -> Vec<Diagnostic> {
    let mut r = Report { description, found: Vec::new() };
    organisation(&mut r);
    admins(&mut r);
    servers(&mut r);
    services(&mut r, catalogue);
    infrastructure(&mut r, catalogue);
    backups(&mut r);
    let mut found = r.found;
    found.sort_by_key(|d| d.span.map(|s| s.start));
    found
}

/// The description's `recipes_dir`, checked before its recipes are read: it must be a folder
/// inside the project (next to the description or below). Recipes run as root on every
/// server, so a description that reaches for recipes elsewhere on the machine (`../..`,
/// `/tmp/x`) is refused; `--recipes` on the command line may name any folder, on purpose.
pub(crate) fn recipes_dir(description: &Description) -> Vec<Diagnostic> {
    let Some(dir) = &description.hoster.recipes_dir else { return Vec::new() };
    let mut r = Report { description, found: Vec::new() };
    let project = if description.dir.as_os_str().is_empty() { std::path::Path::new(".") } else { &description.dir };
    let full = project.join(dir);
    let (Ok(folder), Ok(project)) = (full.canonicalize(), project.canonicalize()) else {
        r.value("recipes_dir", format!("the recipes folder {} does not exist", quoted(dir))).hint(format!(
            "it is read from {}: a folder holding {}",
            full.display(),
            crate::recipe::catalogue::LAYOUT
        ));
        return r.found;
    };
    if !folder.is_dir() {
        r.value("recipes_dir", format!("{} is not a folder", quoted(dir)));
    } else if !folder.starts_with(&project) {
        r.value("recipes_dir", format!("{} is outside the project", quoted(dir))).hint(
            "recipes run as root on every server: keep them in a folder next to the description, or name another with --recipes on purpose",
        );
    }
    r.found
}

fn organisation(r: &mut Report) {
    let org = &r.description.hoster.organisation;
    let charter = "the charter pages publish it";
    let missing = |r: &mut Report, field: &str, why: &str| {
        r.key(&format!("organisation.{field}"), format!("missing `organisation.{field}`"))
            .hint(format!("add it: {why}"));
    };
    if org.name.trim().is_empty() {
        r.value("organisation.name", "the organisation name is empty".into());
    }
    if org.description.as_ref().is_none_or(crate::description::model::Localized::is_blank) {
        missing(r, "description", charter);
    }
    match &org.website {
        None => missing(r, "website", charter),
        Some(url) if !is_web_url(url) => {
            r.value("organisation.website", format!("{} is not a web address", quoted(url)))
                .hint("write the full address, such as https://amipo.example");
        }
        _ => {}
    }
    if org.legal_form.is_none() {
        missing(r, "legal_form", "the legal notice states it (person, association, company or coop)");
    }
    if org.publication_director.is_none() {
        missing(r, "publication_director", "the legal notice must name who is responsible for publication");
    }
    match &org.contact {
        None => missing(r, "contact", "users need a way to reach you (an email address at least)"),
        Some(contact) => {
            match &contact.email {
                None => missing(r, "contact.email", "users need a way to reach you"),
                Some(email) if !is_email(email) => {
                    r.value("organisation.contact.email", format!("{} is not an email address", quoted(email)));
                }
                _ => {}
            }
            if let Some(url) = contact.url.as_ref().filter(|u| !is_web_url(u)) {
                r.value("organisation.contact.url", format!("{} is not a web address", quoted(url)));
            }
        }
    }
    match &org.start_date {
        None => missing(r, "start_date", "ChatonsInfos publishes it (YYYY-MM-DD)"),
        Some(date) => check_date(r, "organisation.start_date", date),
    }
    if org.economic_model.is_none() {
        missing(r, "economic_model", "the charter requires a page about how you are funded");
    }
    if let Some(since) = org.chatons.as_ref().and_then(|c| c.since.as_ref()) {
        check_date(r, "organisation.chatons.since", since);
    }
    if let Some(updated) = &r.description.hoster.site.updated {
        check_date(r, "site.updated", updated);
    }
}

fn check_date(r: &mut Report, path: &str, date: &str) {
    if !is_date(date) {
        r.value(path, format!("{} is not a date", quoted(date))).hint("write it as YYYY-MM-DD, such as 2024-09-01");
    }
}

fn admins(r: &mut Report) {
    let admins = &r.description.hoster.admins;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, admin) in admins.iter().enumerate() {
        let path = format!("admins[{i}]");
        if !is_unix_name(&admin.login) {
            r.value(&format!("{path}.login"), format!("{} is not a valid Unix login", quoted(&admin.login)))
                .hint("use lowercase letters, digits, `-` and `_`, starting with a letter");
        } else if admin.login == "root" {
            r.value(&format!("{path}.login"), "an admin login cannot be `root`".into())
                .hint("each admin gets a personal account with sudo; root login is disabled");
        }
        if let Some(first) = seen.insert(admin.login.as_str(), i) {
            r.value(
                &format!("{path}.login"),
                format!("login {} is already used by admins[{first}]", quoted(&admin.login)),
            );
        }
        if admin.ssh_keys.is_empty() {
            r.key(&format!("{path}.ssh_keys"), format!("admin {} has no SSH key", quoted(&admin.name)))
                .hint("password logins are disabled, so an admin without a key could not log in");
        }
        for (j, key) in admin.ssh_keys.iter().enumerate() {
            if let Some(mismatch) = crate::vocab::values::ssh_key_label_mismatch(key) {
                r.value(&format!("{path}.ssh_keys[{j}]"), mismatch)
                    .hint("copy the whole line of the .pub file as it is: the label comes with its key");
            } else if !is_ssh_public_key(key) {
                r.value(&format!("{path}.ssh_keys[{j}]"), "not an OpenSSH public key".into())
                    .hint("paste one line of ~/.ssh/id_ed25519.pub: `ssh-ed25519 AAAA... name@machine`");
            }
        }
        if !admin.confidentiality_commitment {
            r.warn(
                &format!("{path}.confidentiality_commitment"),
                format!("admin {} has not signed the confidentiality commitment", quoted(&admin.name)),
            )
            .hint("the charter asks every admin to commit to confidentiality; the infrastructure page will say so");
        }
    }
}

fn servers(r: &mut Report) {
    let servers = &r.description.hoster.servers;
    if servers.is_empty() {
        r.key("servers", "no servers are described".into()).hint("add at least one server under `servers:`");
    }
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, server) in servers.iter().enumerate() {
        let path = format!("servers[{i}]");
        if !is_identifier(&server.name) {
            r.value(&format!("{path}.name"), format!("{} is not a valid server name", quoted(&server.name)))
                .hint("use lowercase letters, digits and `-`, starting with a letter (at most 40 characters)");
        }
        if let Some(first) = names.insert(server.name.as_str(), i) {
            r.value(&format!("{path}.name"), format!("server {} is described twice", quoted(&server.name)))
                .hint(format!("servers[{first}] has the same name; names must be unique"));
        }
        if server.address.is_empty() || server.address.chars().any(|c| c.is_whitespace() || c.is_control()) {
            r.value(&format!("{path}.address"), format!("{} is not a host address", quoted(&server.address)));
        }
        if server.port == 0 {
            r.value(&format!("{path}.port"), "port 0 is not a port".into())
                .hint("SSH listens on 22 unless you changed it; write the port your server's sshd listens on");
        }
        if !is_unix_name(&server.ssh_user) {
            r.value(&format!("{path}.ssh_user"), format!("{} is not a valid Unix login", quoted(&server.ssh_user)));
        }
        if let Some(mismatch) = server.host_key.as_deref().and_then(crate::vocab::values::ssh_key_label_mismatch) {
            r.value(&format!("{path}.host_key"), mismatch)
                .hint("copy the key from `ssh-keyscan -t ed25519 HOST` as it is: the label comes with its key");
        } else if server.host_key.as_ref().is_some_and(|k| !is_ssh_public_key(k)) {
            r.value(&format!("{path}.host_key"), "not an SSH host key".into())
                .hint("copy it from `ssh-keyscan -t ed25519 HOST` without the host name: `ssh-ed25519 AAAA...`");
        }
        let admins: Vec<&str> = r.description.hoster.admins.iter().map(|a| a.login.as_str()).collect();
        if server.ssh_user != "root" && !admins.is_empty() && !admins.contains(&server.ssh_user.as_str()) {
            // chaton logs in as an admin once root's login is off: a typo locks it out then.
            // A login one typo away from an admin's is that typo (an error); another one may
            // be the provider's first account (`debian`), said as a warning.
            let message = format!("{} is not the login of any admin of this description", quoted(&server.ssh_user));
            match closest(&server.ssh_user, admins.iter().copied()) {
                Some(best) => {
                    r.value(&format!("{path}.ssh_user"), message).hint(format!("did you mean {}?", quoted(best)));
                }
                None => {
                    r.warn(&format!("{path}.ssh_user"), message).hint(format!("admins' logins: {}", admins.join(", ")));
                }
            }
        }
        if server.ssh_user == "root" && !r.description.hoster.admins.is_empty() {
            r.warn(&format!("{path}.ssh_user"), format!("chaton connects to {} as root", quoted(&server.name)))
                .hint("root keeps a key-only login while ssh_user is root; once the admins' accounts exist, set ssh_user to an admin login and root login is switched off");
        }
        check_country(r, &format!("{path}.provider.country"), &server.provider.country);
        if let Some(jump) = &server.proxy_jump {
            let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).filter(|n| *n != server.name).collect();
            match servers.iter().find(|s| s.name == *jump && s.name != server.name) {
                None => {
                    let d = r.value(&format!("{path}.proxy_jump"), format!("unknown server {}", quoted(jump)));
                    match closest(jump, names.iter().copied()) {
                        Some(best) => d.hint(format!("did you mean {}?", quoted(best))),
                        None => d.hint("proxy_jump names another server of this description"),
                    };
                }
                Some(other) if other.proxy_jump.is_some() => {
                    r.value(
                        &format!("{path}.proxy_jump"),
                        format!("{} is itself reached through another server", quoted(jump)),
                    )
                    .hint("chaton goes through one jump host at most");
                }
                Some(_) => {}
            }
        }
        if let Some(relay) = &server.relay {
            check_relay(r, &path, server, relay, servers);
        }
        let mut paths: HashMap<&str, usize> = HashMap::new();
        for (j, file) in server.files.iter().enumerate() {
            let fpath = format!("{path}.files[{j}]");
            if file.path.chars().any(char::is_control) {
                // A newline or a NUL would make the server's tools read another path.
                r.value(&format!("{fpath}.path"), format!("{} holds a control character", quoted(&file.path)))
                    .hint("a path is one line of text; remove the newline, tab or NUL");
            } else if !is_safe_path(&file.path) || file.path.ends_with('/') {
                r.value(&format!("{fpath}.path"), format!("{} is not an absolute file path", quoted(&file.path)))
                    .hint("write the full path, such as /etc/motd");
            }
            for (field, name) in [("owner", &file.owner), ("group", &file.group)] {
                if !is_unix_name(name) {
                    r.value(&format!("{fpath}.{field}"), format!("{} is not a valid Unix name", quoted(name)));
                }
            }
            if let Some(first) = paths.insert(file.path.as_str(), j) {
                r.value(
                    &format!("{fpath}.path"),
                    format!("{} is already managed by {path}.files[{first}]", quoted(&file.path)),
                );
            }
        }
    }
}

/// A home server's `relay`: another server of the description, reached directly (a relay
/// is neither relayed nor behind a jump host), and the only way this one is reached.
fn check_relay(
    r: &mut Report,
    path: &str,
    server: &crate::description::model::Server,
    relay: &str,
    servers: &[crate::description::model::Server],
) {
    let field = format!("{path}.relay");
    let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).filter(|n| *n != server.name).collect();
    match servers.iter().find(|s| s.name == relay && s.name != server.name) {
        None => {
            let d = r.value(&field, format!("unknown server {}", quoted(relay)));
            match closest(relay, names.iter().copied()) {
                Some(best) => d.hint(format!("did you mean {}?", quoted(best))),
                None => d.hint("relay names another server of this description, one with a public address"),
            };
        }
        Some(other) if other.relay.is_some() || other.proxy_jump.is_some() => {
            r.value(&field, format!("{} is itself reached through another server", quoted(relay)))
                .hint("a relay is reached directly: a rented server with a public address");
        }
        Some(other) if other.provider.kind == crate::description::model::ProviderType::Home => {
            r.warn(&field, format!("the relay {} is at home too", quoted(relay)))
                .hint("a relay needs a public address that visitors reach: typically a small rented server");
        }
        Some(_) => {}
    }
    if server.proxy_jump.is_some() {
        r.value(&field, "a server has a relay or a proxy_jump, not both".into())
            .hint("with a relay, chaton reaches the server through the relay's tunnel: remove proxy_jump");
    }
}

fn check_country(r: &mut Report, path: &str, code: &str) {
    if is_country_code(code) {
        return;
    }
    let d = r.value(path, format!("{} is not a country code", quoted(code)));
    let upper = code.to_ascii_uppercase();
    if is_country_code(&upper) {
        d.hint(format!("country codes are upper case: {upper}"));
    } else if upper == "UK" {
        d.hint("the ISO code of the United Kingdom is GB");
    } else {
        d.hint("use the two-letter ISO 3166-1 code, such as FR, BE, CH or CA");
    }
}

fn services(r: &mut Report, catalogue: &Catalogue) {
    let hoster = &r.description.hoster;
    let server_names: Vec<&str> = hoster.servers.iter().map(|s| s.name.as_str()).collect();
    let recipe_names: Vec<&str> =
        catalogue.recipes().filter(|l| l.recipe.kind == RecipeKind::Service).map(|l| l.recipe.name.as_str()).collect();
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut domains: HashMap<&str, usize> = HashMap::new();
    // (server, port, proto) -> first service index that opened it exclusively or shared.
    let mut ports: BTreeMap<(&str, u16, Proto), (usize, bool)> = BTreeMap::new();

    for (i, service) in hoster.services.iter().enumerate() {
        let path = format!("services[{i}]");
        if !is_identifier(&service.name) {
            r.value(&format!("{path}.name"), format!("{} is not a valid service name", quoted(&service.name)))
                .hint("use lowercase letters, digits and `-`, starting with a letter (at most 40 characters)");
        }
        if let Some(first) = names.insert(service.name.as_str(), i) {
            r.value(&format!("{path}.name"), format!("service {} is described twice", quoted(&service.name)))
                .hint(format!("services[{first}] has the same name; names must be unique"));
        }
        if !server_names.contains(&service.server.as_str()) {
            let d = r.value(&format!("{path}.server"), format!("unknown server {}", quoted(&service.server)));
            match closest(&service.server, server_names.iter().copied()) {
                Some(best) => d.hint(format!("did you mean {}?", quoted(best))),
                None => d.hint(format!("servers described: {}", server_names.join(", "))),
            };
        }
        if let Some(domain) = &service.domain {
            if !is_domain_name(domain) {
                let d = r.value(&format!("{path}.domain"), format!("{} is not a valid domain name", quoted(domain)));
                if is_domain_name(&domain.to_ascii_lowercase()) {
                    d.hint(format!("domain names are written in lower case: {}", domain.to_ascii_lowercase()));
                } else {
                    d.hint(
                        "a domain is labels of letters, digits and `-` separated by dots, such as cloud.amipo.example",
                    );
                }
            }
            if let Some(first) = domains.insert(domain.as_str(), i) {
                r.value(
                    &format!("{path}.domain"),
                    format!(
                        "domain {} is already claimed by services[{first}] ({})",
                        quoted(domain),
                        hoster.services[first].name
                    ),
                )
                .hint("each service needs its own domain");
            }
        }
        if let Some(date) = &service.start_date {
            check_date(r, &format!("{path}.start_date"), date);
        }

        let Some(loaded) = catalogue.get(&service.recipe) else {
            let d = r.value(&format!("{path}.recipe"), format!("unknown recipe {}", quoted(&service.recipe)));
            match closest(&service.recipe, recipe_names.iter().copied()) {
                Some(best) => d.hint(format!("did you mean {}?", quoted(best))),
                None => d.hint(format!("available recipes: {}", recipe_names.join(", "))),
            };
            continue;
        };
        let recipe = &loaded.recipe;
        if recipe.kind == RecipeKind::Base {
            r.value(&format!("{path}.recipe"), format!("recipe {} is applied to every server", quoted(&recipe.name)))
                .hint("remove this service: the base recipe needs no entry");
            continue;
        }
        if recipe.kind == RecipeKind::Infrastructure {
            r.value(
                &format!("{path}.recipe"),
                format!("recipe {} is set up for the services that need it", quoted(&recipe.name)),
            )
            .hint(format!("remove this service; set its parameters under `infrastructure: {{{}: ...}}`", recipe.name));
            continue;
        }
        if let (Some(releases), Some(server)) =
            (&recipe.releases, hoster.servers.iter().find(|s| s.name == service.server))
            && !releases.only.contains(&server.distribution)
        {
            let fitting: Vec<&str> = hoster
                .servers
                .iter()
                .filter(|s| releases.only.contains(&s.distribution))
                .map(|s| s.name.as_str())
                .collect();
            let runs_on: Vec<&str> = releases.only.iter().map(|d| d.label()).collect();
            let d = r.value(
                &format!("{path}.server"),
                format!(
                    "recipe {} does not run on {} (server {}): {}",
                    quoted(&recipe.name),
                    server.distribution.label(),
                    quoted(&server.name),
                    releases.why
                ),
            );
            if fitting.is_empty() {
                d.hint(format!("it runs on {}: upgrade the server, or describe one that runs it", runs_on.join(", ")));
            } else {
                d.hint(format!("it runs on {}: put it on {}", runs_on.join(", "), fitting.join(" or ")));
            };
        }
        if recipe.needs_domain && service.domain.is_none() {
            r.key(&format!("{path}.domain"), format!("recipe {} needs a `domain`", quoted(&recipe.name)))
                .hint("add `domain: NAME` with the name users will type");
        }
        check_params(r, &format!("{path}.params"), recipe, &service.params);
        // Ports: two services may not claim the same exclusive port on one server.
        for port in &recipe.ports {
            let number = match (&port.port, &port.port_param) {
                (Some(p), _) => Some(*p),
                (None, Some(param)) => service
                    .params
                    .get(param)
                    .or(recipe.params.get(param).and_then(|p| p.default.as_ref()))
                    .and_then(serde_json::Value::as_u64)
                    .and_then(|n| u16::try_from(n).ok()),
                _ => None,
            };
            let Some(number) = number else { continue };
            let key = (service.server.as_str(), number, port.proto);
            match ports.get(&key) {
                Some(&(first, shared)) if !(shared && port.shared) => {
                    let d = r.value(
                        &format!("{path}.recipe"),
                        format!(
                            "port {number}/{} on server {} is already used by services[{first}] ({})",
                            port.proto,
                            quoted(&service.server),
                            hoster.services[first].name
                        ),
                    );
                    if port.port_param.is_some() {
                        d.hint(format!("set `params.{}` to another port", port.port_param.as_deref().unwrap_or("")));
                    } else {
                        d.hint("put one of the two services on another server");
                    }
                }
                Some(_) => {}
                None => {
                    ports.insert(key, (i, port.shared));
                }
            }
        }
    }
}

/// A recipe's parameters as a service or the `infrastructure` section sets them: unknown
/// names, types, required ones. `path` is where they are written (`services[0].params`).
fn check_params(r: &mut Report, path: &str, recipe: &Recipe, params: &BTreeMap<String, serde_json::Value>) {
    let param_names: Vec<&str> = recipe.params.keys().map(String::as_str).collect();
    for (name, value) in params {
        let ppath = format!("{path}.{name}");
        match recipe.params.get(name) {
            None => {
                let d = r.key(&ppath, format!("recipe {} has no parameter {}", quoted(&recipe.name), quoted(name)));
                match closest(name, param_names.iter().copied()) {
                    Some(best) => d.hint(format!("did you mean {}?", quoted(best))),
                    None if param_names.is_empty() => d.hint("this recipe takes no parameters"),
                    None => d.hint(format!("parameters: {}", param_names.join(", "))),
                };
            }
            Some(spec) => {
                if let Err(e) = check_param(spec, value) {
                    r.value(&ppath, format!("parameter `{name}`: {e}")).hint(spec.description.clone());
                }
            }
        }
    }
    for (name, spec) in &recipe.params {
        if spec.default.is_none() && !params.contains_key(name) {
            r.key(&format!("{path}.{name}"), format!("missing parameter `{name}` of recipe {}", quoted(&recipe.name)))
                .hint(format!("{}: {}", name, spec.description));
        }
    }
}

/// The `infrastructure` section: each entry names a recipe services stand on (or `base`)
/// and sets its parameters.
fn infrastructure(r: &mut Report, catalogue: &Catalogue) {
    let names: Vec<&str> =
        catalogue.recipes().filter(|l| l.recipe.kind != RecipeKind::Service).map(|l| l.recipe.name.as_str()).collect();
    let description = r.description;
    for (name, params) in &description.hoster.infrastructure {
        let path = format!("infrastructure.{name}");
        match catalogue.get(name) {
            Some(loaded) if loaded.recipe.kind != RecipeKind::Service => check_params(r, &path, &loaded.recipe, params),
            Some(_) => {
                r.key(&path, format!("recipe {} is a service", quoted(name)))
                    .hint("set a service's parameters under its entry in `services`, in `params`");
            }
            None => {
                let d = r.key(&path, format!("unknown recipe {}", quoted(name)));
                match closest(name, names.iter().copied()) {
                    Some(best) => d.hint(format!("did you mean {}?", quoted(best))),
                    None => d.hint(format!("recipes set here: {}", names.join(", "))),
                };
            }
        }
    }
}

fn backups(r: &mut Report) {
    let hoster = &r.description.hoster;
    let Some(backups) = &hoster.backups else {
        if !hoster.services.is_empty() {
            r.warn("backups", "no `backups` section: user data would not be backed up".into())
                .hint("add a `backups:` section; the infrastructure page states backup frequency and place");
        }
        return;
    };
    let server_names: Vec<&str> = hoster.servers.iter().map(|s| s.name.as_str()).collect();
    if backups.destinations.is_empty() {
        r.key("backups.destinations", "no backup destination".into()).hint("add at least one destination");
    }
    for (i, dest) in backups.destinations.iter().enumerate() {
        let path = format!("backups.destinations[{i}]");
        if let Some(server) = &dest.server
            && !server_names.contains(&server.as_str())
        {
            let d = r.value(&format!("{path}.server"), format!("unknown server {}", quoted(server)));
            if let Some(best) = closest(server, server_names.iter().copied()) {
                d.hint(format!("did you mean {}?", quoted(best)));
            }
        }
        check_country(r, &format!("{path}.country"), &dest.country);
    }
    let retention = &backups.retention;
    if retention.daily + retention.weekly + retention.monthly == 0 {
        r.value("backups.retention", "the retention keeps no backup at all".into())
            .hint("set daily, weekly or monthly to the number of backups to keep");
    }
    if !backups.encryption {
        r.warn("backups.encryption", "backups are not encrypted".into())
            .hint("backups leave the server; the charter expects users' data to be protected");
    }
}
