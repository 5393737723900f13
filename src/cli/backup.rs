//! `chaton backup`: what the `backups` recipe set up on the servers, driven from here.
//!
//! - `status`: the last backup of each service in each repository, and its last drill;
//! - `run [SERVICE]`: a backup now (every service of every server, or one);
//! - `drill SERVICE`: the latest backup restored into a scratch folder on the server and
//!   checked (files there, database dumps load), the date recorded on the server;
//! - `restore SERVICE --yes`: the latest backup put back in place.
//!
//! Each runs `/usr/local/sbin/chaton-backup` on the servers concerned, over the same SSH
//! engine as apply: one connection and one channel per server.

use std::io::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use super::remote::{self, ConnectionArgs};
use crate::command::Command;
use crate::diagnostic::{Diagnostic, quoted};
use crate::error::{Error, exit};
use crate::pipeline::{self, Checked};
use crate::resolve::backup::has_backup;
use crate::vocab::suggest::closest;

const SCRIPT: &str = "/usr/local/sbin/chaton-backup";

#[derive(Debug, clap::Subcommand)]
pub enum BackupCommand {
    /// The last backup of each service in each repository, and its last restore drill.
    Status {
        /// The description (hoster.yml).
        file: PathBuf,
        /// As JSON on stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        connection: ConnectionArgs,
    },
    /// Back up now: every service, or the one named.
    Run {
        /// The description (hoster.yml).
        file: PathBuf,
        service: Option<String>,
        #[command(flatten)]
        connection: ConnectionArgs,
    },
    /// Restore a service's latest backup into a scratch folder on its server and check it:
    /// every path is there, every database dump loads. Records the date when it passes.
    Drill {
        /// The description (hoster.yml).
        file: PathBuf,
        service: String,
        #[command(flatten)]
        connection: ConnectionArgs,
    },
    /// Put a service's latest backup back in place: its files over the current ones (files
    /// made since stay), its databases replaced by the backup's.
    Restore {
        /// The description (hoster.yml).
        file: PathBuf,
        service: String,
        /// The repository to restore from (a destination's name); the first that has a
        /// backup otherwise.
        #[arg(long, value_name = "NAME")]
        from: Option<String>,
        /// Yes, overwrite the service's current data with the backup.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        connection: ConnectionArgs,
    },
}

pub fn run(command: BackupCommand) -> Result<u8, Error> {
    match command {
        BackupCommand::Status { file, json, connection } => {
            let checked = pipeline::check(&file, None)?;
            let servers = senders(&checked)?;
            let (reports, ok) = operate(&checked, &servers, &format!("{SCRIPT} status"), &connection, false)?;
            let rows = status_rows(&reports);
            if json {
                super::output::print_json(&rows)?;
            } else {
                print_status(&rows);
            }
            Ok(if ok { exit::OK } else { exit::ERROR })
        }
        BackupCommand::Run { file, service, connection } => {
            let checked = pipeline::check(&file, None)?;
            let (servers, args) = match &service {
                Some(name) => (vec![server_of(&checked, name)?], vec!["run", name.as_str()]),
                None => (senders(&checked)?, vec!["run"]),
            };
            let (_, ok) = operate(&checked, &servers, &command_line(&args), &connection, true)?;
            Ok(if ok { exit::OK } else { exit::ERROR })
        }
        BackupCommand::Drill { file, service, connection } => {
            let checked = pipeline::check(&file, None)?;
            let server = server_of(&checked, &service)?;
            let (reports, ok) = operate(&checked, &[server], &command_line(&["drill", &service]), &connection, true)?;
            let drilled = reports.iter().filter_map(|r| r.result.as_ref().ok()).flat_map(|r| &r.output).find_map(|l| {
                match l.split('\t').collect::<Vec<_>>().as_slice() {
                    ["drilled", s, date] if *s == service => Some((*date).to_owned()),
                    _ => None,
                }
            });
            if let (true, Some(date)) = (ok, drilled) {
                let path = record_drill(&checked, &service, &date)?;
                eprintln!("drill passed; recorded in {} for the infrastructure page", path.display());
            }
            Ok(if ok { exit::OK } else { exit::ERROR })
        }
        BackupCommand::Restore { file, service, from, yes, connection } => {
            let checked = pipeline::check(&file, None)?;
            let server = server_of(&checked, &service)?;
            if !yes {
                return Err(Error::Invalid(vec![
                    Diagnostic::error(format!(
                        "restoring overwrites the current data of {} on {server} with its latest backup",
                        quoted(&service)
                    ))
                    .help("run `chaton backup drill` first to see what the backup holds, then add --yes"),
                ]));
            }
            let mut args = vec!["restore", service.as_str()];
            if let Some(from) = &from {
                args.push(from);
            }
            let (_, ok) = operate(&checked, &[server], &command_line(&args), &connection, true)?;
            Ok(if ok { exit::OK } else { exit::ERROR })
        }
    }
}

/// Adds the drill to `backup-drills.json` next to the description (replaced atomically).
fn record_drill(checked: &Checked, service: &str, date: &str) -> Result<PathBuf, Error> {
    let description = &checked.description;
    let mut drills = description.drills.clone();
    drills.insert(service.to_owned(), date.to_owned());
    let path = description.dir.join(crate::description::DRILLS_FILE);
    let text = serde_json::to_string_pretty(&drills).map_err(|e| Error::Output(e.to_string()))? + "\n";
    let fail = |e: std::io::Error| Error::Output(format!("cannot write {}: {e}", path.display()));
    let dir = if description.dir.as_os_str().is_empty() { std::path::Path::new(".") } else { &description.dir };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    tmp.write_all(text.as_bytes()).map_err(fail)?;
    // A public record, committed with the description (the temporary file starts 0600).
    use std::os::unix::fs::PermissionsExt as _;
    tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(fail)?;
    tmp.persist(&path).map_err(|e| fail(e.error))?;
    Ok(path)
}

fn command_line(args: &[&str]) -> String {
    let mut argv = vec![SCRIPT];
    argv.extend_from_slice(args);
    crate::shell::render(&Command::new(argv))
}

fn operate(
    checked: &Checked,
    servers: &[String],
    script: &str,
    args: &ConnectionArgs,
    show: bool,
) -> Result<(Vec<crate::engine::HostReport>, bool), Error> {
    // The engine works on resolved servers; the backup keys are only read, never made here.
    let keys = pipeline::keys(checked, false)?;
    let desired = pipeline::desired(checked, args.state_dir(), &keys)?;
    remote::operate(checked, &desired, servers, script, args, show)
}

/// The servers that back services up.
fn senders(checked: &Checked) -> Result<Vec<String>, Error> {
    let servers = crate::resolve::backup::senders(&checked.description, &checked.catalogue);
    if servers.is_empty() {
        return Err(Error::Invalid(vec![
            Diagnostic::error("no server backs anything up".to_owned())
                .help("add a `backups:` section, and services whose recipes hold data"),
        ]));
    }
    Ok(servers)
}

/// The server of a service that is backed up, or an error that says why not.
fn server_of(checked: &Checked, name: &str) -> Result<String, Error> {
    let hoster = &checked.description.hoster;
    let Some(service) = hoster.services.iter().find(|s| s.name == name) else {
        let names: Vec<&str> = hoster.services.iter().map(|s| s.name.as_str()).collect();
        let mut d = Diagnostic::error(format!("unknown service {}", quoted(name)));
        if let Some(best) = closest(name, names.iter().copied()) {
            d = d.help(format!("did you mean {}?", quoted(best)));
        }
        return Err(Error::Invalid(vec![d.help(format!("services: {}", names.join(", ")))]));
    };
    if hoster.backups.is_none() || !has_backup(service, &checked.catalogue) {
        return Err(Error::Invalid(vec![Diagnostic::error(format!(
            "{} is not backed up: {}",
            quoted(name),
            if hoster.backups.is_none() {
                "the description has no `backups` section"
            } else {
                "its recipe keeps no data"
            }
        ))]));
    }
    Ok(service.server.clone())
}

#[derive(Debug, Serialize)]
struct StatusRow {
    service: String,
    server: String,
    repository: String,
    /// `None`: no backup yet.
    last_archive: Option<String>,
    last_time: Option<String>,
    last_drill: Option<String>,
}

fn status_rows(reports: &[crate::engine::HostReport]) -> Vec<StatusRow> {
    let mut rows = Vec::new();
    for report in reports {
        let Ok(result) = &report.result else { continue };
        let mut drills = std::collections::BTreeMap::new();
        for line in &result.output {
            if let ["drill", service, date] = line.split('\t').collect::<Vec<_>>().as_slice() {
                drills.insert((*service).to_owned(), (*date != "-").then(|| (*date).to_owned()));
            }
        }
        for line in &result.output {
            if let ["backup", service, repository, archive, time] = line.split('\t').collect::<Vec<_>>().as_slice() {
                rows.push(StatusRow {
                    service: (*service).to_owned(),
                    server: report.server.clone(),
                    repository: (*repository).to_owned(),
                    last_archive: (*archive != "-").then(|| (*archive).to_owned()),
                    last_time: (*time != "-").then(|| (*time).to_owned()),
                    last_drill: drills.get(*service).cloned().flatten(),
                });
            }
        }
    }
    rows
}

fn print_status(rows: &[StatusRow]) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{:<14} {:<12} {:<12} {:<28} last drill", "service", "server", "repository", "last backup");
    for r in rows {
        let _ = writeln!(
            out,
            "{:<14} {:<12} {:<12} {:<28} {}",
            r.service,
            r.server,
            r.repository,
            r.last_time.as_deref().unwrap_or("never"),
            r.last_drill.as_deref().unwrap_or("never")
        );
    }
}
