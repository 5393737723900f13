//! The engine's apply, its no-op second run, and the access guard's proof and rollback, over
//! a local shell in place of SSH: the engine sees only the `Connector` and `Transport`
//! traits, so here the scripts it sends run through `/bin/sh` on this machine, exactly as
//! the SSH transport runs them on a server, and the probe recipe's files land in a
//! temporary folder. A connector that refuses the fresh login, or loses the link in the
//! middle of the apply script, shows what the engine does then, which a real sshd can only
//! be made to do by accident. What only SSH can show (host keys, channels counted by sshd,
//! timeouts on a dead link) stays in `ssh_engine.rs`.

mod support;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chaton::apply::access::Restore;
use chaton::engine::{self, Event, EventKind, HostError, HostReport, Settings, Task};
use chaton::transport::{Connector, Endpoint, HostKeyPolicy, ScriptOutput, Timeouts, Transport, TransportError};
use support::Project;

/// What the local "server" does wrong, on purpose.
#[derive(Debug, Default, Clone, Copy)]
struct Faults {
    /// Logins after the run's own are refused (as sshd refuses a login a new setting forbids).
    refuse_fresh_logins: bool,
    /// The script that contains this text runs to its end, then the link is reported lost
    /// (as when the connection drops once the server has done the work).
    lose_link_after: Option<&'static str>,
}

/// Opens local shells; counts logins.
#[derive(Debug)]
struct LocalShell {
    faults: Faults,
    logins: AtomicUsize,
    scripts: Arc<AtomicUsize>,
}

impl LocalShell {
    fn new(faults: Faults) -> Arc<Self> {
        Arc::new(Self { faults, logins: AtomicUsize::new(0), scripts: Arc::new(AtomicUsize::new(0)) })
    }
}

impl Connector for LocalShell {
    fn connect(
        &self,
        endpoint: &Endpoint,
        _policy: &HostKeyPolicy,
        _timeouts: Timeouts,
        _deadline: std::time::Instant,
    ) -> Result<Box<dyn Transport>, TransportError> {
        let earlier = self.logins.fetch_add(1, Ordering::SeqCst);
        if earlier > 0 && self.faults.refuse_fresh_logins {
            return Err(TransportError::Auth {
                endpoint: endpoint.server.clone(),
                user: endpoint.user.clone(),
                reason: "refused by the test".into(),
            });
        }
        Ok(Box::new(Shell { channels: 0, faults: self.faults, scripts: self.scripts.clone() }))
    }
}

struct Shell {
    channels: usize,
    faults: Faults,
    scripts: Arc<AtomicUsize>,
}

impl Transport for Shell {
    /// The SSH transport's runner, word for word: the script is read whole from standard
    /// input, then run with standard error merged into standard output.
    fn run(&mut self, script: &str, on_line: &mut dyn FnMut(&str)) -> Result<ScriptOutput, TransportError> {
        self.channels += 1;
        self.scripts.fetch_add(1, Ordering::SeqCst);
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg("chaton_script=$(cat) && exec 2>&1 && eval \"$chaton_script\"")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("/bin/sh runs");
        child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
        let mut output = String::new();
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            on_line(&line);
            output.push_str(&line);
            output.push('\n');
        }
        let exit = child.wait().unwrap().code().unwrap_or(-1);
        if self.faults.lose_link_after.is_some_and(|marker| script.contains(marker)) {
            return Err(TransportError::Dropped { endpoint: "alpha".into(), reason: "cut by the test".into() });
        }
        Ok(ScriptOutput { exit, output })
    }

    fn channels_opened(&self) -> usize {
        self.channels
    }
}

/// Runs `task` on the project's server through `connector`; the report and the events.
fn run(project: &Project, connector: Arc<LocalShell>, task: Task) -> (HostReport, Vec<EventKind>) {
    let checked = chaton::pipeline::check(&project.description, None).expect("the description is valid");
    let keys = chaton::pipeline::keys(&checked, chaton::pipeline::KeysFrom::Kept).expect("keys");
    let state_dir = project.state.to_str().unwrap();
    let desired = chaton::pipeline::desired(&checked, state_dir, &keys).expect("resolves");
    let servers = checked.description.hoster.servers.clone();
    let settings = Settings {
        policy: HostKeyPolicy {
            project_known_hosts: project.dir.path().join("known_hosts"),
            user_known_hosts: None,
            accept_new: false,
        },
        timeouts: Timeouts { connect: Duration::from_secs(5), script: Duration::from_secs(60) },
        parallel: 1,
        state_dir: state_dir.to_owned(),
        description_dir: checked.description.dir.clone(),
        servers: servers.clone(),
        replace_keys: false,
        access_watchdog: 600,
        connector,
    };
    let events = Mutex::new(Vec::new());
    let mut reports = engine::run(&desired, &servers, &settings, &task, &|e: Event| {
        events.lock().unwrap().push(e.kind);
    });
    assert_eq!(reports.len(), 1);
    (reports.remove(0), events.into_inner().unwrap())
}

fn apply(project: &Project, faults: Faults) -> (HostReport, Vec<EventKind>, Arc<LocalShell>) {
    let connector = LocalShell::new(faults);
    let (report, events) = run(project, connector.clone(), Task::Apply { expected: None });
    (report, events, connector)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A project whose probe manages an "access" file (as sshd's drop-in would be), with this
/// content; `extra` adds parameters.
fn with_access_file(content: &str, extra: &str) -> Project {
    let project = Project::at_port(22, "", "");
    set_access(&project, content, extra);
    project
}

/// Rewrites the probe's parameters: the access file's content, and `extra`.
fn set_access(project: &Project, content: &str, extra: &str) {
    let text = read(&project.description);
    let start = text.find("    params:\n").unwrap();
    let end = text[start..].find("backups:").unwrap() + start;
    let params = format!(
        "    params:\n      root: {root}\n      access_file: {root}-access.conf\n      access: '{content}'\n{extra}",
        root = project.root.display()
    );
    std::fs::write(&project.description, format!("{}{params}{}", &text[..start], &text[end..])).unwrap();
}

fn access_file(project: &Project) -> std::path::PathBuf {
    Path::new(&format!("{}-access.conf", project.root.display())).to_path_buf()
}

#[test]
fn apply_converges_over_the_local_shell_and_a_second_apply_runs_one_script() {
    let project = Project::at_port(22, "", "");
    let (first, _, connector) = apply(&project, Faults::default());
    let result = first.result.expect("the first apply succeeds");
    assert!(result.applied > 5, "{} change(s) applied", result.applied);
    assert_eq!(result.handlers_run, ["restart app"]);
    assert_eq!(read(&project.root.join("etc/app.conf")), "message = hello\n");
    assert_eq!(read(&project.root.join("restarts")), "restarted\n");
    assert_eq!((connector.logins.load(Ordering::SeqCst), first.channels), (1, 2), "facts, then the apply script");

    let (second, _, connector) = apply(&project, Faults::default());
    let result = second.result.expect("the second apply succeeds");
    assert!(result.plan.as_ref().unwrap().is_empty(), "{:?}", result.plan);
    assert_eq!(result.applied, 0);
    assert_eq!((connector.logins.load(Ordering::SeqCst), second.channels), (1, 1), "the facts script only");
    assert_eq!(read(&project.root.join("restarts")), "restarted\n", "no handler ran again");
}

#[test]
fn a_run_that_changed_access_is_proved_by_a_fresh_login_and_keeps_its_files() {
    let project = with_access_file("AllowUsers first", "");
    let (report, events, connector) = apply(&project, Faults::default());
    report.result.expect("the apply and its proof succeed");
    assert_eq!(connector.logins.load(Ordering::SeqCst), 2, "the run's login, then the proof's");
    assert!(
        events.iter().any(|e| matches!(e, EventKind::Checked { check, ok: true, .. } if check.starts_with("a new SSH login after this run"))),
        "{events:?}"
    );
    assert_eq!(read(&access_file(&project)), "AllowUsers first\n");
    assert!(!project.state.join("access").exists(), "no checked copy or mark left once proved");
}

#[test]
fn a_refused_fresh_login_puts_the_last_checked_access_file_back_and_reloads_it() {
    let project = with_access_file("AllowUsers first", "");
    apply(&project, Faults::default()).0.result.expect("the first apply is proved");
    assert_eq!(read(&project.root.join("reloads")), "reloaded\n");

    set_access(&project, "AllowUsers nobody", "");
    let faults = Faults { refuse_fresh_logins: true, ..Faults::default() };
    let (report, _, connector) = apply(&project, faults);
    match report.result {
        Err(HostError::AccessLost { reason, rolled_back: Restore::Reloaded, .. }) => {
            assert!(reason.contains("refused by the test"), "{reason}");
        }
        other => panic!("expected the access change rolled back, got {other:?}"),
    }
    assert_eq!(connector.logins.load(Ordering::SeqCst), 2);
    assert_eq!(read(&access_file(&project)), "AllowUsers first\n", "the checked file is back");
    assert_eq!(read(&project.root.join("reloads")), "reloaded\nreloaded\nreloaded\n", "the new file, then the old");
    assert!(!project.state.join("access/unchecked").exists(), "nothing left unchecked");

    // The description still asks for the refused file: the next plan says so again.
    let (plan, _) = run(&project, LocalShell::new(Faults::default()), Task::Plan);
    let plan = plan.result.unwrap().plan.unwrap();
    let access = access_file(&project).display().to_string();
    assert!(plan.changes.iter().any(|c| c.change.resource.name == access), "{:?}", plan.changes);
}

#[test]
fn a_link_lost_during_an_access_change_leaves_it_unchecked_for_the_next_run_to_prove() {
    let project = with_access_file("AllowUsers first", "");
    apply(&project, Faults::default()).0.result.expect("the first apply is proved");

    set_access(&project, "AllowUsers second", "");
    // Only the apply script of a run that touches access arms the watchdog.
    let faults = Faults { lose_link_after: Some("arm_access_watchdog"), ..Faults::default() };
    let (report, _, connector) = apply(&project, faults);
    assert!(matches!(report.result, Err(HostError::Transport(TransportError::Dropped { .. }))), "{:?}", report.result);
    assert_eq!(connector.logins.load(Ordering::SeqCst), 1, "no proof tried over a lost link");
    assert_eq!(connector.scripts.load(Ordering::SeqCst), 2, "and no rollback script either");
    assert!(project.state.join("access/unchecked").exists(), "the change is marked unchecked on the server");
    assert_eq!(read(&access_file(&project)), "AllowUsers second\n");

    // The next run sees the mark, has nothing to change, and still proves a new login.
    let (report, events, connector) = apply(&project, Faults::default());
    report.result.expect("the next run proves the change");
    assert_eq!(connector.logins.load(Ordering::SeqCst), 2);
    assert!(events.iter().any(|e| matches!(e, EventKind::Checked { ok: true, .. })), "{events:?}");
    assert!(!project.state.join("access").exists(), "proved: the copies and the mark are gone");
    assert_eq!(read(&access_file(&project)), "AllowUsers second\n");
}
