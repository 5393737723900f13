//! Turns one recipe resource entry into concrete resources: expands `for_each`, evaluates
//! `when`, renders every template string, then checks the rendered values (a parameter can
//! carry anything, so paths, names and URLs are checked after rendering, not before).

use serde_json::Value;

use super::template::Templates;
use crate::diagnostic::{Diagnostic, quoted};
use crate::recipe::catalogue::LoadedRecipe;
use crate::recipe::model::{CheckSpec, ResourceSpec};
use crate::resolve::CheckKind;
use crate::resource::{
    Database, Directory, Download, Exec, File, Group, Link, Package, Resource, Role, Service, User, secret,
};
use crate::vocab::values::{is_safe_path, is_unix_name};

/// What the conversion needs besides the template context: the recipe's generated secrets,
/// typed rather than read back out of the JSON the templates see.
pub struct GeneratedSecrets {
    /// chaton's folder on the server (`--remote-state-dir`): generated secrets live there.
    pub state_dir: String,
    /// The placeholders of the recipe's own generated secrets (`secret::placeholder`).
    pub placeholders: Vec<String>,
}

/// Renders `spec` (found at `field` in the recipe) into zero or more resources, each with
/// the handlers it notifies.
pub fn render_spec(
    templates: &Templates,
    loaded: &LoadedRecipe,
    spec: &ResourceSpec,
    context: &Value,
    secrets: &GeneratedSecrets,
    field: &str,
) -> Result<Vec<(Resource, Vec<String>)>, Diagnostic> {
    let fail = |message: String| loaded.error_at(field, message);
    let value = serde_json::to_value(spec).map_err(|e| fail(format!("internal error: {e}")))?;
    let Value::Object(outer) = value else {
        return Err(fail("internal error: resource is not a mapping".into()));
    };
    let Some((kind, Value::Object(mut inner))) = outer.into_iter().next() else {
        return Err(fail("internal error: resource has no kind".into()));
    };
    let when = inner.remove("when").and_then(|v| v.as_str().map(str::to_owned));
    let for_each = inner.remove("for_each").and_then(|v| v.as_str().map(str::to_owned));
    let items: Vec<Option<Value>> = match &for_each {
        None => vec![None],
        Some(path) => match lookup(context, path) {
            Some(Value::Array(items)) => items.iter().cloned().map(Some).collect(),
            Some(Value::Object(map)) => {
                map.iter().map(|(k, v)| Some(serde_json::json!({ "key": k, "value": v }))).collect()
            }
            Some(Value::Null) | None => Vec::new(),
            Some(_) => return Err(fail(format!("`for_each: {path}` is not a list"))),
        },
    };
    let mut out = Vec::new();
    for item in items {
        let mut ctx = context.clone();
        if let Some(item) = item {
            ctx["item"] = item;
        }
        if let Some(expression) = &when
            && !templates.condition(expression, &ctx, loaded, &format!("{field}.when"))?
        {
            continue;
        }
        let rendered = render_strings(templates, loaded, Value::Object(inner.clone()), &ctx, field)?;
        let mut wrapped = serde_json::Map::new();
        wrapped.insert(kind.clone(), rendered);
        let spec: ResourceSpec = serde_json::from_value(Value::Object(wrapped))
            .map_err(|e| fail(format!("after rendering, the resource is not valid: {e}")))?;
        if let ResourceSpec::CharterSite(site) = &spec {
            out.extend(charter_site(site, templates).map_err(fail)?);
            continue;
        }
        out.push(to_resource(spec, templates, &ctx, secrets).map_err(|problem| match problem {
            Problem::Message(m) => fail(m),
            Problem::Template(d) => d,
        })?);
    }
    Ok(out)
}

/// Renders a verify check of the recipe (found at `field`); none where its `when` does not
/// hold.
pub fn render_check(
    templates: &Templates,
    loaded: &LoadedRecipe,
    spec: &CheckSpec,
    context: &Value,
    field: &str,
) -> Result<Option<CheckKind>, Diagnostic> {
    let fail = |message: String| loaded.error_at(field, message);
    Ok(Some(match spec {
        CheckSpec::Port { port, proto } => {
            let text = templates.render_str(port, context, loaded, &format!("{field}.port.port"))?;
            let port =
                text.trim().parse::<u16>().map_err(|_| fail(format!("port {} is not a port number", quoted(&text))))?;
            CheckKind::Port { port, proto: *proto }
        }
        CheckSpec::Http { url, status, ca_certificate } => {
            let url = templates.render_str(url, context, loaded, &format!("{field}.http.url"))?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(fail(format!("{} is not an http:// or https:// address", quoted(&url))));
            }
            let ca_certificate = match ca_certificate {
                Some(pem) => {
                    Some(templates.render_str(pem, context, loaded, &format!("{field}.http.ca_certificate"))?)
                        .filter(|pem| !pem.trim().is_empty())
                }
                None => None,
            };
            CheckKind::Http { url, status: *status, ca_certificate }
        }
        CheckSpec::Command { run, when } => {
            if let Some(expression) = when
                && !templates.condition(expression, context, loaded, &format!("{field}.command.when"))?
            {
                return Ok(None);
            }
            let run = run
                .iter()
                .enumerate()
                .map(|(i, a)| templates.render_str(a, context, loaded, &format!("{field}.command.run[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            check_argv(&run).map_err(fail)?;
            CheckKind::Command { run }
        }
    }))
}

/// The charter site as a folder tree: directories, then every file.
fn charter_site(
    spec: &crate::recipe::model::CharterSiteSpec,
    templates: &Templates,
) -> Result<Vec<(Resource, Vec<String>)>, String> {
    check_path(&spec.path)?;
    check_owner(&spec.owner, &spec.group)?;
    let site = match templates.site() {
        Ok(site) => site,
        Err(why) => return Err(why.clone()),
    };
    let root = spec.path.trim_end_matches('/');
    let mut folders: Vec<String> = vec![root.to_owned()];
    for path in site.files.keys() {
        if let Some((dir, _)) = path.rsplit_once('/') {
            let folder = format!("{root}/{dir}");
            if !folders.contains(&folder) {
                folders.push(folder);
            }
        }
    }
    let mode = |m| crate::vocab::values::FileMode(m);
    let mut out: Vec<(Resource, Vec<String>)> = folders
        .into_iter()
        .map(|path| {
            let d = Directory { path, owner: spec.owner.clone(), group: spec.group.clone(), mode: mode(0o755) };
            (Resource::Directory(d), Vec::new())
        })
        .collect();
    for (path, bytes) in &site.files {
        let file = File {
            path: format!("{root}/{path}"),
            content: bytes.clone(),
            owner: spec.owner.clone(),
            group: spec.group.clone(),
            mode: mode(0o644),
            validate: None,
            sensitive: false,
            secrets: Vec::new(),
            guards_access: false,
        };
        out.push((Resource::File(file), spec.notify.clone()));
    }
    Ok(out)
}

/// Follows a dotted path (`params.peers`) in the template context.
fn lookup<'a>(context: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(context, |v, key| v.get(key))
}

/// Renders every string in `value` as a template.
fn render_strings(
    templates: &Templates,
    loaded: &LoadedRecipe,
    value: Value,
    ctx: &Value,
    field: &str,
) -> Result<Value, Diagnostic> {
    Ok(match value {
        Value::String(s) => Value::String(templates.render_str(&s, ctx, loaded, field)?),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| render_strings(templates, loaded, v, ctx, &format!("{field}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let f = format!("{field}.{k}");
                    render_strings(templates, loaded, v, ctx, &f).map(|v| (k, v))
                })
                .collect::<Result<_, _>>()?,
        ),
        other => other,
    })
}

/// Why a rendered resource was refused: a bad value (reported at the recipe field), or an
/// error in a template file (reported in that file).
enum Problem {
    Message(String),
    Template(Diagnostic),
}

impl From<String> for Problem {
    fn from(message: String) -> Self {
        Problem::Message(message)
    }
}

fn to_resource(
    spec: ResourceSpec,
    templates: &Templates,
    ctx: &Value,
    generated: &GeneratedSecrets,
) -> Result<(Resource, Vec<String>), Problem> {
    Ok(match spec {
        ResourceSpec::Package(p) => {
            for name in &p.names {
                check_package_name(name)?;
            }
            (Resource::Package(Package { names: p.names, state: p.state }), p.notify)
        }
        ResourceSpec::File(f) => {
            check_path(&f.path)?;
            check_owner(&f.owner, &f.group)?;
            let content = match (&f.content, &f.template) {
                (Some(content), _) => content.clone(),
                (None, Some(template)) => templates.render_file(template, ctx).map_err(Problem::Template)?,
                (None, None) => {
                    return Err(Problem::Message("a file needs `content` or `template`".into()));
                }
            };
            if let Some(v) = &f.validate {
                check_argv(v)?;
            }
            // Placeholders of generated secrets: only this recipe's, and the file must end
            // with a newline (it is filled in line by line on the server).
            let declared = &generated.placeholders;
            let mut secrets = Vec::new();
            for (placeholder, id) in secret::placeholders(&content) {
                if !declared.contains(&placeholder) {
                    return Err(Problem::Message(format!(
                        "{} names secret {}, which this recipe does not declare under `secrets`",
                        quoted(&f.path),
                        quoted(&id)
                    )));
                }
                secrets.push((placeholder, secret::path_of(&generated.state_dir, &id)));
            }
            let mut content = content;
            if !secrets.is_empty() && !content.ends_with('\n') {
                content.push('\n');
            }
            (
                Resource::File(File {
                    path: f.path,
                    content: content.into_bytes(),
                    owner: f.owner,
                    group: f.group,
                    mode: f.mode,
                    validate: f.validate,
                    sensitive: f.sensitive,
                    secrets,
                    guards_access: f.guards_access,
                }),
                f.notify,
            )
        }
        ResourceSpec::Role(r) => {
            check_sql_identifier(&r.name)?;
            let password_file = match &r.password {
                None => None,
                Some(text) => {
                    let declared = &generated.placeholders;
                    match secret::placeholders(text).as_slice() {
                        [(placeholder, id)] if *placeholder == text.trim() && declared.contains(placeholder) => {
                            Some(secret::path_of(&generated.state_dir, id))
                        }
                        _ => {
                            return Err(Problem::Message(format!(
                                "the password of role {} must be one generated secret of this recipe, written \"{{{{ secrets.NAME }}}}\"",
                                quoted(&r.name)
                            )));
                        }
                    }
                }
            };
            (Resource::Role(Role { name: r.name, password_file }), r.notify)
        }
        ResourceSpec::Database(d) => {
            check_sql_identifier(&d.name)?;
            check_sql_identifier(&d.owner)?;
            (Resource::Database(Database { name: d.name, owner: d.owner }), d.notify)
        }
        ResourceSpec::Directory(d) => {
            check_path(&d.path)?;
            check_owner(&d.owner, &d.group)?;
            (Resource::Directory(Directory { path: d.path, owner: d.owner, group: d.group, mode: d.mode }), d.notify)
        }
        ResourceSpec::Link(l) => {
            check_path(&l.path)?;
            check_text(&l.target, "link target")?;
            (Resource::Link(Link { path: l.path, target: l.target }), l.notify)
        }
        ResourceSpec::User(u) => {
            check_unix_name(&u.name)?;
            for g in &u.groups {
                check_unix_name(g)?;
            }
            if let Some(home) = &u.home {
                check_path(home)?;
            }
            if let Some(shell) = &u.shell {
                check_path(shell)?;
            }
            (
                Resource::User(User { name: u.name, system: u.system, home: u.home, shell: u.shell, groups: u.groups }),
                u.notify,
            )
        }
        ResourceSpec::Group(g) => {
            check_unix_name(&g.name)?;
            (Resource::Group(Group { name: g.name, system: g.system }), g.notify)
        }
        ResourceSpec::Service(s) => {
            check_unit_name(&s.name)?;
            let service = Service {
                unit: s.name,
                enabled: s.enabled,
                running: s.running,
                not_in_containers: s.not_in_containers,
            };
            (Resource::Service(service), s.notify)
        }
        ResourceSpec::Download(d) => {
            check_path(&d.path)?;
            check_owner(&d.owner, &d.group)?;
            if !d.url.starts_with("https://") || d.url.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!("download URL {} must be an https:// address", quoted(&d.url)).into());
            }
            if d.sha256.len() != 64 || !d.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(
                    format!("checksum {} is not a SHA-256 (64 hexadecimal characters)", quoted(&d.sha256)).into()
                );
            }
            (
                Resource::Download(Download {
                    url: d.url,
                    sha256: d.sha256.to_ascii_lowercase(),
                    path: d.path,
                    owner: d.owner,
                    group: d.group,
                    mode: d.mode,
                }),
                d.notify,
            )
        }
        ResourceSpec::Command(c) => {
            check_argv(&c.run)?;
            if let Some(u) = &c.unless {
                check_argv(u)?;
            }
            if let Some(p) = &c.creates {
                check_path(p)?;
            }
            if let Some(e) = &c.explain {
                check_argv(e)?;
            }
            (Resource::Command(Exec { run: c.run, creates: c.creates, unless: c.unless, explain: c.explain }), c.notify)
        }
        ResourceSpec::CharterSite(_) => {
            return Err(Problem::Message("internal error: charter_site expands earlier".into()));
        }
    })
}

fn check_text(text: &str, what: &str) -> Result<(), String> {
    if text.is_empty() || text.contains('\0') || text.contains('\n') {
        return Err(format!("{what} {} is empty or has a NUL byte or a line break", quoted(text)));
    }
    Ok(())
}

fn check_sql_identifier(name: &str) -> Result<(), String> {
    if crate::resource::postgres::is_sql_identifier(name) {
        Ok(())
    } else {
        Err(format!(
            "{} is not a PostgreSQL name chaton accepts: lowercase letters, digits and `_`, starting with a letter or `_`, at most 63",
            quoted(name)
        ))
    }
}

fn check_path(path: &str) -> Result<(), String> {
    check_text(path, "path")?;
    if !is_safe_path(path) || (path.len() > 1 && path.ends_with('/')) {
        return Err(format!("{} is not an absolute path without `..`", quoted(path)));
    }
    Ok(())
}

fn check_unix_name(name: &str) -> Result<(), String> {
    if is_unix_name(name) { Ok(()) } else { Err(format!("{} is not a valid Unix user or group name", quoted(name))) }
}

fn check_owner(owner: &str, group: &str) -> Result<(), String> {
    check_unix_name(owner)?;
    check_unix_name(group)
}

fn check_package_name(name: &str) -> Result<(), String> {
    let ok = name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+.-".contains(c));
    if ok { Ok(()) } else { Err(format!("{} is not a Debian package name", quoted(name))) }
}

fn check_unit_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || ":_.@-".contains(c));
    if ok { Ok(()) } else { Err(format!("{} is not a systemd unit name", quoted(name))) }
}

fn check_argv(argv: &[String]) -> Result<(), String> {
    if argv.is_empty() {
        return Err("a command needs at least a program".into());
    }
    if let Some(bad) = argv.iter().find(|a| a.contains('\0')) {
        return Err(format!("command argument {} has a NUL byte", quoted(bad)));
    }
    Ok(())
}
