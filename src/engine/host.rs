//! One host, start to end: connect, gather facts (one channel), plan, and for an apply run
//! the apply script (a second channel) while turning its progress lines into events.

use std::time::Instant;

use super::checks;
use super::{Event, EventKind, HostError, HostReport, HostResult, Settings, Task};
use crate::apply::{self, LOCKED_EXIT, Progress};
use crate::description::model::Server;
use crate::facts::{FactQuery, HostFacts, gather};
use crate::plan::{self, FactsSource, ServerPlan};
use crate::resolve::ServerState;
use crate::transport::{Endpoint, Transport, TransportError, ssh_config};

/// Lines of command output kept for an error message.
const OUTPUT_TAIL: usize = 25;

pub(super) fn run(
    state: &ServerState,
    server: &Server,
    settings: &Settings,
    task: &Task,
    on_event: &(dyn Fn(Event) + Sync),
) -> HostReport {
    let emit = |kind: EventKind| on_event(Event { server: state.name.clone(), kind });
    let mut channels = 0;
    let result = work(state, server, settings, task, &emit, &mut channels);
    match &result {
        Ok(r) => {
            let outcome = match (task, &r.plan) {
                (Task::Apply { .. }, Some(p)) if p.is_empty() => "no changes".to_owned(),
                (Task::Apply { .. }, _) => {
                    format!("{} change(s) applied, {} handler(s) run", r.applied, r.handlers_run.len())
                }
                (Task::Verify, _) => format!("verified, {} check(s) passed", r.checks.len()),
                (Task::Plan, Some(p)) => format!("{} change(s) planned", p.changes.len()),
                _ => "done".to_owned(),
            };
            emit(EventKind::Finished { outcome });
        }
        Err(e) => emit(EventKind::Failed { error: e.to_string() }),
    }
    HostReport { server: state.name.clone(), result, channels }
}

/// The ways to reach a server, in the order they are tried, each with what to say of it:
/// a home server with a relay through its relay's tunnel, then directly at its `address`
/// (its own local network, while the tunnel does not answer yet); any other server as the
/// description says.
fn routes(server: &Server, settings: &Settings) -> Result<Vec<(Endpoint, String)>, HostError> {
    let direct = |server: &Server| {
        ssh_config::endpoint_via(server, &settings.servers, &settings.description_dir).map_err(HostError::Setup)
    };
    let said = |endpoint: &Endpoint| format!("{}@{}:{}", endpoint.user, endpoint.host, endpoint.port);
    let Some(relay) = &server.relay else {
        let endpoint = direct(server)?;
        let text = said(&endpoint);
        return Ok(vec![(endpoint, text)]);
    };
    let mut routes = Vec::new();
    if let Some(address) = crate::resolve::relay::tunnel_address(&settings.servers, &server.name) {
        let through = Server { address: address.to_string(), proxy_jump: Some(relay.clone()), ..server.clone() };
        let endpoint = direct(&through)?;
        let text = format!("{} through its relay {relay}, on their tunnel", said(&endpoint));
        routes.push((endpoint, text));
    }
    let endpoint = direct(server)?;
    let text = format!("{} directly, on its local network", said(&endpoint));
    routes.push((endpoint, text));
    Ok(routes)
}

/// Connects by the first route that answers, saying which it takes; a route that does not
/// answer (a tunnel not up yet) gives way to the next, and the last one's error is the
/// host's. A refused host key or login is no route problem: it stops there.
fn connect(
    server: &Server,
    settings: &Settings,
    deadline: Instant,
    emit: &dyn Fn(EventKind),
) -> Result<(Endpoint, Box<dyn Transport>), HostError> {
    let mut routes = routes(server, settings)?.into_iter().peekable();
    while let Some((endpoint, said)) = routes.next() {
        emit(EventKind::Connecting { address: said });
        match settings.connector.connect(&endpoint, &settings.policy, settings.timeouts, deadline) {
            Ok(transport) => return Ok((endpoint, transport)),
            Err(e @ (TransportError::Connect { .. } | TransportError::Timeout { .. })) if routes.peek().is_some() => {
                emit(EventKind::Warning { text: format!("that route does not answer ({e})") });
            }
            Err(e) => return Err(at("connecting")(e)),
        }
    }
    Err(HostError::Setup(format!("no route to {}", server.name)))
}

fn work(
    state: &ServerState,
    server: &Server,
    settings: &Settings,
    task: &Task,
    emit: &dyn Fn(EventKind),
    channels: &mut usize,
) -> Result<HostResult, HostError> {
    let start = Instant::now();
    // One deadline for everything this host's run does: connecting, every script, closing.
    let deadline = start + settings.timeouts.script;
    let (endpoint, mut transport) = connect(server, settings, deadline, emit)?;
    emit(EventKind::Connected { milliseconds: start.elapsed().as_millis() });

    if let Task::Operate { script } = task {
        let output = transport.run(script, &mut |line| emit(EventKind::Output { line: line.to_owned() }));
        *channels = transport.channels_opened();
        let output = output.map_err(at("running the operation"))?;
        if output.exit != 0 {
            return Err(HostError::OperationFailed { code: output.exit });
        }
        return Ok(HostResult { output: output.output.lines().map(str::to_owned).collect(), ..HostResult::default() });
    }

    let mut query = plan::fact_query(state);
    match task {
        Task::Verify => checks::add_guards(&state.checks, &mut query),
        // A command's `explain` is a line for the plan a person reads ("7 security updates
        // to install"); an apply shows none, and the base's costs 2 s on a fresh server.
        // A saved plan's facts had them: its apply gathers them again to compare.
        Task::Apply { expected: None } => query.explains.clear(),
        _ => {}
    }
    let start = Instant::now();
    let facts =
        gather_facts(transport.as_mut(), &query, &settings.state_dir, &endpoint.user, channels).map_err(|e| match e {
            HostError::Transport(e) => at("gathering facts")(e),
            other => other,
        });
    *channels = transport.channels_opened();
    let facts = facts?;
    emit(EventKind::Gathered { milliseconds: start.elapsed().as_millis() });
    let mut result = HostResult { facts: Some(facts.clone()), ..HostResult::default() };
    if matches!(task, Task::Facts) {
        return Ok(result);
    }

    let source = FactsSource::Live {
        digest: facts.digest(),
        os: format!("{} {} ({})", facts.os.id, facts.os.version_id, facts.os.codename),
    };
    let server_plan = plan::plan_server(state, source, &facts);
    emit(EventKind::Planned { changes: server_plan.changes.len(), handlers: server_plan.handlers.len() });
    result.plan = Some(server_plan.clone());
    if matches!(task, Task::Plan | Task::Apply { .. }) && !settings.replace_keys {
        refuse_to_replace_kept_keys(state, &server_plan)?;
    }
    if matches!(task, Task::Plan | Task::Apply { .. })
        && let Some((file, folder)) = plan::missing_folders(&server_plan, &facts).into_iter().next()
    {
        return Err(HostError::MissingFolder { file, folder });
    }

    match task {
        Task::Facts | Task::Plan | Task::Operate { .. } => Ok(result),
        Task::Verify => {
            // Through a relay's tunnel, visitors reach the relay's public address.
            let outside = match (&server.relay, &endpoint.jump) {
                (Some(relay), Some(jump)) => {
                    checks::Outside { host: &jump.host, through_relay: Some((relay.as_str(), server.port)) }
                }
                _ => checks::Outside { host: &endpoint.host, through_relay: None },
            };
            result.checks = checks::run(&state.checks, &facts, &outside, settings.timeouts.connect);
            if let Some(packages) = &facts.reboot_required {
                let asked = if packages.is_empty() { "no package named".to_owned() } else { packages.join(", ") };
                emit(EventKind::Warning {
                    text: format!(
                        "a reboot is pending since an upgrade (/run/reboot-required; asked by: {asked}): until then, the old kernel or libraries keep running"
                    ),
                });
            }
            for c in &result.checks {
                emit(EventKind::Checked { check: c.check.clone(), ok: c.ok, detail: c.detail.clone() });
            }
            // An unproven access change first: it is what can lock everyone out.
            if facts.access_unchecked {
                return Err(HostError::AccessUnchecked);
            }
            if !server_plan.changes.is_empty() {
                return Err(HostError::NotConverged { changes: server_plan.changes.len() });
            }
            let failed = result.checks.iter().filter(|c| !c.ok).count();
            if failed > 0 {
                return Err(HostError::ChecksFailed { failed });
            }
            Ok(result)
        }
        Task::Apply { expected } => {
            if let Some(expected) = expected {
                check_saved(&server_plan, expected.get(&state.name))?;
            }
            if server_plan.is_empty() {
                return Ok(result);
            }
            let outcome = apply_plan(transport.as_mut(), &server_plan, settings, emit);
            *channels = transport.channels_opened();
            let outcome = match &server_plan.access {
                Some(access) => settle_access(transport.as_mut(), &endpoint, access, settings, deadline, outcome, emit),
                None => outcome,
            };
            *channels = transport.channels_opened();
            let (applied, handlers_run) = outcome?;
            result.applied = applied;
            result.handlers_run = handlers_run;
            Ok(result)
        }
    }
}

/// After a run that touched chaton's access: a failed apply puts the last checked files back
/// (what it wrote was never proven, and may not even be loaded yet); a finished one must
/// prove a new login, else the checked files go back too, through the session still open.
fn settle_access(
    transport: &mut dyn Transport,
    endpoint: &crate::transport::Endpoint,
    access: &crate::plan::AccessGuard,
    settings: &Settings,
    deadline: Instant,
    outcome: Result<(usize, Vec<String>), HostError>,
    emit: &dyn Fn(EventKind),
) -> Result<(usize, Vec<String>), HostError> {
    let files = access.files.join(", ");
    let restore = |transport: &mut dyn Transport| {
        let script = apply::access::rollback_script(&settings.state_dir);
        match transport.run(&script, &mut |_| {}) {
            Ok(out) => apply::access::Restore::from_exit(out.exit, &out.output),
            Err(e) => apply::access::Restore::NotPutBack(e.to_string()),
        }
    };
    match outcome {
        // Nothing ran (another run holds the lock) or the session is gone: the watchdog on
        // the server and the next run's check take over.
        Err(e @ (HostError::Locked { .. } | HostError::Transport(_) | HostError::Deadline { .. })) => Err(e),
        Err(error) => {
            let restored = restore(transport);
            Err(HostError::FailedAccessRestored { error: Box::new(error), files, restored })
        }
        Ok(done) => {
            // The proof is a new login that runs the confirmation as root (through sudo where
            // chaton logs in as an admin): it drops the checked copies, since the files on
            // disk are now proven. The session of the run stays at its two channels.
            let proved = fresh_login(endpoint, settings, deadline).map_err(|e| e.to_string()).and_then(|mut fresh| {
                let script = apply::access::confirm_script(&settings.state_dir);
                match fresh.run(&script, &mut |_| {}) {
                    Ok(out) if out.exit == 0 => Ok(()),
                    Ok(out) => {
                        Err(format!("the new login could not run as root (exit {}): {}", out.exit, tail(&out.output)))
                    }
                    Err(e) => Err(e.to_string()),
                }
            });
            match proved {
                Ok(()) => {
                    emit(EventKind::Checked {
                        check: format!("a new SSH login after this run ({})", access.reasons.join("; ")),
                        ok: true,
                        detail: "works".into(),
                    });
                    Ok(done)
                }
                Err(reason) => Err(HostError::AccessLost { files, reason, rolled_back: restore(transport) }),
            }
        }
    }
}

fn gather_facts(
    transport: &mut dyn Transport,
    query: &FactQuery,
    state_dir: &str,
    user: &str,
    channels: &mut usize,
) -> Result<HostFacts, HostError> {
    let script = gather::script(query, state_dir);
    let output = transport.run(&script, &mut |_| {})?;
    *channels = transport.channels_opened();
    if user != "root" && output.exit != 0 {
        // The first script of a run is where sudo answers for the whole run.
        if let Some(said) = sudo_refusal(&output.output, output.exit) {
            return Err(HostError::SudoRefused { user: user.to_owned(), said });
        }
    }
    if output.exit != 0 {
        return Err(HostError::Facts(format!(
            "the facts script exited with status {}\n{}",
            output.exit,
            tail(&output.output)
        )));
    }
    gather::parse(&output.output, query).map_err(HostError::Facts)
}

/// A key made on this run (its copy next to the description was missing) must not replace
/// the one a server holds: that would make its backups unreadable or cut its VPN's peers
/// off, silently. Replacing it is `--replace-keys`, on purpose.
fn refuse_to_replace_kept_keys(state: &ServerState, plan: &ServerPlan) -> Result<(), HostError> {
    for found in state.kept_keys.iter().filter(|k| k.key.made_now) {
        let replaced = plan.changes.iter().any(|c| {
            c.change.resource.kind == "file"
                && c.change.resource.name == found.path
                && c.change.action == crate::resource::Action::Update
        });
        if replaced {
            let recover = if found.key.on_server {
                "Fetch it back from the server with `chaton keys fetch DESCRIPTION` (kept 0600 next to the description), or put your copy of the secrets folder back; to make a new one on purpose, run again with --replace-keys."
            } else {
                "Put your copy of the secrets folder back; to make a new one on purpose (and hand the new configuration over), run again with --replace-keys."
            };
            return Err(HostError::KeyWouldBeReplaced {
                path: found.path.clone(),
                what: found.key.what.clone(),
                local: found.key.local.display().to_string(),
                breaks: found.key.breaks.to_owned(),
                recover: recover.to_owned(),
            });
        }
    }
    Ok(())
}

/// Refuses a saved plan that is not exactly what the server needs now.
fn check_saved(fresh: &ServerPlan, saved: Option<&serde_json::Value>) -> Result<(), HostError> {
    let saved = saved.ok_or(HostError::NotInPlan)?;
    let fresh_json = serde_json::to_value(fresh).map_err(|e| HostError::Setup(e.to_string()))?;
    if saved["facts"] != fresh_json["facts"] {
        return Err(HostError::Stale);
    }
    if *saved != fresh_json {
        return Err(HostError::PlanMismatch);
    }
    Ok(())
}

fn apply_plan(
    transport: &mut dyn Transport,
    plan: &ServerPlan,
    settings: &Settings,
    emit: &dyn Fn(EventKind),
) -> Result<(usize, Vec<String>), HostError> {
    let script = apply::script(plan, &settings.state_dir, &super::holder(), settings.access_watchdog);
    let total = plan.changes.len();
    let mut done = 0;
    let mut handlers_run = Vec::new();
    let mut failure: Option<Progress> = None;
    let mut locked: Option<String> = None;
    let mut finished = false;
    let mut recent: Vec<String> = Vec::new();
    let mut step = "starting the apply script".to_owned();
    let mut waiting_for = String::new();
    let output = transport.run(&script, &mut |line| {
        let (command_output, progress) = apply::split_line(line);
        if progress.is_none() || !command_output.is_empty() {
            recent.push(command_output.to_owned());
            if recent.len() > OUTPUT_TAIL {
                recent.remove(0);
            }
        }
        if let Some(what) = waits_for(command_output)
            && what != waiting_for
        {
            waiting_for = what.clone();
            emit(EventKind::Waiting { what });
        }
        match progress {
            Some(Progress::Begin(i)) => {
                recent.clear();
                let resource = plan.changes.get(i).map(|c| c.change.resource.to_string()).unwrap_or_default();
                step = format!("applying change {} of {total} ({resource})", i + 1);
                emit(EventKind::ChangeStarted { index: i, total, resource });
            }
            Some(Progress::Done(i)) => {
                done = i + 1;
                emit(EventKind::ChangeDone { index: i });
            }
            Some(Progress::Handler(name)) => {
                recent.clear();
                step = format!("running the handler \"{name}\"");
                emit(EventKind::HandlerStarted { name });
            }
            Some(Progress::HandlerDone(name)) => {
                emit(EventKind::HandlerDone { name: name.clone() });
                handlers_run.push(name);
            }
            Some(Progress::Locked(holder)) => locked = Some(holder),
            Some(Progress::Warning(text)) => emit(EventKind::Warning { text }),
            Some(Progress::Finished) => {
                step = "closing the apply script".to_owned();
                finished = true;
            }
            Some(p @ (Progress::Failed { .. } | Progress::HandlerFailed { .. })) => failure = Some(p),
            None => {}
        }
    });
    let output = output.map_err(at(&step))?;
    let recent = recent.join("\n");
    if let Some(holder) = locked {
        return Err(HostError::Locked { holder });
    }
    match failure {
        Some(Progress::Failed { index, code }) => {
            let resource = plan.changes.get(index).map(|c| c.change.resource.to_string()).unwrap_or_default();
            return Err(HostError::ChangeFailed { index, resource, code, applied: done, output: recent });
        }
        Some(Progress::HandlerFailed { name, code }) => {
            return Err(HostError::HandlerFailed { name, code, output: recent });
        }
        _ => {}
    }
    if !finished || output.exit != 0 {
        let code = if output.exit == LOCKED_EXIT { LOCKED_EXIT } else { output.exit };
        return Err(HostError::ApplyAborted { code, output: tail(&output.output) });
    }
    Ok((done, handlers_run))
}

/// A new login, retried for a few seconds: sshd stops listening for a moment while it
/// reloads, and a refused connection then says nothing about the new configuration.
fn fresh_login(
    endpoint: &crate::transport::Endpoint,
    settings: &Settings,
    run_deadline: Instant,
) -> Result<Box<dyn Transport>, crate::transport::TransportError> {
    let deadline = (Instant::now() + std::time::Duration::from_secs(15)).min(run_deadline);
    loop {
        match settings.connector.connect(endpoint, &settings.policy, settings.timeouts, run_deadline) {
            Ok(fresh) => return Ok(fresh),
            // A refused login is an answer; asking again would only earn this address
            // sshd's penalties (PerSourcePenalties) for the logins that follow.
            Err(e @ crate::transport::TransportError::Auth { .. }) => return Err(e),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(500)),
        }
    }
}

/// What sudo said when it would not run the script: it asks a password (chaton never types
/// one), refuses the user, or is not installed at all.
fn sudo_refusal(output: &str, exit: i32) -> Option<String> {
    if let Some(line) = output.lines().find(|l| l.starts_with("sudo: ")) {
        return Some(crate::diagnostic::sanitize(line.trim_start_matches("sudo: ")));
    }
    let missing = output.lines().any(|l| l.contains("sudo: not found") || l.contains("sudo: command not found"));
    (exit == 127 && missing).then(|| "sudo is not installed on the server".to_owned())
}

/// What a command's output line says it waits for: apt's `Waiting for cache lock: Could not
/// get lock /var/lib/dpkg/lock-frontend. It is held by process 261 (apt-get)...`, printed
/// every few seconds while another program (unattended-upgrades, often, on a fresh server)
/// installs packages.
fn waits_for(line: &str) -> Option<String> {
    let rest = line.strip_prefix("Waiting for cache lock: ")?;
    let holder = rest.split_once("It is held by ").map(|(_, h)| h.trim_end_matches('.').trim());
    Some(match holder {
        Some(holder) => format!("the package lock, held by {}", crate::diagnostic::sanitize(holder)),
        None => "the package lock".to_owned(),
    })
}

/// Names the step a transport error stopped, when it is the run's deadline.
fn at(step: impl std::fmt::Display) -> impl Fn(crate::transport::TransportError) -> HostError {
    let step = step.to_string();
    move |e| match e {
        crate::transport::TransportError::Timeout { endpoint, seconds } => {
            HostError::Deadline { endpoint, seconds, step: step.clone() }
        }
        other => HostError::Transport(other),
    }
}

fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    lines[lines.len().saturating_sub(OUTPUT_TAIL)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::waits_for;

    #[test]
    fn apt_waiting_for_its_lock_is_said_with_the_holder() {
        assert_eq!(
            waits_for("Waiting for cache lock: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 261 (apt-get)...").as_deref(),
            Some("the package lock, held by process 261 (apt-get)")
        );
        assert_eq!(waits_for("Reading package lists..."), None);
    }

    #[test]
    fn what_sudo_said_is_kept() {
        use super::sudo_refusal;
        assert_eq!(sudo_refusal("sudo: a password is required\n", 1).as_deref(), Some("a password is required"));
        assert_eq!(
            sudo_refusal("sh: 1: sudo: not found\n", 127).as_deref(),
            Some("sudo is not installed on the server")
        );
        assert_eq!(sudo_refusal("facts\n", 1), None);
    }
}
