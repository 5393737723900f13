//! `chaton backup`: what the `backups` recipe set up on the servers, driven from here.
//!
//! - `status`: the last backup of each service in each repository, and its last drill;
//! - `run [SERVICE]`: a backup now (every service of every server, or one);
//! - `drill SERVICE`: the latest backup restored into a scratch folder on the server and
//!   checked (files there, database dumps load), the date recorded on the server;
//! - `restore SERVICE --yes`: the latest backup put back in place.
//!
//! Each runs the servers' backup script over the same SSH engine as apply (one connection
//! and one channel per server); what to run and what the answers mean is `crate::backup`.

use std::io::Write as _;
use std::path::PathBuf;

use super::remote::{self, ConnectionArgs};
use crate::backup::{self, StatusRow, command_line, senders, server_of};
use crate::diagnostic::{Diagnostic, quoted};
use crate::error::{Error, exit};
use crate::pipeline::{self, Checked};

#[derive(Debug, clap::Subcommand)]
pub(super) enum BackupCommand {
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

pub(super) fn run(command: BackupCommand) -> Result<u8, Error> {
    match command {
        BackupCommand::Status { file, json, connection } => {
            let checked = pipeline::check(&file, None)?;
            let servers = senders(&checked)?;
            let (reports, ok) = operate(&checked, &servers, &command_line(&["status"]), &connection, false)?;
            let rows = backup::status_rows(&reports);
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
            if let (true, Some(date)) = (ok, backup::drilled_on(&reports, &service)) {
                let path = backup::record_drill(&checked, &service, &date)?;
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

fn operate(
    checked: &Checked,
    servers: &[String],
    script: &str,
    args: &ConnectionArgs,
    show: bool,
) -> Result<(Vec<crate::engine::HostReport>, bool), Error> {
    // The engine works on resolved servers; the backup keys are only read, never made here.
    let (_, desired) = super::resolved(checked, args.state_dir(), pipeline::KeysFrom::StandIns)?;
    remote::operate(checked, &desired, servers, script, args, show)
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
