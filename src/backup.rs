//! The backup operations `chaton backup` drives, apart from how they are asked and shown:
//! which servers take part, the line each runs (`/usr/local/sbin/chaton-backup`, which the
//! `backups` recipe installs), what the servers' answers mean, and the drill record kept
//! next to the description. The CLI parses the command, runs the line over the engine and
//! prints; everything it decides is here.

use std::io::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use crate::command::Command;
use crate::diagnostic::{Diagnostic, quoted};
use crate::engine::HostReport;
use crate::error::Error;
use crate::pipeline::Checked;
use crate::resolve::backup::has_backup;
use crate::vocab::suggest::closest;

/// What the `backups` recipe installs on every server that backs something up.
pub(crate) const SCRIPT: &str = "/usr/local/sbin/chaton-backup";

/// The line a server runs for `args` (`["drill", "cloud"]`), quoted for its shell.
pub(crate) fn command_line(args: &[&str]) -> String {
    let mut argv = vec![SCRIPT];
    argv.extend_from_slice(args);
    crate::shell::render(&Command::new(argv))
}

/// The servers that back services up, or an error saying there are none.
pub(crate) fn senders(checked: &Checked) -> Result<Vec<String>, Error> {
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
pub(crate) fn server_of(checked: &Checked, name: &str) -> Result<String, Error> {
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

/// The last backup of a service in one repository, and its last drill.
#[derive(Debug, Serialize)]
pub(crate) struct StatusRow {
    pub service: String,
    pub server: String,
    pub repository: String,
    /// `None`: no backup yet.
    pub last_archive: Option<String>,
    pub last_time: Option<String>,
    pub last_drill: Option<String>,
}

/// What the servers answered to `status`: `backup\tSERVICE\tREPOSITORY\tARCHIVE\tTIME` and
/// `drill\tSERVICE\tDATE` lines (`-` for none).
pub(crate) fn status_rows(reports: &[HostReport]) -> Vec<StatusRow> {
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

/// The date a passed drill of `service` reported (`drilled\tSERVICE\tDATE`).
pub(crate) fn drilled_on(reports: &[HostReport], service: &str) -> Option<String> {
    reports.iter().filter_map(|r| r.result.as_ref().ok()).flat_map(|r| &r.output).find_map(|l| {
        match l.split('\t').collect::<Vec<_>>().as_slice() {
            ["drilled", s, date] if *s == service => Some((*date).to_owned()),
            _ => None,
        }
    })
}

/// Adds the drill to `backup-drills.json` next to the description (replaced atomically), for
/// the infrastructure page; its path.
pub(crate) fn record_drill(checked: &Checked, service: &str, date: &str) -> Result<PathBuf, Error> {
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

#[cfg(test)]
mod tests {
    use crate::engine::{HostReport, HostResult};

    fn report(server: &str, lines: &[&str]) -> HostReport {
        let output = lines.iter().map(|l| (*l).to_owned()).collect();
        HostReport { server: server.into(), result: Ok(HostResult { output, ..HostResult::default() }), channels: 1 }
    }

    #[test]
    fn the_servers_answers_are_read_into_rows_and_drill_dates() {
        let reports = [report(
            "alpha",
            &[
                "drill\tcloud\t2026-11-20",
                "drill\tpads\t-",
                "backup\tcloud\tlocal\talpha-cloud-2026-11-29\t2026-11-29T03:00:00",
                "backup\tpads\tlocal\t-\t-",
                "some other line",
            ],
        )];
        let rows = super::status_rows(&reports);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].last_drill.as_deref(), Some("2026-11-20"));
        assert_eq!(rows[0].last_archive.as_deref(), Some("alpha-cloud-2026-11-29"));
        assert_eq!((rows[1].last_archive.as_deref(), rows[1].last_drill.as_deref()), (None, None));

        let drilled = [report("alpha", &["drilled\tpads\t2026-11-30", "drilled\tcloud\t2026-11-29"])];
        assert_eq!(super::drilled_on(&drilled, "cloud").as_deref(), Some("2026-11-29"));
        assert_eq!(super::drilled_on(&drilled, "site"), None);
    }

    #[test]
    fn the_line_a_server_runs_is_quoted_for_its_shell() {
        assert_eq!(super::command_line(&["drill", "my cloud"]), "/usr/local/sbin/chaton-backup drill 'my cloud'");
    }
}
