//! Checks a recipe is consistent in itself (its handlers, ports, templates and parameter
//! defaults), and checks parameter values against their declared types.

use serde_json::Value;

use crate::diagnostic::{Diagnostic, quoted};
use crate::vocab::values::{is_domain_name, is_email, is_safe_path, is_web_url};

use super::catalogue::{Catalogue, LoadedRecipe};
use super::model::{ParamSpec, ParamType, Provides, RecipeKind, ResourceSpec};

/// Checks a parameter value against its spec; the error is a sentence for the user.
pub fn check_param(spec: &ParamSpec, value: &Value) -> Result<(), String> {
    let type_name = match spec.kind {
        ParamType::String => "a string",
        ParamType::Text => "a text",
        ParamType::FileName => "a file name (letters, digits, `.`, `-`, `_`)",
        ParamType::Size => "an amount of storage such as 512M, 2G or 1 GB",
        ParamType::Integer => "an integer",
        ParamType::Boolean => "true or false",
        ParamType::Path => "an absolute path",
        ParamType::Domain => "a domain name",
        ParamType::Email => "an email address",
        ParamType::List => "a list of strings",
        ParamType::Network => "an IPv4 network such as 10.66.0.0/24",
        ParamType::Peers => "a list of peers, each `{name: NAME}` or `{name: NAME, public_key: KEY}`",
    };
    let wrong = || Err(format!("expected {type_name}, found {}", describe(value)));
    match (spec.kind, value) {
        (ParamType::Integer, Value::Number(n)) => {
            let Some(n) = n.as_i64() else { return wrong() };
            if let Some(min) = spec.min.filter(|min| n < *min) {
                return Err(format!("{n} is below the minimum {min}"));
            }
            if let Some(max) = spec.max.filter(|max| n > *max) {
                return Err(format!("{n} is above the maximum {max}"));
            }
            Ok(())
        }
        (ParamType::Boolean, Value::Bool(_)) => Ok(()),
        (ParamType::String, Value::String(s)) if s.chars().any(char::is_control) => {
            Err(format!("{} holds a control character (a newline, a tab...): write it on one line", quoted(s)))
        }
        (ParamType::String, Value::String(s)) => match &spec.choices {
            Some(choices) if !choices.contains(s) => {
                Err(format!("{} is not one of: {}", quoted(s), choices.join(", ")))
            }
            _ => Ok(()),
        },
        (ParamType::Text, Value::String(s)) if s.chars().any(|c| c.is_control() && c != '\n') => {
            Err("holds a control character other than a line end".to_owned())
        }
        (ParamType::Text, Value::String(_)) => Ok(()),
        (ParamType::FileName, Value::String(s)) => {
            let fits = !s.is_empty()
                && s.len() <= 255
                && !s.starts_with('.')
                && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
            if fits { Ok(()) } else { Err(format!("{} is not a file name such as index.html", quoted(s))) }
        }
        (ParamType::Size, Value::String(s)) => {
            if is_size(s) {
                Ok(())
            } else {
                Err(format!("{} is not an amount of storage such as 512M, 2G or 1 GB", quoted(s)))
            }
        }
        (ParamType::Path, Value::String(s)) => {
            if is_safe_path(s) {
                Ok(())
            } else {
                Err(format!("{} is not an absolute path without `..`", quoted(s)))
            }
        }
        (ParamType::Domain, Value::String(s)) if is_domain_name(s) => Ok(()),
        (ParamType::Email, Value::String(s)) if is_email(s) => Ok(()),
        (ParamType::List, Value::Array(items)) if items.iter().all(Value::is_string) => Ok(()),
        (ParamType::Network, Value::String(s)) => match parse_network(s) {
            Some(_) => Ok(()),
            None => Err(format!("{} is not an IPv4 network such as 10.66.0.0/24 (prefix 16 to 29)", quoted(s))),
        },
        (ParamType::Peers, Value::Array(items)) => check_peers(items),
        _ => wrong(),
    }
}

/// `512M`, `2G`, `1 GB`, `1.5 TB`: a positive number, then a unit (B, K, KB, M, MB, G, GB,
/// T, TB, any case), a space between them or not.
fn is_size(text: &str) -> bool {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let positive = number.parse::<f64>().is_ok_and(|n| n > 0.0) && !number.starts_with('.');
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_uppercase();
    positive && ["B", "K", "KB", "M", "MB", "G", "GB", "T", "TB"].contains(&unit.as_str())
}

/// An IPv4 network with a prefix from 16 to 29 (room for a server and its peers), as
/// (network address, prefix); the address must be the network's own.
pub fn parse_network(text: &str) -> Option<(std::net::Ipv4Addr, u8)> {
    let (address, prefix) = text.split_once('/')?;
    let address: std::net::Ipv4Addr = address.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    if !(16..=29).contains(&prefix) {
        return None;
    }
    let mask = u32::MAX << (32 - u32::from(prefix));
    (u32::from(address) & !mask == 0).then_some((address, prefix))
}

/// A WireGuard public key: 32 bytes in base64.
pub fn is_wireguard_key(text: &str) -> bool {
    use base64::Engine as _;
    text.len() == 44 && base64::engine::general_purpose::STANDARD.decode(text).is_ok_and(|b| b.len() == 32)
}

fn check_peers(items: &[Value]) -> Result<(), String> {
    let mut names = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Value::Object(map) = item else {
            return Err(format!("peer {} is {}, expected `{{name: NAME}}`", i + 1, describe(item)));
        };
        if let Some(key) = map.keys().find(|k| !["name", "public_key"].contains(&k.as_str())) {
            return Err(format!("peer {}: unknown key {} (a peer has `name` and `public_key`)", i + 1, quoted(key)));
        }
        let Some(Value::String(name)) = map.get("name") else {
            return Err(format!("peer {} has no `name`", i + 1));
        };
        let ok = !name.is_empty()
            && name.len() <= 32
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && name.starts_with(|c: char| c.is_ascii_lowercase());
        if !ok {
            return Err(format!("peer name {} must be lowercase letters, digits and `-` (at most 32)", quoted(name)));
        }
        if names.contains(name) {
            return Err(format!("peer {} is listed twice", quoted(name)));
        }
        names.push(name.clone());
        match map.get("public_key") {
            None => {}
            Some(Value::String(key)) if is_wireguard_key(key) => {}
            Some(other) => {
                return Err(format!(
                    "the public key of peer {} is {}, not a WireGuard key (44 characters of base64, from `wg pubkey`)",
                    quoted(name),
                    describe(other)
                ));
            }
        }
    }
    Ok(())
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing (null)".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", quoted(s)),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
    }
}

/// What is wrong with the part a recipe says it `provides`: the engine reads what it gives
/// by that contract (its kind, the parameters it reads, one recipe for a part played once).
fn provided_part_problems(recipe: &crate::recipe::model::Recipe, catalogue: &Catalogue) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(part) = recipe.provides else { return problems };
    let name = part.name();
    let (kind, kind_name) = match part {
        Provides::WireguardKeys => (RecipeKind::Service, "service: each VPN is a service"),
        Provides::Backups | Provides::Postgresql | Provides::RelayTunnel => {
            (RecipeKind::Infrastructure, "infrastructure")
        }
    };
    if recipe.kind != kind {
        problems.push(format!("a recipe that provides {name} is `kind: {kind_name}`"));
    }
    let played_once = match part {
        Provides::Backups => Some("one recipe takes the backups"),
        Provides::RelayTunnel => Some("one recipe writes the relay tunnels"),
        Provides::WireguardKeys | Provides::Postgresql => None,
    };
    let others: Vec<String> = catalogue
        .recipes()
        .filter(|r| r.recipe.provides == Some(part) && r.recipe.name != recipe.name)
        .map(|r| quoted(&r.recipe.name))
        .collect();
    if let Some(why) = played_once
        && !others.is_empty()
    {
        problems.push(format!(
            "recipe {} provides {name}, and so does {}: {why}",
            quoted(&recipe.name),
            others.join(", ")
        ));
    }
    if part == Provides::WireguardKeys {
        let wanted = [
            ("network", ParamType::Network, "network", true),
            ("peers", ParamType::Peers, "peers", true),
            ("port", ParamType::Integer, "integer", true),
            ("endpoint", ParamType::String, "string", false),
            ("full_tunnel", ParamType::Boolean, "boolean", false),
            ("dns", ParamType::String, "string", false),
        ];
        for (param, kind, type_name, needed) in wanted {
            match recipe.params.get(param) {
                Some(spec) if spec.kind == kind => {}
                None if !needed => {}
                _ => problems.push(format!(
                    "provides wireguard_keys: the parameter `{param}` must be declared with `type: {type_name}`{}",
                    if needed { "" } else { " when it is declared" }
                )),
            }
        }
    }
    problems
}

/// Problems inside one recipe, with positions in the recipe file.
pub fn check_recipe(loaded: &LoadedRecipe, catalogue: &Catalogue) -> Vec<Diagnostic> {
    let recipe = &loaded.recipe;
    let mut problems = Vec::new();
    let mut report = |path: String, message: String, help: Option<String>| {
        let mut d = loaded.error_at(&path, message);
        if let Some(h) = help {
            d = d.help(h);
        }
        problems.push(d);
    };

    for (name, spec) in &recipe.params {
        if let Some(default) = &spec.default
            && let Err(e) = check_param(spec, default)
        {
            report(format!("params.{name}.default"), format!("default of parameter `{name}`: {e}"), None);
        }
        if spec.choices.is_some() && spec.kind != ParamType::String {
            report(format!("params.{name}.choices"), "only string parameters take `choices`".into(), None);
        }
    }
    if let Some(retention) = &recipe.data.retention
        && recipe.params.get(&retention.param).is_none_or(|p| p.kind != ParamType::Integer || p.default.is_none())
    {
        report(
            "data.retention.param".into(),
            format!(
                "`retention.param` names {}, which is not an integer parameter with a default",
                quoted(&retention.param)
            ),
            None,
        );
    }
    for (i, name) in recipe.secrets.iter().enumerate() {
        let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok || recipe.secrets.iter().filter(|n| *n == name).count() > 1 {
            report(
                format!("secrets[{i}]"),
                format!("secret name {} must be unique and made of a-z, 0-9 and _", quoted(name)),
                None,
            );
        }
    }
    for (i, port) in recipe.ports.iter().enumerate() {
        match (&port.port, &port.port_param) {
            (Some(_), None) => {}
            (None, Some(param)) => {
                if recipe.params.get(param).is_none_or(|p| p.kind != ParamType::Integer) {
                    report(
                        format!("ports[{i}].port_param"),
                        format!(
                            "`port_param` names {}, which is not an integer parameter of this recipe",
                            quoted(param)
                        ),
                        None,
                    );
                }
            }
            _ => report(format!("ports[{i}]"), "a port needs exactly one of `port` and `port_param`".into(), None),
        }
    }
    for (i, name) in recipe.requires.iter().enumerate() {
        match catalogue.get(name) {
            Some(required) if required.recipe.kind == RecipeKind::Infrastructure => {}
            Some(_) => report(
                format!("requires[{i}]"),
                format!("recipe {} is not an infrastructure recipe", quoted(name)),
                Some("`requires` names recipes services stand on, such as web or postgresql".into()),
            ),
            None => report(format!("requires[{i}]"), format!("no recipe named {}", quoted(name)), None),
        }
    }
    let own_handlers: Vec<&str> = recipe.handlers.iter().map(|h| h.name.as_str()).collect();
    for (i, h) in recipe.handlers.iter().enumerate() {
        if own_handlers.iter().filter(|n| **n == h.name).count() > 1 {
            report(format!("handlers[{i}].name"), format!("handler {} is defined twice", quoted(&h.name)), None);
        }
        // A handler is a unit to reload or restart, or a command: exactly one of them.
        let name = quoted(&h.name);
        let problem = match (&h.service, &h.action, &h.run) {
            (Some(_), Some(_), None) | (None, None, Some(_)) => None,
            (Some(_), None, None) => Some((
                "service",
                format!("handler {name} names a service but no action"),
                "add `action: reload` or `action: restart`",
            )),
            (None, Some(_), None) => {
                Some(("action", format!("handler {name} has an action but no service"), "add `service: UNIT`"))
            }
            (_, _, Some(_)) => Some((
                "run",
                format!("handler {name} both acts on a service and runs a command"),
                "a handler does one of them: keep `service:` with `action:`, or `run:`",
            )),
            (None, None, None) => Some((
                "name",
                format!("handler {name} does not say what it does"),
                "add `service:` with `action:`, or `run:`",
            )),
        };
        if let Some((field, message, help)) = problem {
            report(format!("handlers[{i}].{field}"), message, Some(help.into()));
        }
    }
    // A resource may also notify the handlers of the recipes it requires ("reload nginx").
    let mut handler_names = own_handlers;
    for required in recipe.requires.iter().filter_map(|name| catalogue.get(name)) {
        handler_names.extend(required.recipe.handlers.iter().map(|h| h.name.as_str()));
    }
    for (i, resource) in recipe.resources.iter().enumerate() {
        let (kind, notify) = (resource.kind(), resource.notify());
        for (j, n) in notify.iter().enumerate() {
            if !handler_names.contains(&n.as_str()) {
                let hint = crate::vocab::suggest::closest(n, handler_names.iter().copied())
                    .map(|s| format!("did you mean {}?", quoted(s)));
                report(format!("resources[{i}].{kind}.notify[{j}]"), format!("no handler named {}", quoted(n)), hint);
            }
        }
        if let ResourceSpec::File(file) = resource {
            match (&file.content, &file.template) {
                (Some(_), None) => {}
                (None, Some(template)) => {
                    if catalogue.template(template).is_none() {
                        report(
                            format!("resources[{i}].file.template"),
                            format!("template {} not found", quoted(template)),
                            Some(match template.split_once('/') {
                                Some((folder, file)) => {
                                    format!(
                                        "the template {} is the file recipes/{folder}/templates/{file}",
                                        quoted(template)
                                    )
                                }
                                None => format!(
                                    "a template is named after its recipe's folder: {}/FILE, the file recipes/{}/templates/FILE",
                                    recipe.name, recipe.name
                                ),
                            }),
                        );
                    }
                }
                _ => report(
                    format!("resources[{i}].file"),
                    "a file needs exactly one of `content` and `template`".into(),
                    None,
                ),
            }
        }
        if let ResourceSpec::Command(cmd) = resource {
            if cmd.creates.is_none() && cmd.unless.is_none() {
                report(
                    format!("resources[{i}].command"),
                    "a command needs a guard: `creates` or `unless`".into(),
                    Some("without a guard it would run on every apply and never converge".into()),
                );
            }
            if cmd.run.is_empty() {
                report(format!("resources[{i}].command.run"), "`run` is empty".into(), None);
            }
        }
        // A templated checksum (a parameter) is checked once rendered.
        if let ResourceSpec::Download(dl) = resource
            && !dl.sha256.contains("{{")
            && (dl.sha256.len() != 64 || !dl.sha256.chars().all(|c| c.is_ascii_hexdigit()))
        {
            report(
                format!("resources[{i}].download.sha256"),
                "`sha256` must be 64 hexadecimal characters".into(),
                None,
            );
        }
    }
    let provides_postgres = |r: &crate::recipe::model::Recipe| r.provides == Some(Provides::Postgresql);
    let uses_postgres = provides_postgres(recipe)
        || recipe.requires.iter().filter_map(|r| catalogue.get(r)).any(|r| provides_postgres(&r.recipe));
    for (i, resource) in recipe.resources.iter().enumerate() {
        if matches!(resource, ResourceSpec::Role(_) | ResourceSpec::Database(_)) && !uses_postgres {
            let kind = resource.kind();
            let servers: Vec<&str> =
                catalogue.recipes().filter(|r| provides_postgres(&r.recipe)).map(|r| r.recipe.name.as_str()).collect();
            let help = match servers.first() {
                Some(name) => format!("add `requires: [{name}]` to the recipe"),
                None => "require a recipe with `provides: postgresql`".to_owned(),
            };
            report(format!("resources[{i}].{kind}"), format!("a {kind} needs PostgreSQL"), Some(help));
        }
    }
    for problem in provided_part_problems(recipe, catalogue) {
        report("provides".into(), problem, None);
    }
    if let crate::recipe::model::Version::PerRelease(versions) = &recipe.software.version {
        let known = [crate::vocab::Distribution::Debian12, crate::vocab::Distribution::Debian13].map(|d| d.name());
        for release in versions.keys().filter(|r| !known.contains(&r.as_str())) {
            report(
                format!("software.version.{release}"),
                format!("{} is not a Debian release chaton knows", quoted(release)),
                Some(format!("one of: {}", known.join(", "))),
            );
        }
    }
    for (path, url) in [("software.website", &recipe.software.website), ("software.source", &recipe.software.source)] {
        if !is_web_url(url) {
            report(path.to_owned(), format!("{} is not a web address", quoted(url)), None);
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: ParamType) -> ParamSpec {
        ParamSpec { kind, description: String::new(), default: None, min: None, max: None, choices: None }
    }

    #[test]
    fn values_that_would_change_a_configuration_file_shape_are_refused() {
        let ok = |kind, text: &str| check_param(&spec(kind), &Value::String(text.into())).is_ok();
        assert!(ok(ParamType::String, "Pads of AMIPO"));
        assert!(!ok(ParamType::String, "one\nserver { autoindex on; }"));
        assert!(!ok(ParamType::String, "tab\there"));
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert!(ok(ParamType::Text, pem));
        assert!(!ok(ParamType::Text, "escape \u{1b}[2J"));
        for good in ["index.html", "accueil-2.htm", "a_b.txt"] {
            assert!(ok(ParamType::FileName, good), "{good}");
        }
        for bad in ["index.html; } server {", "../etc/passwd", ".hidden", "", "a b"] {
            assert!(!ok(ParamType::FileName, bad), "{bad}");
        }
        for good in ["1 GB", "10 GB", "512M", "2G", "1.5 TB", "100kb"] {
            assert!(ok(ParamType::Size, good), "{good}");
        }
        for bad in ["lots", "-1 GB", "0 GB", "1 GB; rm", "G", ".5 GB", "1  GB", "none"] {
            assert!(!ok(ParamType::Size, bad), "{bad}");
        }
    }
}
