//! The SSH engine against a real OpenSSH sshd on loopback (see `support`): host keys,
//! authentication, apply and its no-op second run (counted in sshd's own log), stale
//! plans, the lock, the handler journal, timeouts, dropped connections, secrets, and a
//! failing host that leaves the others going.

mod support;

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Project, TestSshd, run};

const CANARY: &str = "CANARY-7f3a9c-SECRET";

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn apply_converges_and_a_second_apply_is_a_no_op_on_one_connection_and_one_channel() {
    let sshd = TestSshd::start();
    let project = Project::new(&sshd, "", "");
    project.trust(&sshd);

    let first = run(project.chaton(&["apply"]));
    assert_eq!(first.code, 0, "{}", first.stderr);
    let conf = project.root.join("etc/app.conf");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "message = hello\n");
    assert_eq!(mode_of(&conf), 0o640);
    assert_eq!(mode_of(&project.root.join("etc")), 0o750);
    assert_eq!(mode_of(&project.root.join("etc/secret.conf")), 0o600);
    assert_eq!(std::fs::metadata(&conf).unwrap().uid(), unsafe_uid());
    assert_eq!(std::fs::read_link(project.root.join("current")).unwrap(), project.root.join("etc"));
    assert!(project.root.join("etc/file-3.txt").exists());
    assert_eq!(std::fs::read_to_string(project.root.join("restarts")).unwrap(), "restarted\n");
    assert!(!project.state.join("handlers").exists(), "journal cleared after the handler ran");
    // No temporary file left behind.
    let leftovers: Vec<_> = std::fs::read_dir(project.root.join("etc"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("chaton-new"))
        .collect();
    assert!(leftovers.is_empty());

    let (connections, channels) = (sshd.connections(), sshd.exec_channels());
    assert_eq!((connections, channels), (1, 2), "first apply: facts + apply script");

    let second = run(project.chaton(&["apply", "--json"]));
    assert_eq!(second.code, 0, "{}", second.stderr);
    let summary: serde_json::Value = serde_json::from_str(second.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["servers"][0]["changes"], 0, "{}", second.stdout);
    assert_eq!(summary["servers"][0]["applied"], 0);
    assert_eq!(summary["servers"][0]["channels"], 1);
    // Counted by sshd itself: one more connection, one more exec channel, nothing else.
    assert_eq!(sshd.connections() - connections, 1);
    assert_eq!(sshd.exec_channels() - channels, 1);
    assert_eq!(std::fs::read_to_string(project.root.join("restarts")).unwrap(), "restarted\n", "no handler re-run");

    let verify = run(project.chaton(&["verify"]));
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    assert!(verify.stderr.contains("ok   `test -f"), "{}", verify.stderr);
    assert!(verify.stderr.contains("verified, 1 check(s) passed"), "{}", verify.stderr);

    // Drift: a changed file is planned with a diff and repaired.
    std::fs::write(&conf, "message = tampered\n").unwrap();
    let plan = run(project.chaton(&["plan", "--detailed-exitcode"]));
    assert_eq!(plan.code, 2, "{}", plan.stderr);
    assert!(plan.stdout.contains("-message = tampered") && plan.stdout.contains("+message = hello"), "{}", plan.stdout);
    assert!(plan.stdout.contains("then restart app"), "{}", plan.stdout);
    let repair = run(project.chaton(&["apply"]));
    assert_eq!(repair.code, 0, "{}", repair.stderr);
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "message = hello\n");
    assert_eq!(std::fs::read_to_string(project.root.join("restarts")).unwrap(), "restarted\nrestarted\n");
}

fn unsafe_uid() -> u32 {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().parse().unwrap()
}

#[test]
fn an_unknown_host_key_is_refused_with_its_fingerprint_and_accept_new_records_it() {
    let sshd = TestSshd::start();
    let project = Project::new(&sshd, "", "");
    let refused = run(project.chaton(&["apply"]));
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("is not known"), "{}", refused.stderr);
    assert!(refused.stderr.contains("SHA256:"), "{}", refused.stderr);
    assert!(refused.stderr.contains("--accept-new"), "{}", refused.stderr);
    assert!(!project.root.exists(), "nothing applied");
    assert_eq!(sshd.exec_channels(), 0, "no command ran on an untrusted host");

    let accepted = run(project.chaton(&["plan", "--accept-new"]));
    assert_eq!(accepted.code, 0, "{}", accepted.stderr);
    let known = std::fs::read_to_string(project.dir.path().join("known_hosts")).unwrap();
    assert_eq!(known.trim(), sshd.known_hosts_line());
    // Trusted from now on, without the flag.
    let again = run(project.chaton(&["plan"]));
    assert_eq!(again.code, 0, "{}", again.stderr);
}

#[test]
fn a_changed_host_key_is_always_refused() {
    let sshd = TestSshd::start();
    let other = TestSshd::start();
    let project = Project::new(&sshd, "", "");
    // known_hosts says this address has another key.
    let wrong = format!("[127.0.0.1]:{} {}\n", sshd.port, other.host_key_line());
    std::fs::write(project.dir.path().join("known_hosts"), wrong).unwrap();
    for args in [&["apply"][..], &["apply", "--accept-new"][..]] {
        let out = run(project.chaton(args));
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("HAS CHANGED"), "{}", out.stderr);
    }
    assert!(!project.root.exists());
    assert_eq!(sshd.exec_channels(), 0);
}

#[test]
fn a_pinned_host_key_is_trusted_and_a_wrong_one_refused() {
    let sshd = TestSshd::start();
    let other = TestSshd::start();
    let pinned = Project::new(&sshd, &format!("    host_key: {}\n", sshd.host_key_line()), "");
    let out = run(pinned.chaton(&["plan"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let wrong = Project::new(&sshd, &format!("    host_key: {}\n", other.host_key_line()), "");
    let out = run(wrong.chaton(&["plan"]));
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("HAS CHANGED") && out.stderr.contains("pinned in the description"), "{}", out.stderr);
}

#[test]
fn ssh_agent_authentication_works_without_key_files() {
    let sshd = TestSshd::start();
    let project = Project::new(&sshd, "", "");
    project.trust(&sshd);
    std::fs::remove_file(project.home.join(".ssh/id_ed25519")).unwrap();
    let without = run(project.chaton(&["plan"]));
    assert_eq!(without.code, 1);
    assert!(without.stderr.contains("cannot log in"), "{}", without.stderr);

    let socket = project.dir.path().join("agent.sock");
    let agent = Command::new("ssh-agent").arg("-a").arg(&socket).output().unwrap();
    assert!(agent.status.success());
    let pid = String::from_utf8_lossy(&agent.stdout)
        .split("SSH_AGENT_PID=")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .unwrap()
        .to_owned();
    let added = Command::new("ssh-add").arg(&sshd.client_key).env("SSH_AUTH_SOCK", &socket).output().unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let mut cmd = project.chaton(&["plan"]);
    cmd.env("SSH_AUTH_SOCK", &socket);
    let with_agent = run(cmd);
    let _ = Command::new("kill").arg(&pid).status();
    assert_eq!(with_agent.code, 0, "{}", with_agent.stderr);
}

#[test]
fn a_script_that_runs_too_long_is_stopped_by_the_timeout() {
    let sshd = TestSshd::start();
    let project = Project::new(&sshd, "", "      pause: '30'\n");
    project.trust(&sshd);
    let start = Instant::now();
    let out = run(project.chaton(&["apply", "--timeout", "2"]));
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("the run's deadline (2 s, --timeout) passed while applying change"), "{}", out.stderr);
    assert!(start.elapsed() < Duration::from_secs(15), "took {:?}", start.elapsed());
}

/// Child processes of `pid`, recursively.
fn descendants(pid: u32) -> Vec<u32> {
    let out = Command::new("pgrep").arg("-P").arg(pid.to_string()).output().unwrap();
    let children: Vec<u32> =
        String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect();
    children.iter().flat_map(|c| std::iter::once(*c).chain(descendants(*c))).collect()
}

#[test]
fn a_dropped_connection_is_an_error_not_a_hang() {
    let sshd = TestSshd::start();
    let project = Project::new(&sshd, "", "      pause: '20'\n");
    project.trust(&sshd);
    let mut child = project.command(&["apply"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // Wait until the apply script is running (app.conf written, then the pause).
    wait_for(|| project.root.join("etc/app.conf").exists());
    let sshd_pid: u32 = std::fs::read_to_string(sshd.dir.path().join("sshd.pid")).unwrap().trim().parse().unwrap();
    for pid in descendants(sshd_pid) {
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
    }
    let start = Instant::now();
    let status = wait_timeout(&mut child, Duration::from_secs(15)).expect("chaton hung after the connection dropped");
    assert_eq!(status.code(), Some(1));
    assert!(start.elapsed() < Duration::from_secs(15));
}

fn wait_for(condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_timeout(child: &mut std::process::Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_saved_plan_is_applied_exactly_and_refused_when_stale() {
    let sshd = TestSshd::start();
    let project = Project::new(&sshd, "", "");
    project.trust(&sshd);
    assert_eq!(run(project.chaton(&["apply"])).code, 0);
    let conf = project.root.join("etc/app.conf");

    // A plan made while app.conf had drifted...
    std::fs::write(&conf, "message = drift one\n").unwrap();
    let saved = project.dir.path().join("plan.json");
    let plan = run(project.chaton(&["plan", "--out", saved.to_str().unwrap()]));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    // ...is refused once the server changed again.
    std::fs::write(&conf, "message = drift two\n").unwrap();
    let stale = run(project.chaton(&["apply", "--plan", saved.to_str().unwrap()]));
    assert_eq!(stale.code, 1);
    assert!(stale.stderr.contains("stale"), "{}", stale.stderr);
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "message = drift two\n", "nothing applied");

    // A fresh saved plan is applied.
    let plan = run(project.chaton(&["plan", "--out", saved.to_str().unwrap()]));
    assert_eq!(plan.code, 0);
    let applied = run(project.chaton(&["apply", "--plan", saved.to_str().unwrap()]));
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "message = hello\n");

    // An offline plan cannot be applied.
    let offline = project.dir.path().join("offline.json");
    assert_eq!(run(project.chaton(&["plan", "--offline", "--out", offline.to_str().unwrap()])).code, 0);
    let refused = run(project.chaton(&["apply", "--plan", offline.to_str().unwrap()]));
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("--offline"), "{}", refused.stderr);
}

#[test]
fn a_second_run_finds_the_lock_and_names_its_holder() {
    let sshd = TestSshd::start();
    // The first run pauses long enough for the second to find the lock however slow the
    // machine, and is stopped once it has.
    let project = Project::new(&sshd, "", "      pause: '60'\n");
    project.trust(&sshd);
    let mut first = project.command(&["apply"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_for(|| project.root.join("etc/app.conf").exists());
    let second = run(project.chaton(&["apply"]));
    assert_eq!(second.code, 1);
    assert!(second.stderr.contains("holds the lock"), "{}", second.stderr);
    assert!(second.stderr.contains(" pid ") && second.stderr.contains(" since "), "{}", second.stderr);
    assert!(first.try_wait().unwrap().is_none(), "the first run still held the lock");
    first.kill().unwrap();
    first.wait().unwrap();
}

#[test]
fn a_run_killed_after_a_config_change_leaves_its_handler_for_the_next_run() {
    let sshd = TestSshd::start();
    let project = Project::new(&sshd, "", "      pause: '3'\n");
    project.trust(&sshd);
    let mut first = project.command(&["apply"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // app.conf (which notifies "restart app") is written, the run is in the pause after it.
    wait_for(|| project.root.join("etc/app.conf").exists());
    first.kill().unwrap();
    first.wait().unwrap();
    // The remote script ends on its own (its output has nowhere to go); wait for the lock.
    wait_for(|| {
        Command::new("flock").arg("-n").arg(project.state.join("lock")).arg("true").status().unwrap().success()
    });
    assert!(!project.root.join("restarts").exists(), "the handler did not run");
    let journal = std::fs::read_to_string(project.state.join("handlers")).unwrap();
    assert_eq!(journal, "restart app\n");

    // The next run restarts, although app.conf is already as desired.
    std::fs::write(project.root.join("no-pause"), "").unwrap();
    let plan = run(project.chaton(&["plan"]));
    assert!(
        plan.stdout.contains("then restart app (left pending by an earlier run that did not finish)"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("etc/app.conf"), "app.conf needs no change: {}", plan.stdout);
    let second = run(project.chaton(&["apply"]));
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(std::fs::read_to_string(project.root.join("restarts")).unwrap(), "restarted\n");
    assert!(!project.state.join("handlers").exists());
}

#[test]
fn the_canary_secret_appears_in_no_output() {
    let sshd = TestSshd::start();
    let project = Project::new(&sshd, "", "");
    project.trust(&sshd);
    let saved = project.dir.path().join("plan.json");
    let mut outputs = Vec::new();
    let first = run(project.chaton(&["apply", "--json"]));
    assert_eq!(first.code, 0, "{}", first.stderr);
    outputs.push(("first apply".to_owned(), first.stdout, first.stderr));
    // The generated secret: on the server only, 0600 in a 0700 folder, filled into db.conf.
    let secret_file = project.state.join("secrets/probe/password");
    let generated = std::fs::read_to_string(&secret_file).unwrap();
    assert_eq!(generated.len(), 40);
    assert_eq!(mode_of(&secret_file), 0o600);
    assert_eq!(mode_of(&project.state.join("secrets/probe")), 0o700);
    assert_eq!(
        std::fs::read_to_string(project.root.join("etc/db.conf")).unwrap(),
        format!("user = probe\npassword = {generated}\n")
    );
    for args in [
        &["plan", "--offline", "--diff", "--explain"][..],
        &["plan", "--offline", "--json"][..],
        &["plan", "--diff", "--explain", "--out", saved.to_str().unwrap()][..],
        &["plan", "--json"][..],
        &["apply", "--json"][..],
        &["verify"][..],
        &["verify", "--json"][..],
        &["facts", "alpha"][..],
    ] {
        let out = run(project.chaton(args));
        outputs.push((args.join(" "), out.stdout, out.stderr));
    }
    // The secret file's content drifts: the plan and apply run again with it changed.
    std::fs::write(project.root.join("etc/secret.conf"), "password = old-value\n").unwrap();
    for args in [&["plan", "--diff", "--explain"][..], &["apply"][..]] {
        let out = run(project.chaton(args));
        outputs.push((args.join(" "), out.stdout, out.stderr));
    }
    // A failing run's error message.
    std::fs::remove_dir_all(project.root.join("etc")).unwrap();
    std::fs::write(project.root.join("etc"), "a file where a directory should be").unwrap();
    let failing = run(project.chaton(&["apply"]));
    assert_eq!(failing.code, 1);
    outputs.push(("failing apply".into(), failing.stdout, failing.stderr));
    outputs.push(("saved plan".into(), std::fs::read_to_string(&saved).unwrap(), String::new()));
    outputs.push(("sshd log".into(), sshd.log_text(), String::new()));
    for (what, stdout, stderr) in &outputs {
        assert!(!stdout.contains(CANARY) && !stderr.contains(CANARY), "canary leaked in `{what}`");
        // The secret generated on the server, which chaton never knows, never shows either.
        assert!(
            !stdout.contains(generated.trim()) && !stderr.contains(generated.trim()),
            "generated secret in `{what}`"
        );
        assert!(
            !stdout.contains("old-value") && !stderr.contains("old-value"),
            "secret file content leaked in `{what}`"
        );
    }
}

#[test]
fn a_failing_host_does_not_stop_the_others_and_the_exit_code_says_so() {
    let sshd = TestSshd::start();
    let project = Project::new(&sshd, "", "");
    project.trust(&sshd);
    // A second server on a closed loopback port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let text = std::fs::read_to_string(&project.description).unwrap();
    let beta = format!(
        "  - name: beta\n    address: 127.0.0.1\n    port: {closed}\n    ssh_user: root\n    provider:\n      name: P\n      type: home\n      country: FR\n    control: owned\nservices:\n"
    );
    std::fs::write(&project.description, text.replacen("services:\n", &beta, 1)).unwrap();
    let out = run(project.chaton(&["apply", "--connect-timeout", "3"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("alpha: ok"), "{}", out.stderr);
    assert!(out.stderr.contains("beta: FAILED: cannot connect"), "{}", out.stderr);
    assert!(out.stderr.contains("1 of 2 server(s) failed: beta"), "{}", out.stderr);
    assert!(project.root.join("etc/app.conf").exists(), "alpha was applied");
}

#[test]
fn a_change_that_locks_chaton_out_is_rolled_back_through_the_open_session() {
    // The probe manages the file sshd reads at each login: its authorized_keys. Writing one
    // without our key stands for an sshd or firewall change that locks chaton out.
    let sshd = TestSshd::start();
    let access = sshd.dir.path().join("authorized_keys");
    let original = std::fs::read_to_string(&access).unwrap();
    let params = format!("      access_file: {}\n      access: '# no key here'\n", access.display());
    let project = Project::new(&sshd, "", &params);
    project.trust(&sshd);
    let out = run(project.chaton(&["apply"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("a new SSH login failed"), "{}", out.stderr);
    assert!(out.stderr.contains("were put back and reloaded"), "{}", out.stderr);
    assert!(!project.state.join("access").exists(), "no copy or mark left once put back");
    assert_eq!(std::fs::read_to_string(&access).unwrap(), original, "the previous file is back");
    // chaton can still log in, and says what the next run would do again.
    let plan = run(project.chaton(&["plan"]));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains(&format!("~ file {}", access.display())), "{}", plan.stdout);
}

/// A test sshd that reads `access.conf` (absent at first) only when it reloads, as a server
/// reads its sshd drop-in; the probe's access file is that file, and reloading is SIGHUP.
fn sshd_with_an_access_drop_in(
    denied: &str,
    extra_params: &str,
) -> (TestSshd, tempfile::TempDir, std::path::PathBuf, Project) {
    let conf_dir = tempfile::tempdir().unwrap();
    let drop_in = conf_dir.path().join("access.conf");
    let sshd = TestSshd::start_with(&format!("Include {}", drop_in.display()));
    let params = format!(
        "      access_file: {}\n      access: 'DenyUsers {denied}'\n      sshd_pid_file: {}\n{extra_params}",
        drop_in.display(),
        sshd.dir.path().join("sshd.pid").display()
    );
    let project = Project::new(&sshd, "", &params);
    project.trust(&sshd);
    (sshd, conf_dir, drop_in, project)
}

#[test]
fn a_run_that_fails_after_an_access_change_puts_the_checked_file_back_at_once() {
    // The drop-in would lock chaton out once reloaded; the run fails before its reload.
    let (_sshd, _conf, drop_in, project) =
        sshd_with_an_access_drop_in(&support::user(), "      fail_after_access: 'yes'\n");
    let out = run(project.chaton(&["apply"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("failed"), "{}", out.stderr);
    assert!(out.stderr.contains("were put back and reloaded"), "{}", out.stderr);
    assert!(!drop_in.exists(), "the drop-in did not exist before the run: it is gone again");
    assert!(!project.state.join("access").exists());
    let plan = run(project.chaton(&["plan"]));
    assert_eq!(plan.code, 0, "chaton can still log in: {}", plan.stderr);
    assert!(plan.stdout.contains(&format!("+ file {}", drop_in.display())), "{}", plan.stdout);
}

#[test]
fn a_run_killed_after_an_access_change_is_proved_by_the_next_run_and_rolled_back() {
    let (_sshd, _conf, drop_in, project) = sshd_with_an_access_drop_in(&support::user(), "      pause: '3'\n");
    let mut first = project.command(&["apply"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // The drop-in is written (not reloaded yet); the run is in the pause after it.
    wait_for(|| drop_in.exists());
    first.kill().unwrap();
    first.wait().unwrap();
    wait_for(|| {
        Command::new("flock").arg("-n").arg(project.state.join("lock")).arg("true").status().unwrap().success()
    });
    assert!(project.state.join("access/unchecked").exists(), "the run left its access change unchecked");
    assert!(std::fs::read_to_string(project.state.join("handlers")).unwrap().contains("reload access"));

    // verify and plan say so.
    std::fs::write(project.root.join("no-pause"), "").unwrap();
    let verify = run(project.chaton(&["verify"]));
    assert_eq!(verify.code, 1, "{}", verify.stderr);
    assert!(verify.stderr.contains("ended before a new login proved it"), "{}", verify.stderr);
    let plan = run(project.chaton(&["plan"]));
    assert!(plan.stdout.contains("then reload access (left pending"), "{}", plan.stdout);
    assert!(plan.stdout.contains("then a new SSH login, or the last checked"), "{}", plan.stdout);
    assert!(plan.stdout.contains("an earlier run changed them"), "{}", plan.stdout);

    // The next run owes the reload. Without a login check it would report success, and the
    // run after it would be locked out; it proves a login and puts the checked state back.
    let second = run(project.chaton(&["apply"]));
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert!(second.stderr.contains("a new SSH login failed"), "{}", second.stderr);
    assert!(second.stderr.contains("were put back and reloaded"), "{}", second.stderr);
    assert!(!drop_in.exists());
    assert!(!project.state.join("access").exists());
    let third = run(project.chaton(&["plan"]));
    assert_eq!(third.code, 0, "chaton can still log in: {}", third.stderr);
}

#[test]
fn a_run_that_only_reloads_access_still_proves_a_login() {
    // A harmless drop-in: the login check runs and passes, and the copies go.
    let (sshd, _conf, drop_in, project) = sshd_with_an_access_drop_in("nobody", "");
    let out = run(project.chaton(&["apply"]));
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, sshd.log_text());
    assert!(out.stderr.contains("ok   a new SSH login after this run"), "{}", out.stderr);
    assert!(drop_in.exists());
    assert!(!project.state.join("access").exists(), "proved: no copy kept");
    let again = run(project.chaton(&["apply"]));
    assert!(!again.stderr.contains("a new SSH login"), "a no-op touches nothing: {}", again.stderr);
}

#[test]
fn a_server_behind_a_jump_host_is_reached_through_it() {
    let target = TestSshd::start();
    let gate = TestSshd::start();
    // Both servers accept the same client key.
    std::fs::copy(target.client_key.with_extension("pub"), gate.dir.path().join("authorized_keys")).unwrap();
    let project = Project::new(&target, "    proxy_jump: gate\n", "");
    let user = support::user();
    let text = std::fs::read_to_string(&project.description).unwrap();
    let gate_entry = format!(
        "  - name: gate\n    address: 127.0.0.1\n    port: {}\n    ssh_user: {user}\n    provider:\n      name: P\n      type: outsourced\n      country: FR\n    control: vps\nservices:\n",
        gate.port
    );
    std::fs::write(&project.description, text.replacen("services:\n", &gate_entry, 1)).unwrap();
    // The gate's own key is checked too: another key recorded for it is a changed key.
    let target_key = target.known_hosts_line().split_once(' ').unwrap().1.to_owned();
    let wrong_gate = format!("[127.0.0.1]:{} {target_key}", gate.port);
    std::fs::write(project.dir.path().join("known_hosts"), format!("{}\n{wrong_gate}\n", target.known_hosts_line()))
        .unwrap();
    let refused = run(project.chaton(&["apply", "--server", "alpha"]));
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("THE HOST KEY OF gate"), "{}", refused.stderr);
    assert!(!project.root.join("etc").exists(), "nothing was applied through a gate with a changed key");
    std::fs::write(
        project.dir.path().join("known_hosts"),
        format!("{}\n{}\n", target.known_hosts_line(), gate.known_hosts_line()),
    )
    .unwrap();

    let before = gate.connections();
    let out = run(project.chaton(&["apply", "--server", "alpha"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(project.root.join("etc/app.conf").exists());
    // The gate carried the connection: one login, and the scripts' bytes went through it.
    // sshd logs what it carried when the connection closes, which may be just after chaton exits.
    let waited = std::time::Instant::now();
    let mut gate_log = gate.log_text();
    while !gate_log.contains("Transferred: sent ") && waited.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(50));
        gate_log = gate.log_text();
    }
    assert_eq!(gate.connections() - before, 1, "{gate_log}");
    let received: usize = gate_log
        .lines()
        .find_map(|l| l.strip_prefix("Transferred: sent ").and_then(|r| r.split("received ").nth(1)))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(received > 4000, "the gate carried only {received} bytes: {gate_log}");
    assert_eq!(gate.exec_channels(), 0, "nothing ran on the gate");
    assert_eq!(target.exec_channels(), 2);
}

#[test]
fn host_key_refusals_speak_french_when_asked() {
    let sshd = TestSshd::start();
    let project = Project::new(&sshd, "", "");
    let mut cmd = project.chaton(&["plan"]);
    cmd.env_remove("LC_ALL").env("LANG", "fr_FR.UTF-8");
    let out = run(cmd);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("la clé d'hôte de alpha"), "{}", out.stderr);
    assert!(out.stderr.contains("est inconnue"), "{}", out.stderr);
    assert!(out.stderr.contains("serveur(s) sur 1 en échec : alpha"), "{}", out.stderr);

    let other = TestSshd::start();
    std::fs::write(
        project.dir.path().join("known_hosts"),
        format!("[127.0.0.1]:{} {}\n", sshd.port, other.host_key_line()),
    )
    .unwrap();
    let mut cmd = project.chaton(&["plan", "--lang", "fr"]);
    cmd.env_remove("LC_ALL");
    let out = run(cmd);
    assert!(out.stderr.contains("ATTENTION : LA CLÉ D'HÔTE DE alpha"), "{}", out.stderr);
}

#[test]
fn a_failing_command_whose_output_has_no_final_newline_is_reported_with_its_last_words() {
    // PHP's exceptions end without a newline: the failure record is glued to them.
    let sshd = TestSshd::start();
    let project = Project::new(&sshd, "", "      pause: '1'\n");
    let recipe = project.dir.path().join("local/recipes/probe.yml");
    let text = std::fs::read_to_string(&recipe).unwrap();
    let failing = text.replace(
        "run: [sleep, \"{{ params.pause }}\"]",
        "run: [sh, -c, \"echo first line; printf '#30 {main} thrown'; exit 3\"]",
    );
    assert_ne!(failing, text);
    std::fs::write(&recipe, failing).unwrap();
    project.trust(&sshd);
    let out = run(project.chaton(&["apply"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("alpha: FAILED: change") && out.stderr.contains("(command sh -c"), "{}", out.stderr);
    assert!(out.stderr.contains("exit status 3"), "{}", out.stderr);
    assert!(out.stderr.contains("first line\n") && out.stderr.contains("#30 {main} thrown"), "{}", out.stderr);
    assert!(!out.stderr.contains("stopped unexpectedly") && !out.stderr.contains("CHATON"), "{}", out.stderr);
}

/// How many times the probe recipe's `explain` line ran: it adds a line to a file next to
/// the project's managed root each time (tests/support).
fn times_explained(project: &Project) -> usize {
    std::fs::read_to_string(format!("{}-explained", project.root.display())).unwrap_or_default().lines().count()
}

/// A command's `explain` is shown under it in the plan (its first line), asked only while
/// the command is to run: a converged server is not asked again.
#[test]
fn a_command_says_in_the_plan_what_it_will_do_and_is_not_asked_once_done() {
    let sshd = TestSshd::start();
    let project = Project::new(&sshd, "", "");
    project.trust(&sshd);
    let asked = || times_explained(&project);
    let plan = run(project.chaton(&["plan"]));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains("initialised  [probe]\n      2 thing(s) to initialise\n"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("second line"), "{}", plan.stdout);
    assert_eq!(asked(), 1);
    let json = run(project.chaton(&["plan", "--json"]));
    assert!(json.stdout.contains("\"note\": \"2 thing(s) to initialise\""), "{}", json.stdout);
    // A saved plan's apply gathers the same facts again, to refuse a stale plan.
    let saved = project.dir.path().join("plan.json");
    let out = run(project.chaton(&["plan", "--out", saved.to_str().unwrap()]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(asked(), 3);
    let apply = run(project.chaton(&["apply", "--plan", saved.to_str().unwrap()]));
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert_eq!(asked(), 4);
    let again = run(project.chaton(&["plan"]));
    assert!(!again.stdout.contains("to initialise"), "{}", again.stdout);
    assert_eq!(asked(), 4, "asked again on a converged server");
}

/// An apply shows no plan: it does not run what only a plan's reader is told.
#[test]
fn an_apply_without_a_saved_plan_does_not_ask_what_only_the_plan_shows() {
    let sshd = TestSshd::start();
    let project = Project::new(&sshd, "", "");
    project.trust(&sshd);
    let asked = || times_explained(&project);
    let apply = run(project.chaton(&["apply"]));
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert_eq!(asked(), 0, "the apply ran the explain line");
    let again = run(project.chaton(&["plan"]));
    assert!(!again.stdout.contains("to initialise"), "{}", again.stdout);
    assert_eq!(asked(), 0);
}

/// A known_hosts with a line chaton cannot read, and the host recorded with another key.
fn known_hosts_variants(sshd: &TestSshd, other: &TestSshd) -> Vec<(&'static str, String)> {
    let wrong = format!("[127.0.0.1]:{} {}", sshd.port, other.host_key_line());
    let truncated = &wrong[..wrong.len() / 2];
    let long = format!("[10.9.9.9]:22 ssh-ed25519 {}", "A".repeat(6000));
    // `ssh-keygen -H` hashes the host names of a file in place.
    let dir = tempfile::tempdir().unwrap();
    let hashed_file = dir.path().join("known_hosts");
    std::fs::write(&hashed_file, format!("{wrong}\n")).unwrap();
    let status = Command::new("ssh-keygen").arg("-H").arg("-f").arg(&hashed_file).output().unwrap();
    assert!(status.status.success(), "{status:?}");
    let hashed = std::fs::read_to_string(&hashed_file).unwrap();
    assert!(hashed.starts_with("|1|"), "{hashed}");
    vec![
        ("truncated line", format!("{truncated}\n{wrong}\n")),
        ("long line", format!("{long}\n{wrong}\n")),
        ("garbage", format!("\u{1b}]0;title\u{7} \0\u{ff}garbage\n{wrong}\n")),
        ("hashed", hashed),
        ("CRLF", format!("{wrong}\r\n")),
        ("marker", format!("@cert-authority *.example.org {}\n{wrong}\n", other.host_key_line())),
        ("wildcard", format!("[127.0.0.?]:{} {}\n", sshd.port, other.host_key_line())),
        ("other key type", format!("[127.0.0.1]:{} ssh-rsa {}\n", sshd.port, rsa_blob())),
    ]
}

/// A well-formed ssh-rsa public key blob (type, exponent, modulus), base64.
fn rsa_blob() -> String {
    use base64::Engine as _;
    let mut blob = Vec::new();
    for part in [&b"ssh-rsa"[..], &[1, 0, 1], &[0xc5; 257]] {
        blob.extend_from_slice(&(part.len() as u32).to_be_bytes());
        blob.extend_from_slice(part);
    }
    base64::engine::general_purpose::STANDARD.encode(blob)
}

#[test]
fn a_changed_host_key_is_refused_whatever_else_known_hosts_holds() {
    let sshd = TestSshd::start();
    let other = TestSshd::start();
    for (variant, text) in known_hosts_variants(&sshd, &other) {
        let project = Project::new(&sshd, "", "");
        std::fs::write(project.dir.path().join("known_hosts"), &text).unwrap();
        let out = run(project.chaton(&["apply", "--accept-new"]));
        assert_eq!(out.code, 1, "{variant}: {}", out.stderr);
        assert!(out.stderr.contains("HAS CHANGED"), "{variant}: {}", out.stderr);
        assert!(!out.stderr.contains("run again with --accept-new"), "{variant}: {}", out.stderr);
        assert_eq!(std::fs::read_to_string(project.dir.path().join("known_hosts")).unwrap(), text, "{variant}");
        assert!(!project.root.exists(), "{variant}: nothing applied");
        // The same in the user's own known_hosts.
        let project = Project::new(&sshd, "", "");
        std::fs::write(project.home.join(".ssh/known_hosts"), &text).unwrap();
        let out = run(project.chaton(&["plan", "--accept-new"]));
        assert!(out.code == 1 && out.stderr.contains("HAS CHANGED"), "{variant} (~/.ssh): {}", out.stderr);
    }
    assert_eq!(sshd.exec_channels(), 0, "no command ran");
}

#[test]
fn the_right_key_is_found_past_unreadable_lines_and_a_revoked_one_refused() {
    let sshd = TestSshd::start();
    let right = sshd.known_hosts_line();
    let long = format!("[10.9.9.9]:22 ssh-ed25519 {}", "A".repeat(6000));
    for (variant, text) in [
        ("long line first", format!("{long}\n{right}\n")),
        ("truncated line first", format!("{}\n{right}\r\n", &right[..20])),
    ] {
        let project = Project::new(&sshd, "", "");
        std::fs::write(project.dir.path().join("known_hosts"), &text).unwrap();
        let out = run(project.chaton(&["plan"]));
        assert_eq!(out.code, 0, "{variant}: {}", out.stderr);
    }
    let project = Project::new(&sshd, "", "");
    let revoked = format!("@revoked * {}\n{right}\n", sshd.host_key_line());
    std::fs::write(project.dir.path().join("known_hosts"), revoked).unwrap();
    let out = run(project.chaton(&["plan", "--accept-new"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("is REVOKED"), "{}", out.stderr);
}

#[test]
fn a_named_ssh_key_that_does_not_exist_is_named_in_the_login_error() {
    let sshd = TestSshd::start();
    let project = Project::new(&sshd, "    ssh_key: keys/gone\n", "");
    project.trust(&sshd);
    // The test key is elsewhere: ~/.ssh/id_ed25519 would log in; hide it.
    std::fs::remove_file(project.home.join(".ssh/id_ed25519")).unwrap();
    let out = run(project.chaton(&["plan"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let missing = project.dir.path().join("keys/gone");
    assert!(out.stderr.contains(&format!("{}: no such file", missing.display())), "{}", out.stderr);
}

#[test]
fn what_leaves_the_description_leaves_the_server_and_a_second_apply_is_a_no_op() {
    let sshd = TestSshd::start();
    let project = Project::new(&sshd, "", "");
    project.trust(&sshd);
    assert_eq!(run(project.chaton(&["apply"])).code, 0);
    let record = std::fs::read_to_string(project.state.join("managed")).unwrap();
    assert!(record.contains(&format!("file\t{}\tprobe", project.root.join("etc/file-3.txt").display())), "{record}");

    // Two of the numbered files leave the description.
    let text = std::fs::read_to_string(&project.description).unwrap();
    let text = text.replacen("    params:\n", "    params:\n      numbers: ['1']\n", 1);
    std::fs::write(&project.description, text).unwrap();
    let plan = run(project.chaton(&["plan", "--explain"]));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    for gone in ["file-2.txt", "file-3.txt"] {
        let line = format!("- file {}", project.root.join("etc").join(gone).display());
        assert!(plan.stdout.contains(&line), "{}", plan.stdout);
    }
    assert!(plan.stdout.contains("why: probe is no longer in the description"), "{}", plan.stdout);
    assert!(
        !plan.stdout.contains(&format!("- file {}", project.root.join("etc/file-1.txt").display())),
        "{}",
        plan.stdout
    );

    let apply = run(project.chaton(&["apply"]));
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(project.root.join("etc/file-1.txt").exists());
    assert!(!project.root.join("etc/file-2.txt").exists() && !project.root.join("etc/file-3.txt").exists());
    let record = std::fs::read_to_string(project.state.join("managed")).unwrap();
    assert!(!record.contains("file-3.txt"), "the record forgets what was removed: {record}");

    let again = run(project.chaton(&["apply", "--json"]));
    assert_eq!(again.code, 0, "{}", again.stderr);
    let summary: serde_json::Value = serde_json::from_str(again.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["servers"][0]["changes"], 0, "{}", again.stdout);
    assert_eq!(summary["servers"][0]["channels"], 1);
    assert_eq!(run(project.chaton(&["verify"])).code, 0);
}

#[test]
fn a_file_in_a_folder_that_does_not_exist_is_refused_before_anything_changes() {
    let sshd = TestSshd::start();
    let project = Project::new(&sshd, "", "");
    project.trust(&sshd);
    assert_eq!(run(project.chaton(&["apply"])).code, 0);
    // A change the same run would make, to see that it is not made.
    std::fs::write(project.root.join("etc/app.conf"), "message = tampered\n").unwrap();
    let typo = project.root.join("no-such-folder/app.conf");
    let files = format!(
        "    files:\n      - path: {}\n        content: \"x\\n\"\n        owner: {user}\n        group: {user}\n        mode: \"0644\"\n",
        typo.display(),
        user = support::user()
    );
    let text = std::fs::read_to_string(&project.description).unwrap();
    std::fs::write(&project.description, text.replacen("    provider:\n", &format!("{files}    provider:\n"), 1))
        .unwrap();
    for command in ["plan", "apply"] {
        let out = run(project.chaton(&[command]));
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(
            out.stderr.contains(&format!(
                "{} would go in {}",
                typo.display(),
                project.root.join("no-such-folder").display()
            )),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("nothing was changed"), "{}", out.stderr);
    }
    assert!(!project.root.join("no-such-folder").exists());
    let conf = std::fs::read_to_string(project.root.join("etc/app.conf")).unwrap();
    assert_eq!(conf, "message = tampered\n", "nothing of the plan was applied");
    assert!(!project.state.join("lock.holder").exists());
}
