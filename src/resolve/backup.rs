//! What each server backs up, where to, and whom it keeps backups for: the `backup` value
//! the recipe that `provides: backups` is rendered with.
//!
//! A server backs up when the description has a `backups` section and one of its services
//! declares data to back up (`data.backup` in its recipe: paths, PostgreSQL databases).
//! Each destination with a `server` is a repository on that server, reached over SSH
//! (`borg serve`, restricted to the sender's folder); a destination without one is a
//! repository on the server itself. A server is never its own remote destination.

use serde_json::{Value, json};

use crate::description::Description;
use crate::description::model::{Schedule, Server, Service};
use crate::diagnostic::Diagnostic;
use crate::keys::Keys;
use crate::recipe::Catalogue;

use super::template::Templates;

/// Where repositories live on the servers.
pub const LOCAL_REPOSITORY: &str = "/var/backups/chaton/borg";
pub const RECEIVED_ROOT: &str = "/srv/chaton-backups";
/// The account other servers' backups arrive through.
pub const RECEIVING_USER: &str = "chaton-backup";

/// Whether `service` has data its recipe says to back up.
pub fn has_backup(service: &Service, catalogue: &Catalogue) -> bool {
    catalogue.get(&service.recipe).is_some_and(|l| {
        let b = &l.recipe.data.backup;
        !b.paths.is_empty() || !b.databases.is_empty()
    })
}

/// The servers that send backups: they need backup keys (`crate::keys`).
pub fn senders(description: &Description, catalogue: &Catalogue) -> Vec<String> {
    let hoster = &description.hoster;
    if hoster.backups.is_none() {
        return Vec::new();
    }
    hoster
        .servers
        .iter()
        .filter(|server| hoster.services.iter().any(|s| s.server == server.name && has_backup(s, catalogue)))
        .map(|server| server.name.clone())
        .collect()
}

/// The remote destinations of `sender`: the other servers named in `backups.destinations`.
fn remote_destinations<'a>(description: &'a Description, sender: &str) -> Vec<&'a Server> {
    let hoster = &description.hoster;
    let Some(backups) = &hoster.backups else { return Vec::new() };
    backups
        .destinations
        .iter()
        .filter_map(|d| d.server.as_deref())
        .filter(|name| *name != sender)
        .filter_map(|name| hoster.servers.iter().find(|s| s.name == name))
        .collect()
}

/// The `backup` value for `server`, or `None` when it neither sends nor receives backups.
/// `sets` holds what each service on this server keeps (`data_set`).
pub fn context(
    description: &Description,
    catalogue: &Catalogue,
    server: &Server,
    sets: &[DataSet],
    keys: &Keys,
) -> Option<Value> {
    let hoster = &description.hoster;
    let backups = hoster.backups.as_ref()?;

    let mut repositories = Vec::new();
    let mut known_hosts = Vec::new();
    if !sets.is_empty() {
        let local = backups.destinations.iter().find(|d| d.server.is_none());
        if let Some(local) = local {
            repositories.push(json!({ "name": local.name, "url": LOCAL_REPOSITORY, "remote": false }));
        }
        for destination in remote_destinations(description, &server.name) {
            let name = backups
                .destinations
                .iter()
                .find(|d| d.server.as_deref() == Some(destination.name.as_str()))
                .map_or(destination.name.clone(), |d| d.name.clone());
            let url = format!(
                "ssh://{RECEIVING_USER}@{}:{}{RECEIVED_ROOT}/{}",
                destination.address, destination.port, server.name
            );
            if let Some(key) = &destination.host_key {
                let host = crate::vocab::host_pattern(&destination.address, destination.port);
                known_hosts.push(format!("{host} {key}"));
            }
            repositories.push(json!({
                "name": name, "url": url, "remote": true,
                // Without a pinned key the first backup learns it (and then holds to it).
                "pinned": destination.host_key.is_some(),
            }));
        }
    }
    let senders: Vec<Value> = senders(description, catalogue)
        .into_iter()
        .filter(|sender| *sender != server.name)
        .filter(|sender| remote_destinations(description, sender).iter().any(|d| d.name == server.name))
        .filter_map(|sender| {
            keys.backup.get(&sender).map(|k| json!({ "server": sender, "public_key": k.ssh_public_key }))
        })
        .collect();
    if sets.is_empty() && senders.is_empty() {
        return None;
    }
    let own = keys.backup.get(&server.name);
    Some(json!({
        "schedule": match backups.schedule {
            Schedule::Hourly => "hourly",
            Schedule::Daily => "daily",
            Schedule::Weekly => "weekly",
        },
        "retention": backups.retention,
        "encryption": backups.encryption,
        "sets": serde_json::to_value(sets).expect("data sets are plain JSON"),
        "repositories": repositories,
        "known_hosts": known_hosts,
        "senders": senders,
        "passphrase": own.map(|k| k.passphrase.expose()),
        "ssh_private_key": own.map(|k| k.ssh_private_key.expose()),
        "received_root": RECEIVED_ROOT,
        "receiving_user": RECEIVING_USER,
    }))
}

/// What one service keeps (its recipe's `data.backup`, rendered for it): the paths and
/// PostgreSQL databases to copy, and the shell commands that hold it still while they are
/// copied, let it go, and tell it after its data was put back. Backups copy it to their
/// repositories; `chaton move` copies it to another server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DataSet {
    pub service: String,
    pub paths: Vec<String>,
    pub databases: Vec<String>,
    /// Shell text; empty when the service needs no pause.
    pub pause: String,
    pub resume: String,
    pub after_restore: String,
}

/// The data set of `service` (rendered with its template `scope`), or `None` when its recipe
/// keeps no data.
pub fn data_set(
    catalogue: &Catalogue,
    templates: &Templates,
    service: &Service,
    scope: &super::scope::TemplateScope,
    state_dir: &str,
) -> Result<Option<DataSet>, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let Some(loaded) = catalogue.get(&service.recipe) else { return Ok(None) };
    let spec = &loaded.recipe.data.backup;
    if spec.paths.is_empty() && spec.databases.is_empty() {
        return Ok(None);
    }
    let context = &scope.to_value();
    let mut paths = Vec::new();
    for (i, t) in spec.paths.iter().enumerate() {
        match templates.render_str(t, context, loaded, &format!("data.backup.paths[{i}]")) {
            Ok(p) if crate::vocab::values::is_safe_path(&p) => paths.push(p),
            Ok(p) => problems.push(loaded.error_at(
                &format!("data.backup.paths[{i}]"),
                format!("backup path {} is not an absolute path without `..`", crate::diagnostic::quoted(&p)),
            )),
            Err(d) => problems.push(d),
        }
    }
    // The service's generated secrets go with its data: a restore elsewhere finds the
    // passwords its files were made with.
    if !loaded.recipe.secrets.is_empty() {
        paths.push(format!("{state_dir}/secrets/{}", service.name));
    }
    let mut databases = Vec::new();
    for (i, t) in spec.databases.iter().enumerate() {
        match templates.render_str(t, context, loaded, &format!("data.backup.databases[{i}]")) {
            Ok(db) if crate::resource::postgres::is_sql_identifier(&db) => databases.push(db),
            Ok(db) => problems.push(loaded.error_at(
                &format!("data.backup.databases[{i}]"),
                format!("{} is not a PostgreSQL database name", crate::diagnostic::quoted(&db)),
            )),
            Err(d) => problems.push(d),
        }
    }
    // The pause and the after-restore step, rendered as commands into shell text.
    let mut command = |field: &str, argv: &[String]| -> String {
        let mut words = Vec::new();
        for (i, t) in argv.iter().enumerate() {
            match templates.render_str(t, context, loaded, &format!("data.backup.{field}[{i}]")) {
                Ok(word) => words.push(word),
                Err(d) => problems.push(d),
            }
        }
        crate::shell::render(&crate::command::Command::new(words))
    };
    let (pause, resume) = match &spec.pause {
        Some(p) => (command("pause.before", &p.before), command("pause.after", &p.after)),
        None => (String::new(), String::new()),
    };
    let after_restore = command("after_restore", &spec.after_restore);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Some(DataSet { service: service.name.clone(), paths, databases, pause, resume, after_restore }))
}
