//! Runs a task (facts, plan, apply, verify) on every server: one thread and one SSH
//! connection per host, hosts in parallel up to a bound. A host that fails does not stop
//! the others; each host ends with a report, and progress goes out as events.
//!
//! Per host, a no-op run costs one connection and one exec channel (the facts script);
//! an apply adds one channel for the apply script (changes and handlers together).

mod checks;
mod host;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;

use crate::apply::access::Restore;
use crate::description::model::Server;
use crate::facts::HostFacts;
use crate::plan::ServerPlan;
use crate::resolve::DesiredState;
use crate::transport::{Connector, HostKeyPolicy, Timeouts, TransportError};

pub use checks::CheckOutcome;

/// How the engine reaches servers.
#[derive(Debug, Clone)]
pub struct Settings {
    pub policy: HostKeyPolicy,
    pub timeouts: Timeouts,
    /// Hosts worked on at the same time.
    pub parallel: usize,
    /// chaton's lock and handler journal on the servers.
    pub state_dir: String,
    /// Folder of the description: relative `ssh_key` paths start here.
    pub description_dir: std::path::PathBuf,
    /// Every server of the description (jump hosts are found here).
    pub servers: Vec<crate::description::model::Server>,
    /// Let keys made on this run replace those the servers hold (`--replace-keys`).
    pub replace_keys: bool,
    /// Seconds after a run that touched access stopped before the server puts the last
    /// checked files back by itself, unless a new login proved them (`--access-watchdog`).
    pub access_watchdog: u32,
    /// How a host is reached: SSH in every real run (`SshConnector`).
    pub connector: std::sync::Arc<dyn Connector>,
}

/// What to do on each host.
#[derive(Debug, Clone)]
pub enum Task {
    /// Gather facts only.
    Facts,
    /// Gather facts and plan.
    Plan,
    /// Plan and apply. With `expected`, apply only if each server's fresh plan is exactly
    /// the saved one (JSON per server): a stale plan is refused.
    Apply { expected: Option<BTreeMap<String, serde_json::Value>> },
    /// Plan (must be empty) and run the recipes' checks.
    Verify,
    /// Run an operator's script (`chaton backup ...`): no facts, no plan; its output lines
    /// are events, and a non-zero exit fails the host.
    Operate { script: String },
}

/// Something that happened on a host, for progress displays.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub server: String,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    Connecting {
        address: String,
    },
    Connected {
        milliseconds: u128,
    },
    Gathered {
        milliseconds: u128,
    },
    Planned {
        changes: usize,
        handlers: usize,
    },
    ChangeStarted {
        index: usize,
        total: usize,
        resource: String,
    },
    ChangeDone {
        index: usize,
    },
    HandlerStarted {
        name: String,
    },
    HandlerDone {
        name: String,
    },
    Checked {
        check: String,
        ok: bool,
        detail: String,
    },
    /// A change waits for something outside chaton (another program's package lock).
    Waiting {
        what: String,
    },
    /// A change succeeded, with something its command wants the user to know.
    Warning {
        text: String,
    },
    Output {
        line: String,
    },
    Failed {
        error: String,
    },
    Finished {
        outcome: String,
    },
}

/// How one host ended.
#[derive(Debug)]
pub struct HostReport {
    pub server: String,
    pub result: Result<HostResult, HostError>,
    /// Exec channels opened on the host's connection.
    pub channels: usize,
}

#[derive(Debug, Default)]
pub struct HostResult {
    pub facts: Option<HostFacts>,
    pub plan: Option<ServerPlan>,
    /// Changes applied (all of the plan's when the apply succeeded).
    pub applied: usize,
    pub handlers_run: Vec<String>,
    pub checks: Vec<CheckOutcome>,
    /// What an `Operate` script printed.
    pub output: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("{0}")]
    Transport(#[from] TransportError),
    #[error("{0}")]
    Setup(String),
    #[error(
        "{user} may not run commands as root without a password here: sudo said \"{said}\"\n  chaton never types a password. Give {user} passwordless sudo (`{user} ALL=(ALL:ALL) NOPASSWD: ALL` in /etc/sudoers.d/{user}, edited with `visudo -f`), or connect as root (`ssh_user: root`) for the first apply: the base recipe writes that rule for every admin of the description."
    )]
    SudoRefused { user: String, said: String },
    #[error(
        "{file} would go in {folder}, which does not exist on this server and which nothing before it creates; nothing was changed\n  Check the path, or describe the folder first (a `directory` in a recipe, or create it on the server)."
    )]
    MissingFolder { file: String, folder: String },
    #[error("cannot read the facts: {0}")]
    Facts(String),
    #[error(
        "{endpoint}: the run's deadline ({seconds} s, --timeout) passed while {step}; the journal on the server keeps the restarts owed, and the next run finishes the work"
    )]
    Deadline { endpoint: String, seconds: u64, step: String },
    #[error("the saved plan is stale: the server changed since it was made; make a new plan")]
    Stale,
    #[error(
        "{path} on this server holds {what}, but the copy kept next to the description ({local}) was only just made: the secrets folder is missing or incomplete (a fresh clone of the description?).\n  Applying would replace the server's key, and {breaks}. Nothing was changed, and the key just made was removed.\n  {recover}"
    )]
    KeyWouldBeReplaced { path: String, what: String, local: String, breaks: String, recover: String },
    #[error("the saved plan no longer matches the description; make a new plan")]
    PlanMismatch,
    #[error("the saved plan has no entry for this server")]
    NotInPlan,
    #[error("another chaton run holds the lock on this server ({holder}); try again when it is done")]
    Locked { holder: String },
    #[error(
        "change {} failed ({resource}), exit status {code}; {applied} change(s) before it were applied\n{output}", index + 1
    )]
    ChangeFailed { index: usize, resource: String, code: i32, applied: usize, output: String },
    #[error(
        "handler \"{name}\" failed with exit status {code}; it stays in the journal and runs on the next apply\n{output}"
    )]
    HandlerFailed { name: String, code: i32, output: String },
    #[error("the apply script stopped unexpectedly (exit status {code})\n{output}")]
    ApplyAborted { code: i32, output: String },
    #[error("after this run, a new SSH login failed ({reason}); {}", rolled_back.after_lost_login(files))]
    AccessLost { files: String, reason: String, rolled_back: Restore },
    #[error("{error}\n  This run had touched what decides access: {}", restored.after_failed_apply(files))]
    FailedAccessRestored { error: Box<HostError>, files: String, restored: Restore },
    #[error(
        "an earlier run changed what decides access (sshd, the firewall) and ended before a new login proved it; the next apply proves it, or puts the last checked files back"
    )]
    AccessUnchecked,
    #[error("not converged: {changes} change(s) still planned")]
    NotConverged { changes: usize },
    #[error("{failed} check(s) failed")]
    ChecksFailed { failed: usize },
    #[error("exit status {code}")]
    OperationFailed { code: i32 },
}

/// Runs `task` on every server of `desired` (in the order of the description), calling
/// `on_event` from the worker threads. Returns one report per server, in the same order.
pub fn run(
    desired: &DesiredState,
    servers: &[Server],
    settings: &Settings,
    task: &Task,
    on_event: &(dyn Fn(Event) + Sync),
) -> Vec<HostReport> {
    let server_of = |index: usize| {
        let state = &desired.servers[index];
        servers.iter().find(|s| s.name == state.name).expect("resolved from these servers")
    };
    // Servers at home and their relays run at once like any others: a home server's
    // certificates wait on the server itself until its relay passes its visitors on (the
    // web recipe's acme-reachable). Relayed servers are taken last, so that with fewer
    // workers than servers a relay never waits in the queue behind its home server.
    let mut order: Vec<usize> = (0..desired.servers.len()).collect();
    order.sort_by_key(|index| server_of(*index).relay.is_some());
    let queue: Mutex<VecDeque<usize>> = Mutex::new(order.into());
    let reports: Mutex<Vec<(usize, HostReport)>> = Mutex::new(Vec::new());
    let workers = settings.parallel.clamp(1, desired.servers.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let Some(index) = queue.lock().expect("queue lock").pop_front() else { break };
                    let report = host::run(&desired.servers[index], server_of(index), settings, task, on_event);
                    reports.lock().expect("reports lock").push((index, report));
                }
            });
        }
    });
    let mut reports = reports.into_inner().expect("reports lock");
    reports.sort_by_key(|(i, _)| *i);
    reports.into_iter().map(|(_, r)| r).collect()
}

/// Who holds the lock on the servers during an apply: user, machine, process, time.
pub fn holder() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    let machine = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format!("{user}@{machine} pid {} since {}", std::process::id(), utc_timestamp(seconds))
}

/// `YYYY-MM-DDTHH:MM:SSZ` from Unix seconds (days-to-civil, proleptic Gregorian).
pub fn utc_timestamp(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps() {
        assert_eq!(super::utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::utc_timestamp(1_764_115_200), "2025-11-26T00:00:00Z");
        assert_eq!(super::utc_timestamp(951_782_400 + 3_661), "2000-02-29T01:01:01Z");
    }
}
