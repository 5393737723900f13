//! The commands that reach servers (plan, apply, verify, facts): engine settings from the
//! command line, progress on stderr (or JSON lines on stdout), a summary per host, and an
//! exit code that is non-zero when any host failed.

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use super::output::print_json;
use crate::apply::DEFAULT_STATE_DIR;
use crate::diagnostic::{Diagnostic, quoted};
use crate::engine::{self, Event, EventKind, HostReport, Settings, Task};
use crate::error::{Error, exit};
use crate::pipeline::Checked;
use crate::plan::{FORMAT, Plan};
use crate::resolve::DesiredState;
use crate::transport::{HostKeyPolicy, Timeouts};

#[derive(Debug, Clone, clap::Args)]
pub(super) struct ConnectionArgs {
    /// Trust a server's host key the first time (recorded in `known_hosts` next to the
    /// description). A changed key is always refused.
    #[arg(long)]
    accept_new: bool,
    /// How many servers to work on at the same time.
    #[arg(long, default_value_t = 8, value_name = "N")]
    parallel: usize,
    /// Only this server (repeat for several).
    #[arg(long = "server", value_name = "NAME")]
    only: Vec<String>,
    /// Seconds to wait for a server to answer.
    #[arg(long, default_value_t = 15, value_name = "SECONDS")]
    connect_timeout: u64,
    /// Seconds a server's whole run may take: connecting, facts, the apply, the new login
    /// check and closing share this one deadline. A run past it ends, says where it was, and
    /// leaves the server's journal for the next run.
    #[arg(long = "timeout", visible_alias = "script-timeout", default_value_t = 1800, value_name = "SECONDS")]
    script_timeout: u64,
    /// Where chaton keeps its lock and handler journal on the servers.
    #[arg(long, default_value = DEFAULT_STATE_DIR, hide = true)]
    remote_state_dir: String,
    /// Let keys just made next to the description (backup passphrase and SSH key, VPN keys)
    /// replace those the servers hold: their old backups can no longer be read and the VPN
    /// configurations handed out stop working. Without it, such a run is refused.
    #[arg(long)]
    replace_keys: bool,
    /// When a run that changes sshd or the firewall is cut off before it proved a new login,
    /// the server puts the last checked files back by itself this many seconds later.
    #[arg(long, default_value_t = crate::apply::access::WATCHDOG_SECONDS, value_name = "SECONDS",
          value_parser = clap::value_parser!(u32).range(10..=86400))]
    access_watchdog: u32,
}

impl ConnectionArgs {
    /// chaton's folder on the servers (lock, journal, secrets).
    pub(super) fn state_dir(&self) -> &str {
        &self.remote_state_dir
    }

    /// The same settings, for these servers only (`--server`).
    pub(super) fn with_only(&self, servers: &[String]) -> Self {
        Self { only: servers.to_vec(), ..self.clone() }
    }
}

fn settings(checked: &Checked, args: &ConnectionArgs) -> Settings {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    Settings {
        policy: HostKeyPolicy {
            project_known_hosts: checked.description.dir.join("known_hosts"),
            user_known_hosts: home.map(|h| h.join(".ssh/known_hosts")),
            accept_new: args.accept_new,
        },
        timeouts: Timeouts {
            connect: Duration::from_secs(args.connect_timeout.max(1)),
            script: Duration::from_secs(args.script_timeout.max(1)),
        },
        parallel: args.parallel.max(1),
        state_dir: args.remote_state_dir.clone(),
        description_dir: checked.description.dir.clone(),
        servers: checked.description.hoster.servers.clone(),
        replace_keys: args.replace_keys,
        access_watchdog: args.access_watchdog,
        connector: std::sync::Arc::new(crate::transport::ssh::SshConnector),
    }
}

/// The desired state restricted to `--server` names (all when none given).
fn selected(desired: &DesiredState, args: &ConnectionArgs) -> Result<DesiredState, Error> {
    let names: Vec<&str> = desired.servers.iter().map(|s| s.name.as_str()).collect();
    for wanted in &args.only {
        if !names.contains(&wanted.as_str()) {
            let mut d = Diagnostic::error(format!("unknown server {}", quoted(wanted)));
            if let Some(best) = crate::vocab::suggest::closest(wanted, names.iter().copied()) {
                d = d.help(format!("did you mean {}?", quoted(best)));
            }
            return Err(Error::Invalid(vec![d.help(format!("servers: {}", names.join(", ")))]));
        }
    }
    let servers =
        desired.servers.iter().filter(|s| args.only.is_empty() || args.only.contains(&s.name)).cloned().collect();
    Ok(DesiredState { servers })
}

/// Prints events as they come: one progress bar per host when stderr is a terminal, a
/// line per event otherwise, or JSON lines on stdout for machines.
fn printer(json: bool) -> impl Fn(Event) + Sync {
    let bars = (!json && std::io::stderr().is_terminal()).then(Bars::default);
    let lock = Mutex::new(());
    move |event: Event| {
        if json {
            let _guard = lock.lock();
            if let Ok(line) = serde_json::to_string(&event) {
                let _ = writeln!(std::io::stdout().lock(), "{line}");
            }
            return;
        }
        if let Some(bars) = &bars {
            bars.show(&event);
            return;
        }
        let Some(text) = describe(&event.kind) else { return };
        let _guard = lock.lock();
        let _ = writeln!(std::io::stderr().lock(), "[{}] {text}", event.server);
    }
}

/// One line of text for an event, or nothing for events that only move a bar.
fn describe(kind: &EventKind) -> Option<String> {
    Some(match kind {
        EventKind::Connecting { address } => format!("connecting to {address}"),
        EventKind::Connected { milliseconds } => format!("connected in {milliseconds} ms"),
        EventKind::Gathered { milliseconds } => format!("facts gathered in {milliseconds} ms"),
        EventKind::Planned { changes, handlers } => format!("{changes} change(s), {handlers} handler(s) to run"),
        EventKind::ChangeStarted { index, total, resource } => format!("({}/{total}) {resource}", index + 1),
        EventKind::ChangeDone { .. } | EventKind::HandlerDone { .. } => return None,
        EventKind::HandlerStarted { name } => format!("handler: {name}"),
        EventKind::Checked { check, ok, detail } => format!("{} {check}: {detail}", if *ok { "ok  " } else { "FAIL" }),
        EventKind::Warning { text } => format!("warning: {text}"),
        EventKind::Waiting { what } => format!("waiting for {what}"),
        EventKind::Output { line } => line.clone(),
        EventKind::Failed { error } => format!("failed: {}", error.lines().next().unwrap_or_default()),
        EventKind::Finished { outcome } => outcome.clone(),
    })
}

/// A progress bar per host, created when the host's first event arrives.
#[derive(Default)]
struct Bars {
    multi: indicatif::MultiProgress,
    bars: Mutex<BTreeMap<String, indicatif::ProgressBar>>,
}

impl Bars {
    fn show(&self, event: &Event) {
        let mut bars = self.bars.lock().expect("bars lock");
        let bar = bars.entry(event.server.clone()).or_insert_with(|| {
            // No bar until the plan says how many changes there are: an empty one reads as
            // a full `0/0`.
            let bar = self.multi.add(indicatif::ProgressBar::new(0));
            let style = indicatif::ProgressStyle::with_template("{prefix:>12} {wide_msg}").expect("valid template");
            bar.set_style(style);
            bar.set_prefix(event.server.clone());
            bar
        });
        match &event.kind {
            EventKind::Planned { changes, .. } => {
                bar.set_length(*changes as u64);
                if *changes > 0 {
                    let style =
                        indicatif::ProgressStyle::with_template("{prefix:>12} [{bar:24}] {pos}/{len} {wide_msg}")
                            .expect("valid template")
                            .progress_chars("=> ");
                    bar.set_style(style);
                }
            }
            EventKind::ChangeDone { index } => bar.set_position(*index as u64 + 1),
            EventKind::Finished { outcome } => {
                bar.finish_with_message(outcome.clone());
                return;
            }
            EventKind::Failed { error } => {
                bar.abandon_with_message(format!("FAILED: {}", error.lines().next().unwrap_or_default()));
                return;
            }
            EventKind::Checked { ok: false, check, detail } => {
                let _ = self.multi.println(format!("[{}] FAIL {check}: {detail}", event.server));
            }
            EventKind::Warning { text } => {
                let _ = self.multi.println(format!("[{}] warning: {text}", event.server));
            }
            _ => {}
        }
        if let Some(text) = describe(&event.kind) {
            bar.set_message(text);
        }
    }
}

#[derive(Serialize)]
struct HostSummary<'a> {
    server: &'a str,
    ok: bool,
    error: Option<String>,
    channels: usize,
    changes: Option<usize>,
    applied: usize,
    handlers: &'a [String],
}

#[derive(Serialize)]
struct Summary<'a> {
    event: &'static str,
    servers: Vec<HostSummary<'a>>,
}

/// Prints the per-host outcome and returns whether every host succeeded.
fn summarize(reports: &[HostReport], json: bool) -> Result<bool, Error> {
    let servers: Vec<HostSummary> = reports
        .iter()
        .map(|r| match &r.result {
            Ok(result) => HostSummary {
                server: &r.server,
                ok: true,
                error: None,
                channels: r.channels,
                changes: result.plan.as_ref().map(|p| p.changes.len()),
                applied: result.applied,
                handlers: &result.handlers_run,
            },
            Err(e) => HostSummary {
                server: &r.server,
                ok: false,
                error: Some(e.to_string()),
                channels: r.channels,
                changes: None,
                applied: 0,
                handlers: &[],
            },
        })
        .collect();
    let all_ok = servers.iter().all(|s| s.ok);
    if json {
        let line =
            serde_json::to_string(&Summary { event: "summary", servers }).map_err(|e| Error::Output(e.to_string()))?;
        println!("{line}");
        return Ok(all_ok);
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err);
    for s in &servers {
        match &s.error {
            None => {
                let _ = writeln!(err, "{}: ok ({} channel(s))", s.server, s.channels);
            }
            Some(e) => {
                let _ = writeln!(err, "{}: FAILED: {}", s.server, crate::i18n::translate(super::lang(), e));
            }
        }
    }
    let failed: Vec<&str> = servers.iter().filter(|s| !s.ok).map(|s| s.server).collect();
    if !failed.is_empty() {
        let line = format!("{} of {} server(s) failed: {}", failed.len(), servers.len(), failed.join(", "));
        let _ = writeln!(err, "{}", crate::i18n::translate(super::lang(), &line));
    }
    Ok(all_ok)
}

/// Runs `task` on the selected servers, printing progress (JSON lines with `json`).
fn run_task(
    checked: &Checked,
    desired: &DesiredState,
    args: &ConnectionArgs,
    task: &Task,
    json: bool,
) -> Vec<HostReport> {
    let reports =
        engine::run(desired, &checked.description.hoster.servers, &settings(checked, args), task, &printer(json));
    // A server that refused a key made on this run: that key must not outlive the run, or
    // the next one would take it for the server's own.
    for report in &reports {
        if let Err(engine::HostError::KeyWouldBeReplaced { .. }) = &report.result
            && let Some(state) = desired.servers.iter().find(|s| s.name == report.server)
        {
            crate::keys::Keys::remove_made_now(state.kept_keys.iter().map(|k| &k.key));
        }
    }
    reports
}

/// Runs an operator's `script` on the servers named (`chaton backup`). With `show_output`,
/// its lines are shown as they come; failures are always shown. Reports come back in the
/// order of the description, and a summary per server is printed.
pub(super) fn operate(
    checked: &Checked,
    desired: &DesiredState,
    servers: &[String],
    script: &str,
    args: &ConnectionArgs,
    show_output: bool,
) -> Result<(Vec<HostReport>, bool), Error> {
    let desired =
        DesiredState { servers: desired.servers.iter().filter(|s| servers.contains(&s.name)).cloned().collect() };
    let task = Task::Operate { script: script.to_owned() };
    let lock = Mutex::new(());
    let print = |event: Event| {
        let text = match &event.kind {
            EventKind::Output { line } if show_output => line.replace('\t', "  "),
            EventKind::Failed { error } => format!("failed: {}", error.lines().next().unwrap_or_default()),
            _ => return,
        };
        let _guard = lock.lock();
        let _ = writeln!(std::io::stderr().lock(), "[{}] {text}", event.server);
    };
    let reports = engine::run(&desired, &checked.description.hoster.servers, &settings(checked, args), &task, &print);
    let ok = reports.iter().all(|r| r.result.is_ok());
    Ok((reports, ok))
}

/// `chaton plan` against the servers: the plan of every host that answered, and whether
/// any failed.
pub(super) fn plan(checked: &Checked, desired: &DesiredState, args: &ConnectionArgs) -> Result<(Plan, bool), Error> {
    let desired = selected(desired, args)?;
    // With --json the plan is the only thing on stdout: progress stays on stderr.
    let reports = run_task(checked, &desired, args, &Task::Plan, false);
    let failed = !summarize(&reports, false)?;
    let servers = reports.into_iter().filter_map(|r| r.result.ok().and_then(|res| res.plan)).collect();
    Ok((Plan { format: FORMAT, generator: format!("chaton {}", env!("CARGO_PKG_VERSION")), servers }, failed))
}

/// `chaton apply`, from a fresh plan or a saved one.
pub(super) fn apply(
    checked: &Checked,
    desired: &DesiredState,
    saved: Option<&Path>,
    args: &ConnectionArgs,
    json: bool,
) -> Result<u8, Error> {
    let desired = selected(desired, args)?;
    let expected = saved.map(load_saved_plan).transpose()?;
    let reports = run_task(checked, &desired, args, &Task::Apply { expected }, json);
    Ok(if summarize(&reports, json)? { exit::OK } else { exit::ERROR })
}

/// `apply` of a fresh plan that, while another run holds a server's lock (a run cut off from
/// here that the server is still finishing: `chaton move` resumed after a kill), waits for
/// it to end, up to `patience`, then applies.
pub(super) fn apply_when_free(
    checked: &Checked,
    desired: &DesiredState,
    args: &ConnectionArgs,
    patience: Duration,
) -> Result<u8, Error> {
    let desired = selected(desired, args)?;
    let started = std::time::Instant::now();
    loop {
        let reports = run_task(checked, &desired, args, &Task::Apply { expected: None }, false);
        let locked = reports.iter().find_map(|r| match &r.result {
            Err(engine::HostError::Locked { holder }) => Some((r.server.clone(), holder.clone())),
            _ => None,
        });
        if let Some((server, holder)) = locked
            && started.elapsed() < patience
        {
            eprintln!("[{server}] waiting for the run that holds its lock to end ({})", holder.trim());
            std::thread::sleep(Duration::from_secs(3));
            continue;
        }
        return Ok(if summarize(&reports, false)? { exit::OK } else { exit::ERROR });
    }
}

/// A saved plan, as JSON per server.
fn load_saved_plan(path: &Path) -> Result<BTreeMap<String, serde_json::Value>, Error> {
    let invalid = |why: String| {
        Error::Invalid(vec![
            Diagnostic::error(format!("cannot use the plan {}: {why}", quoted(&path.display().to_string())))
                .help("make one with `chaton plan FILE --out plan.json`"),
        ])
    };
    let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
    let plan: serde_json::Value = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    if plan["format"] != FORMAT {
        return Err(invalid(format!("it is not a chaton plan of format {FORMAT}")));
    }
    let servers = plan["servers"].as_array().ok_or_else(|| invalid("it has no servers".into()))?;
    if servers.iter().any(|s| s["facts"]["type"] != "live") {
        return Err(invalid("it was made with --offline; an applied plan must come from the servers".into()));
    }
    Ok(servers.iter().filter_map(|s| Some((s["server"].as_str()?.to_owned(), s.clone()))).collect())
}

/// `chaton verify`.
pub(super) fn verify(
    checked: &Checked,
    desired: &DesiredState,
    args: &ConnectionArgs,
    json: bool,
) -> Result<u8, Error> {
    let desired = selected(desired, args)?;
    let reports = run_task(checked, &desired, args, &Task::Verify, json);
    Ok(if summarize(&reports, json)? { exit::OK } else { exit::ERROR })
}

/// `chaton facts SERVER`: the facts as JSON on stdout.
pub(super) fn facts(
    checked: &Checked,
    desired: &DesiredState,
    server: &str,
    args: &ConnectionArgs,
) -> Result<u8, Error> {
    let mut args = args.clone();
    args.only = vec![server.to_owned()];
    let desired = selected(desired, &args)?;
    let mut reports = run_task(checked, &desired, &args, &Task::Facts, false);
    let report = reports.pop().expect("one server selected");
    match report.result {
        Ok(result) => {
            print_json(&result.facts)?;
            Ok(exit::OK)
        }
        Err(e) => Err(Error::Output(format!("{server}: {e}"))),
    }
}
