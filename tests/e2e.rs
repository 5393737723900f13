//! End to end on real Debian servers (the lab: systemd-nspawn hosts, see `src/lab`):
//! converge → a second apply that changes nothing and runs nothing → verify → checks from
//! outside the host → teardown, on Debian 12 and 13; a deliberately non-idempotent recipe
//! must be caught; one host cut off mid-run must not stop the others.
//!
//! Needs root, debootstrap, systemd-container, tinyproxy: `.ci/run` installs them and runs
//! `cargo test --test e2e -- --ignored --test-threads=1`. By hand: `sudo -E cargo test --test
//! e2e -- --ignored --test-threads=1`.

use std::io::{BufRead as _, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chaton::description::model::Distribution;
use chaton::lab::{self, HostSpec, LabState};

/// One lab at a time.
static LAB: Mutex<()> = Mutex::new(());

/// Tears the lab down when the test ends, passed or failed.
struct Guard {
    state: LabState,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Err(e) = lab::down(&self.state) {
            eprintln!("teardown: {e}");
        }
    }
}

fn lab_up(dir: &Path, hosts: &[(&str, Distribution)]) -> Guard {
    let config = lab::Config {
        dir: dir.to_path_buf(),
        hosts: hosts.iter().map(|(n, d)| HostSpec { name: (*n).into(), distribution: *d }).collect(),
        cache: PathBuf::from(lab::DEFAULT_CACHE),
    };
    let state = lab::up(&config, &|step, took| eprintln!("lab: {step}: {:.1} s", took.as_secs_f64())).expect("lab up");
    Guard { state }
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn chaton(args: &[&str]) -> Out {
    let out = Command::new(assert_cmd::cargo::cargo_bin("chaton"))
        .args(args)
        .env_remove("SSH_AUTH_SOCK")
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs a command on a lab host with the system's OpenSSH client.
fn ssh(state: &LabState, host: &str, command: &str) -> String {
    let address = &state.host(host).unwrap().address;
    let out = Command::new("ssh")
        .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-i"])
        .arg(&state.key)
        .arg(format!("root@{address}"))
        .arg(command)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The summary line of `apply --json`: per server, planned changes, applied changes and
/// exec channels. The idempotence rule of the suite lives here.
fn idempotence(summary_stdout: &str) -> Result<(), String> {
    let summary: serde_json::Value =
        serde_json::from_str(summary_stdout.lines().last().ok_or("no output")?).map_err(|e| e.to_string())?;
    for server in summary["servers"].as_array().ok_or("no servers")? {
        let name = server["server"].as_str().unwrap_or("?");
        if server["ok"] != true {
            return Err(format!("{name}: {}", server["error"]));
        }
        if server["changes"] != 0 || server["applied"] != 0 {
            return Err(format!("{name}: a second apply still planned {} change(s)", server["changes"]));
        }
        if server["channels"] != 1 {
            return Err(format!("{name}: a no-op apply used {} exec channels, not 1", server["channels"]));
        }
    }
    Ok(())
}

/// Adds `extra` under every server of the description (after its `distribution:` line).
fn add_to_servers(description: &Path, extra: &str) {
    let text = std::fs::read_to_string(description).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(line);
        out.push('\n');
        if line.starts_with("    distribution: ") {
            out.push_str(extra);
        }
    }
    std::fs::write(description, out).unwrap();
}

/// A plain HTTP/1.1 GET to `address` for the virtual host `host`: the whole answer.
fn http_get(address: &str, host: &str, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream =
        TcpStream::connect_timeout(&format!("{address}:80").parse().unwrap(), Duration::from_secs(5)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

fn port_answers(address: &str, port: u16) -> bool {
    TcpStream::connect_timeout(&format!("{address}:{port}").parse().unwrap(), Duration::from_secs(3)).is_ok()
}

fn nothing_left_behind(state: &LabState) {
    let netns =
        String::from_utf8_lossy(&Command::new("ip").args(["netns", "list"]).output().unwrap().stdout).into_owned();
    for host in &state.hosts {
        assert!(!netns.contains(&host.netns), "namespace {} left behind", host.netns);
        assert!(!Path::new(&format!("/proc/{}", host.pid.unwrap())).exists(), "nspawn of {} still running", host.name);
    }
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(!mounts.contains(&state.dir.display().to_string()), "a mount is left under {}", state.dir.display());
    let links = String::from_utf8_lossy(&Command::new("ip").args(["-o", "link"]).output().unwrap().stdout).into_owned();
    assert!(!links.contains(&format!(": {}:", state.bridge)), "bridge left behind");
}

#[test]
#[ignore = "needs root and the lab's packages: run by .ci/run with --ignored"]
fn base_and_website_converge_idempotently_and_verify_on_debian_12_and_13() {
    let _one = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let guard = lab_up(dir.path(), &[("d12", Distribution::Debian12), ("d13", Distribution::Debian13)]);
    let state = guard.state.clone();
    let description = lab::write_description(&state).unwrap();
    // nginx also listens on 8081, which no service declares: the firewall must hide it.
    add_to_servers(
        &description,
        "    files:\n      - path: /etc/nginx/conf.d/undeclared.conf\n        content: \"server { listen 8081; return 204; }\\n\"\n        mode: \"0644\"\n",
    );
    // d12's website publishes the charter pages.
    let text = std::fs::read_to_string(&description).unwrap();
    let text = text.replace(
        "  - name: site-d12\n    recipe: website\n    server: d12\n    domain: d12.lab.test\n",
        "  - name: site-d12\n    recipe: website\n    server: d12\n    domain: d12.lab.test\n    params:\n      charter_site: true\n",
    );
    std::fs::write(&description, format!("{text}site:\n  updated: 2026-11-25\n")).unwrap();
    let file = description.to_str().unwrap();

    let start = Instant::now();
    let converge = chaton(&["apply", file]);
    assert_eq!(converge.code, 0, "converge failed:\n{}", converge.stderr);
    eprintln!("converge: {:.1} s", start.elapsed().as_secs_f64());

    let start = Instant::now();
    let second = chaton(&["apply", file, "--json"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    idempotence(&second.stdout).unwrap();
    eprintln!("no-op apply: {:.2} s", start.elapsed().as_secs_f64());

    let verify = chaton(&["verify", file]);
    assert_eq!(verify.code, 0, "verify failed:\n{}", verify.stderr);
    assert!(verify.stderr.contains("[d12] verified") && verify.stderr.contains("[d13] verified"), "{}", verify.stderr);
    assert!(
        verify.stderr.contains("https://d12.lab.test/ answers 200: answered 200 over TLSv1.3"),
        "{}",
        verify.stderr
    );

    for host in ["d12", "d13"] {
        let address = &state.host(host).unwrap().address;
        // Ports open and closed as the firewall says.
        assert!(port_answers(address, 22), "{host}: ssh closed");
        assert!(port_answers(address, 80), "{host}: http closed");
        assert!(
            ssh(&state, host, "ss -Hltn 'sport = :8081'").contains("8081"),
            "{host}: nginx does not listen on 8081"
        );
        assert!(!port_answers(address, 8081), "{host}: 8081 is not declared but answers");
        assert!(port_answers(address, 443), "{host}: https closed");
        // Plain HTTP sends visitors to HTTPS (the ACME challenges aside).
        let plain = http_get(address, &format!("{host}.lab.test"), "/fr/services.html");
        assert!(plain.starts_with("HTTP/1.1 301"), "{plain}");
        assert!(plain.contains(&format!("Location: https://{host}.lab.test/fr/services.html")), "{plain}");
        // The certificate was issued by the lab's ACME CA (pebble) over real ACME, and
        // TLS 1.2 and 1.3 are the only versions offered.
        let ca = state.dir.join("acme-trust.pem");
        std::fs::write(&ca, &state.acme.as_ref().unwrap().ca_certificate).unwrap();
        let tls = |version: &str| {
            let out = Command::new("openssl")
                .args(["s_client", "-connect", &format!("{address}:443"), "-servername", &format!("{host}.lab.test")])
                .args(["-verify_return_error", "-verify_hostname", &format!("{host}.lab.test"), "-CAfile"])
                .arg(&ca)
                .arg(version)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
        };
        for old in ["-tls1", "-tls1_1"] {
            assert!(!tls(old).0, "{host}: {old} is accepted");
        }
        for current in ["-tls1_2", "-tls1_3"] {
            let (ok, out) = tls(current);
            assert!(ok, "{host}: {current} refused or certificate not trusted:\n{out}");
            assert!(out.contains("Verify return code: 0 (ok)") && out.contains("Pebble Intermediate CA"), "{out}");
        }
        // The charter site is served on d12's domain (from outside, through the firewall).
        if host == "d12" {
            let ca = &state.acme.as_ref().unwrap().ca_certificate;
            let get = |path: &str| {
                let answer = chaton::http::get(
                    address,
                    &format!("https://d12.lab.test{path}"),
                    Some(ca),
                    Duration::from_secs(10),
                )
                .unwrap();
                (answer.status, String::from_utf8_lossy(&answer.body).into_owned())
            };
            let (status, page) = get("/fr/services.html");
            assert_eq!(status, 200, "{page}");
            assert!(page.contains("<h1>Services</h1>") && page.contains("BSD-2-Clause"), "{page}");
            let (_, info) = get("/chatonsinfos/organization.properties");
            assert!(info.contains("file.protocol = ChatonsInfos-0.1"), "{info}");
        }
        // SSH: no password login.
        let sshd = ssh(&state, host, "sshd -T");
        assert!(sshd.contains("passwordauthentication no"), "{host}: {sshd}");
        assert!(sshd.contains("kbdinteractiveauthentication no"), "{host}");
        // Security updates install themselves.
        assert_eq!(ssh(&state, host, "systemctl is-enabled apt-daily-upgrade.timer").trim(), "enabled", "{host}");
        assert!(ssh(&state, host, "apt-config dump APT::Periodic::Unattended-Upgrade").contains("\"1\""), "{host}");
        // The admin exists with their key and sudo.
        assert!(ssh(&state, host, "id labadmin").contains("(sudo)"), "{host}");
    }

    // chaton now logs in as the admin, through sudo: root logins are switched off.
    let text = std::fs::read_to_string(&description).unwrap();
    std::fs::write(&description, text.replace("    ssh_user: root\n", "    ssh_user: labadmin\n")).unwrap();
    let switch = chaton(&["apply", file]);
    assert_eq!(switch.code, 0, "apply as the admin failed:\n{}", switch.stderr);
    assert!(
        switch.stderr.contains("a new SSH login after changing /etc/ssh/sshd_config.d/chaton.conf: works"),
        "{}",
        switch.stderr
    );
    let again = chaton(&["apply", file, "--json"]);
    idempotence(&again.stdout).unwrap();
    for host in ["d12", "d13"] {
        let root = Command::new("ssh")
            .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-i"])
            .arg(&state.key)
            .arg(format!("root@{}", state.host(host).unwrap().address))
            .arg("true")
            .output()
            .unwrap();
        assert!(!root.status.success(), "{host}: root can still log in");
    }

    // A recipe that never converges is caught by the idempotence rule.
    let local = state.dir.join("local/recipes");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(
        local.join("flappy.yml"),
        "name: flappy
summary: {en: Never converges, fr: Ne converge jamais}
kind: service
software: {name: flappy, version: '1', licence: MIT, website: https://example.org, source: https://example.org, install: distribution}
data:
  personal: {en: none, fr: aucune}
  log_retention_days: 0
resources:
  - command:
      run: [date]
      unless: ['false']
",
    )
    .unwrap();
    let mut text = std::fs::read_to_string(&description).unwrap();
    text = text.replace("backups:", "  - name: flappy\n    recipe: flappy\n    server: d12\nbackups:");
    text.push_str("recipes_dir: local\n");
    std::fs::write(&description, text).unwrap();
    assert_eq!(chaton(&["apply", file]).code, 0);
    let again = chaton(&["apply", file, "--json"]);
    let caught = idempotence(&again.stdout).expect_err("a non-idempotent recipe must be caught");
    assert!(caught.contains("d12") && caught.contains("change"), "{caught}");

    drop(guard);
    nothing_left_behind(&state);
}

#[test]
#[ignore = "needs root and the lab's packages: run by .ci/run with --ignored"]
fn a_host_cut_off_mid_run_does_not_stop_the_others() {
    let _one = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let hosts = [("h1", Distribution::Debian12), ("h2", Distribution::Debian12), ("h3", Distribution::Debian12)];
    let guard = lab_up(dir.path(), &hosts);
    let state = guard.state.clone();
    let description = lab::write_description(&state).unwrap();

    let mut child = Command::new(assert_cmd::cargo::cargo_bin("chaton"))
        .args(["apply", description.to_str().unwrap(), "--json", "--script-timeout", "40"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut cut = false;
    let mut summary = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        // Once h2 is in the middle of its changes, its network goes away.
        if !cut
            && line.contains("\"server\":\"h2\"")
            && line.contains("\"change_started\"")
            && line.contains("\"index\":2,")
        {
            lab::disconnect(state.host("h2").unwrap()).unwrap();
            cut = true;
        }
        summary = line;
    }
    let status = child.wait().unwrap();
    assert!(cut, "h2 never started its changes");
    assert_eq!(status.code(), Some(1), "{summary}");
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    let outcome =
        |name: &str| summary["servers"].as_array().unwrap().iter().find(|s| s["server"] == name).unwrap().clone();
    assert_eq!(outcome("h1")["ok"], true, "{summary}");
    assert_eq!(outcome("h3")["ok"], true, "{summary}");
    assert_eq!(outcome("h2")["ok"], false, "{summary}");
    let error = outcome("h2")["error"].as_str().unwrap().to_owned();
    assert!(error.contains("did not finish") || error.contains("connection lost"), "{error}");

    drop(guard);
    nothing_left_behind(&state);
}
