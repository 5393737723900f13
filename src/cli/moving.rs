//! `chaton move FILE SERVICE --to SERVER`: runs the steps `crate::moving` plans, in order,
//! each recorded in the move's journal as it ends, so the same command resumes a move cut
//! off anywhere; `--abandon` rolls an unfinished move back, `--purge` deletes what a
//! finished move left on the old server.
//!
//! Every step goes through the same engine as apply (one connection per server per step):
//! the service's data travels from the old server to this machine and on to the new one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::remote::{self, ConnectionArgs};
use crate::diagnostic::{Diagnostic, quoted};
use crate::error::{Error, exit};
use crate::moving::journal::{self, Journal};
use crate::moving::{self, MovePlan, Step, Visitors, scripts};
use crate::pipeline::{self, Checked, KeysFrom};
use crate::resolve::DesiredState;

/// How long a step waits for a run cut off earlier (a killed move) that a server is still
/// finishing: its apply or its script goes on there after the connection is gone.
const LOCK_PATIENCE: Duration = Duration::from_secs(900);

/// How often, and how far apart, the verify step tries before the move stops there: the
/// service the settle step restarted may still be starting.
const VERIFY_ATTEMPTS: u32 = 6;
const VERIFY_PAUSE: Duration = Duration::from_secs(5);

#[derive(Debug, clap::Args)]
pub(super) struct MoveArgs {
    /// The description (hoster.yml).
    file: PathBuf,
    /// The service to move.
    service: String,
    /// The server it goes to.
    #[arg(long, value_name = "SERVER", required_unless_present_any = ["purge", "abandon"])]
    to: Option<String>,
    /// Yes, move it (without it, the steps are shown and nothing changes).
    #[arg(long)]
    yes: bool,
    /// Roll back an unfinished move: the service runs on its old server again, with its
    /// data as it was there.
    #[arg(long, conflicts_with_all = ["purge", "to"])]
    abandon: bool,
    /// After a finished move, once the service was checked on its new server: delete the
    /// data the old server still holds.
    #[arg(long, conflicts_with = "to")]
    purge: bool,
    /// Seconds to wait for a DNS record to point at the new server.
    #[arg(long, default_value_t = 900, value_name = "SECONDS")]
    dns_wait: u64,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// The description with the service on either side, resolved.
struct Sides {
    before: Checked,
    desired_before: DesiredState,
    after: Checked,
    desired_after: DesiredState,
    after_text: String,
}

pub(super) fn run(args: MoveArgs) -> Result<u8, Error> {
    let current = pipeline::check(&args.file, None)?;
    let folder = moving::folder(&current.description.dir, &args.service);
    let journal = journal::read(&folder).map_err(Error::Output)?;
    if args.purge {
        return purge(&args, &current, &folder, journal);
    }
    if args.abandon {
        return abandon(&args, &current, &folder, journal);
    }
    let to = args.to.clone().expect("clap asks for --to");
    let from = match &journal {
        Some(j) if j.finished() => {
            return Err(refused(
                format!("{} was already moved from {} to {}", quoted(&args.service), j.from, j.to),
                format!(
                    "once it is checked there, `chaton move {} {} --purge` deletes its data on {}",
                    args.file.display(),
                    args.service,
                    j.from
                ),
            ));
        }
        Some(j) if j.to != to => {
            return Err(refused(
                format!("a move of {} to {} is unfinished", quoted(&args.service), j.to),
                format!("finish it (--to {}) or roll it back (--abandon) first", j.to),
            ));
        }
        Some(j) => j.from.clone(),
        None => {
            // One move at a time: two would apply the same servers with two descriptions.
            let moves = current.description.dir.join(moving::FOLDER);
            if let Some(other) = journal::unfinished_others(&moves, &args.service).map_err(Error::Output)?.first() {
                let file = args.file.display();
                return Err(refused(
                    format!("the move of {} from {} to {} is unfinished", quoted(&other.service), other.from, other.to),
                    format!(
                        "one move at a time: finish it (`chaton move {file} {0} --to {1} --yes`) or roll it back (`chaton move {file} {0} --abandon`) first",
                        other.service, other.to
                    ),
                ));
            }
            moving::server_of(&current.description, &args.service).map_err(|d| Error::Invalid(vec![d]))?
        }
    };
    if from == to {
        return Err(refused(format!("{} already runs on {to}", quoted(&args.service)), "name another server".into()));
    }
    let file = args.file.display().to_string();
    let shown = sides(&args, &current, &from, &to, KeysFrom::StandIns)?;
    let plan = moving::plan(&shown.before, &shown.desired_before, &shown.after, &args.service, &to)
        .map_err(|d| Error::Invalid(vec![d]))?;
    let steps = moving::describe(&plan, &file);
    let mut journal = journal.unwrap_or_else(|| Journal::new(&args.service, &from, &to));
    print_steps(&plan, &steps, &journal);
    if !args.yes {
        eprintln!("\nnothing was changed; add --yes to move {}", args.service);
        return Ok(exit::OK);
    }
    // Keys kept here that go with the service come first: the new server is resolved with them.
    if let Some((old, new)) = &plan.local_keys
        && !new.exists()
    {
        copy_folder(old, new).map_err(Error::Output)?;
    }
    let sides = sides(&args, &current, &from, &to, KeysFrom::Kept)?;
    // Recorded before anything changes: a move cut off in its first step still resumes.
    journal::write(&folder, &journal).map_err(Error::Output)?;
    let total = steps.len();
    for (number, (step, text)) in steps.iter().enumerate() {
        if journal.is_done(*step) {
            continue;
        }
        eprintln!("move: ({}/{total}) {}: {text}", number + 1, step.name());
        if let Err(why) = run_step(*step, &args, &plan, &sides, &mut journal, &folder) {
            eprintln!("move: {} failed: {why}", step.name());
            eprintln!(
                "move: stopped at step {} ({}); nothing is lost: {}'s data is still on {from}{}.\n  Run the same command again to go on from there, or `chaton move {file} {} --abandon` to roll back.",
                number + 1,
                step.name(),
                args.service,
                if journal.sha256.is_some() { format!(" and in {}", folder.display()) } else { String::new() },
                args.service
            );
            return Ok(exit::ERROR);
        }
        journal.done.push(*step);
        journal::write(&folder, &journal).map_err(Error::Output)?;
    }
    let _ = std::fs::remove_file(journal::data_path(&folder));
    if let Visitors::NewEndpoint { to: endpoint, folder: configurations, .. } = &plan.visitors {
        eprintln!(
            "move: its peers reach it at {endpoint} now: hand each its new configuration from {}",
            configurations.display()
        );
    }
    eprintln!(
        "move: {} now runs on {to}. {from} still holds its data{}; once you checked it on {to}: chaton move {file} {} --purge",
        args.service,
        if journal.paths.is_empty() && journal.databases.is_empty() {
            String::new()
        } else {
            let mut what = journal.paths.clone();
            what.extend(journal.databases.iter().map(|d| format!("database {d}")));
            format!(" ({})", what.join(", "))
        },
        args.service
    );
    Ok(exit::OK)
}

fn refused(what: String, hint: String) -> Error {
    Error::Invalid(vec![Diagnostic::error(what).help(hint)])
}

/// The description with the service on `from` and on `to`, checked and resolved.
fn sides(args: &MoveArgs, current: &Checked, from: &str, to: &str, keys: KeysFrom) -> Result<Sides, Error> {
    let text = |server: &str| moving::moved_text(&current.description, &args.service, server);
    let before_text = text(from).map_err(|d| Error::Invalid(vec![d]))?;
    let after_text = text(to).map_err(|d| Error::Invalid(vec![d]))?;
    let before = pipeline::check_text(&args.file, before_text, None)?;
    let after = pipeline::check_text(&args.file, after_text.clone(), None)?;
    let state_dir = args.connection.state_dir();
    let desired_before = pipeline::desired(&before, state_dir, &pipeline::keys(&before, keys)?)?;
    let desired_after = pipeline::desired(&after, state_dir, &pipeline::keys(&after, keys)?)?;
    Ok(Sides { before, desired_before, after, desired_after, after_text })
}

fn print_steps(plan: &MovePlan, steps: &[(Step, String)], journal: &Journal) {
    eprintln!("move {} ({}) from {} to {}:", plan.service, plan.recipe, plan.from, plan.to);
    for (number, (step, text)) in steps.iter().enumerate() {
        let done = if journal.is_done(*step) { " (done)" } else { "" };
        eprintln!("  {:>2}. {:<9}{text}{done}", number + 1, step.name());
    }
}

fn run_step(
    step: Step,
    args: &MoveArgs,
    plan: &MovePlan,
    sides: &Sides,
    journal: &mut Journal,
    folder: &Path,
) -> Result<(), String> {
    let connection = &args.connection;
    let (before, after) = ((&sides.before, &sides.desired_before), (&sides.after, &sides.desired_after));
    match step {
        Step::Stop => operate(before, &plan.from, &scripts::stop(plan.data.as_ref(), &plan.units), connection),
        Step::Backup => {
            let line = crate::backup::command_line(&["run", &plan.service]);
            operate(before, &plan.from, &line, connection).map(|_| ())
        }
        Step::Export => {
            let Some(data) = &plan.data else { return Ok(()) };
            let lines = operate_lines(before, &plan.from, &scripts::export(data), connection)?;
            let exported = scripts::read_export(&lines)?;
            for what in exported.paths.iter().chain(&exported.databases) {
                eprintln!("[{}] exported  {what}", plan.from);
            }
            journal::write_private(&journal::data_path(folder), &exported.archive)?;
            journal.paths = exported.paths;
            journal.databases = exported.databases;
            journal.sha256 = exported.sha256;
            Ok(())
        }
        Step::Dns => match &plan.visitors {
            Visitors::Dns { domain, to, .. } => wait_for_dns(domain, to, Duration::from_secs(args.dns_wait)),
            _ => Ok(()),
        },
        Step::Converge => apply(after, &plan.converge, connection),
        Step::Import => {
            let Some(sha256) = journal.sha256.clone() else { return Ok(()) };
            let to_state = sides.desired_after.servers.iter().find(|s| s.name == plan.to).expect("resolved");
            let data = to_state
                .data
                .iter()
                .find(|d| d.service == plan.service)
                .ok_or_else(|| format!("{} keeps no data on {} (its recipe changed?)", plan.service, plan.to))?;
            let archive = std::fs::read(journal::data_path(folder))
                .map_err(|e| format!("cannot read the data in transit in {}: {e}", folder.display()))?;
            if scripts::sha256_hex(&archive) != sha256 {
                return Err(format!(
                    "the data in {} is damaged; run again to copy it from {} afresh",
                    folder.display(),
                    plan.from
                ));
            }
            let on_server = scripts::OnServer {
                units: moving::units_of(to_state, &plan.service),
                roles: moving::roles_of(to_state, &plan.service),
            };
            let script = scripts::import(data, &on_server, &journal.paths, &archive, &sha256);
            operate(after, &plan.to, &script, connection)
        }
        Step::Settle => apply(after, std::slice::from_ref(&plan.to), connection),
        Step::Verify => {
            // A service restarted by the settle step may take a few seconds to answer (its
            // proxy says 502 meanwhile): verify again before calling the move failed.
            for attempt in 1..=VERIFY_ATTEMPTS {
                let code = remote::verify(after.0, after.1, &connection.with_only(&plan.converge), false)
                    .map_err(|e| e.to_string())?;
                if code == exit::OK {
                    return Ok(());
                }
                if attempt < VERIFY_ATTEMPTS {
                    eprintln!("move: verify again in {} s ({attempt} of {VERIFY_ATTEMPTS})", VERIFY_PAUSE.as_secs());
                    std::thread::sleep(VERIFY_PAUSE);
                }
            }
            Err(format!("verify failed on {}", plan.converge.join(" or ")))
        }
        Step::Remove => apply(after, std::slice::from_ref(&plan.from), connection),
        Step::Describe => {
            // Read again: the hoster may have changed other lines while the move ran.
            let now = pipeline::check(&args.file, None).map_err(|problems| {
                let first = problems.first().map(|d| d.message.clone()).unwrap_or_default();
                format!("{} no longer checks ({first}); mend it and run again", args.file.display())
            })?;
            let text = moving::moved_text(&now.description, &plan.service, &plan.to).map_err(|d| d.message)?;
            if text != now.description.source.text {
                replace_file(&args.file, &text)?;
            }
            Ok(())
        }
    }
}

fn apply(side: (&Checked, &DesiredState), servers: &[String], connection: &ConnectionArgs) -> Result<(), String> {
    let code = remote::apply_when_free(side.0, side.1, &connection.with_only(servers), LOCK_PATIENCE)
        .map_err(|e| e.to_string())?;
    if code == exit::OK { Ok(()) } else { Err(format!("the apply failed on {}", servers.join(" or "))) }
}

/// Runs `script` on `server`, what it says shown as it comes (`[server] imported  /etc/…`).
fn operate(
    side: (&Checked, &DesiredState),
    server: &str,
    script: &str,
    connection: &ConnectionArgs,
) -> Result<(), String> {
    run_script(side, server, script, connection, true).map(|_| ())
}

/// Runs `script` on `server` and returns what it printed, unshown (the export's archive).
fn operate_lines(
    side: (&Checked, &DesiredState),
    server: &str,
    script: &str,
    connection: &ConnectionArgs,
) -> Result<Vec<String>, String> {
    run_script(side, server, script, connection, false)
}

fn run_script(
    side: (&Checked, &DesiredState),
    server: &str,
    script: &str,
    connection: &ConnectionArgs,
    shown: bool,
) -> Result<Vec<String>, String> {
    let (mut reports, _) =
        remote::operate(side.0, side.1, &[server.to_owned()], script, connection, shown).map_err(|e| e.to_string())?;
    let report = reports.pop().ok_or_else(|| format!("{server} was not reached"))?;
    match report.result {
        Ok(result) => Ok(result.output),
        Err(e) => Err(format!("{server}: {}", e.to_string().lines().next().unwrap_or_default())),
    }
}

/// Waits until `domain` resolves to `address` (or to what `address` resolves to).
fn wait_for_dns(domain: &str, address: &str, patience: Duration) -> Result<(), String> {
    use std::net::ToSocketAddrs as _;
    let resolve = |name: &str| -> Vec<std::net::IpAddr> {
        (name, 80).to_socket_addrs().map(|a| a.map(|s| s.ip()).collect()).unwrap_or_default()
    };
    let wanted = resolve(address);
    let started = Instant::now();
    loop {
        let now = resolve(domain);
        if !wanted.is_empty() && now.iter().any(|ip| wanted.contains(ip)) {
            eprintln!("move: {domain} points at {address}");
            return Ok(());
        }
        if started.elapsed() >= patience {
            return Err(format!(
                "{domain} does not point at {address} yet (it gives {})",
                if now.is_empty() {
                    "no address".to_owned()
                } else {
                    now.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
                }
            ));
        }
        std::thread::sleep(Duration::from_secs(10));
    }
}

/// Writes the description's new text in its place, whole or not at all, with its mode.
fn replace_file(path: &Path, text: &str) -> Result<(), String> {
    let mode = std::fs::metadata(path).map(|m| m.permissions()).map_err(|e| format!("{}: {e}", path.display()))?;
    let partial = path.with_extension("yml.chaton-move");
    std::fs::write(&partial, text).map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
    std::fs::set_permissions(&partial, mode).map_err(|e| format!("{}: {e}", partial.display()))?;
    std::fs::rename(&partial, path).map_err(|e| format!("cannot replace {}: {e}", path.display()))
}

fn copy_folder(from: &Path, to: &Path) -> Result<(), String> {
    let fail = |p: &Path, e: std::io::Error| format!("cannot copy the keys to {}: {e}", p.display());
    for entry in std::fs::read_dir(from).map_err(|e| fail(from, e))? {
        let entry = entry.map_err(|e| fail(from, e))?;
        let bytes = std::fs::read(entry.path()).map_err(|e| fail(&entry.path(), e))?;
        journal::write_private(&to.join(entry.file_name()), &bytes)?;
    }
    Ok(())
}

/// `--abandon`: the description as it was applied to the servers the move touched, the
/// service let go on its old server; the journal and the data in transit go.
fn abandon(args: &MoveArgs, current: &Checked, folder: &Path, journal: Option<Journal>) -> Result<u8, Error> {
    let Some(journal) = journal else {
        return Err(refused(
            format!("no move of {} was started", quoted(&args.service)),
            "nothing to roll back".into(),
        ));
    };
    if journal.finished() {
        return Err(refused(
            format!("the move of {} to {} is finished", quoted(&args.service), journal.to),
            format!("move it back with `chaton move {} {} --to {}`", args.file.display(), args.service, journal.from),
        ));
    }
    let sides = sides(args, current, &journal.from, &journal.to, KeysFrom::Kept)?;
    let plan = moving::plan(&sides.before, &sides.desired_before, &sides.after, &args.service, &journal.to)
        .map_err(|d| Error::Invalid(vec![d]))?;
    let mut servers = vec![journal.from.clone()];
    servers.extend(plan.converge.iter().filter(|s| **s != journal.from).cloned());
    eprintln!("move: rolling back: {} runs on {} again; applying {}", args.service, journal.from, servers.join(", "));
    let before = (&sides.before, &sides.desired_before);
    if journal.is_done(Step::Describe) || std::fs::read_to_string(&args.file).ok().as_deref() == Some(&sides.after_text)
    {
        let before_text = sides.before.description.source.text.clone();
        replace_file(&args.file, &before_text).map_err(Error::Output)?;
    }
    if let Err(why) = apply(before, &servers, &args.connection) {
        eprintln!("move: the roll back failed: {why}\n  Run the same command again.");
        return Ok(exit::ERROR);
    }
    if let Some(resume) = plan.data.as_ref().map(|d| d.resume.clone()).filter(|r| !r.is_empty())
        && let Err(why) = operate(before, &journal.from, &format!("{resume}\n"), &args.connection)
    {
        eprintln!("move: the roll back failed: {why}\n  Run the same command again.");
        return Ok(exit::ERROR);
    }
    std::fs::remove_dir_all(folder).map_err(|e| Error::Output(format!("cannot remove {}: {e}", folder.display())))?;
    eprintln!(
        "move: rolled back: {} runs on {} with its data as it was there; what the move put on {} stays there until you delete it",
        args.service, journal.from, journal.to
    );
    Ok(exit::OK)
}

/// `--purge`: the data a finished move left on the old server, deleted.
fn purge(args: &MoveArgs, current: &Checked, folder: &Path, journal: Option<Journal>) -> Result<u8, Error> {
    let Some(journal) = journal.filter(Journal::finished) else {
        return Err(refused(
            format!("no finished move of {} is recorded in {}", quoted(&args.service), folder.display()),
            "--purge only deletes what a finished `chaton move` left on the old server".into(),
        ));
    };
    let described = current.description.hoster.services.iter().find(|s| s.name == args.service);
    let Some(described) = described.filter(|s| s.server != journal.from) else {
        return Err(refused(
            format!("the description has {} on {} again", quoted(&args.service), journal.from),
            "its data there is in use: nothing was deleted".into(),
        ));
    };
    let (_, desired) = super::resolved(current, args.connection.state_dir(), KeysFrom::StandIns)?;
    // The roles are named as on the server the description now puts the service on.
    let described_to = desired.servers.iter().find(|s| s.name == described.server);
    let roles = described_to.map(|state| moving::roles_of(state, &args.service)).unwrap_or_default();
    eprintln!("move: deleting on {}: {}", journal.from, {
        let mut what = journal.paths.clone();
        what.extend(journal.databases.iter().map(|d| format!("database {d}")));
        what.extend(roles.iter().map(|(r, _)| format!("role {r}")));
        what.join(", ")
    });
    if let Err(why) = operate(
        (current, &desired),
        &journal.from,
        &scripts::purge(&journal.paths, &journal.databases, &roles),
        &args.connection,
    ) {
        eprintln!("move: the purge failed: {why}");
        return Ok(exit::ERROR);
    }
    std::fs::remove_dir_all(folder).map_err(|e| Error::Output(format!("cannot remove {}: {e}", folder.display())))?;
    eprintln!("move: {}'s old data is gone from {}", args.service, journal.from);
    Ok(exit::OK)
}
