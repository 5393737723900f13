//! The lab for the end-to-end tests: real Debian servers (systemd-nspawn hosts, see
//! `src/lab`) brought up and torn down around a test, chaton run against them, commands run
//! on them with OpenSSH, and what a test proved written into the verification levels.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use chaton::description::model::Distribution;
use chaton::lab::{self, HostSpec, LabState};
use chaton::recipe::verification::{self, Level};

/// One lab at a time.
pub static LAB: Mutex<()> = Mutex::new(());

/// Tears the lab down when the test ends, passed or failed.
pub struct Guard {
    pub state: LabState,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Err(e) = lab::down(&self.state) {
            eprintln!("teardown: {e}");
        }
    }
}

pub fn lab_up(dir: &Path, hosts: &[(&str, Distribution)]) -> Guard {
    let hosts: Vec<HostSpec> = hosts
        .iter()
        .map(|(n, d)| HostSpec { name: (*n).into(), distribution: *d, names: Vec::new(), home: false })
        .collect();
    lab_up_hosts(dir, hosts)
}

/// `lab_up`, with the names the lab's DNS gives each host besides `NAME.lab.test`.
pub fn lab_up_hosts(dir: &Path, hosts: Vec<HostSpec>) -> Guard {
    let config = lab::Config { dir: dir.to_path_buf(), hosts, cache: PathBuf::from(lab::DEFAULT_CACHE) };
    let state = lab::up(&config, &|step, took| eprintln!("lab: {step}: {:.1} s", took.as_secs_f64())).expect("lab up");
    Guard { state }
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn chaton(args: &[&str]) -> Out {
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

/// Runs a command on a lab host with the system's OpenSSH client: its standard output. A
/// command that fails fails the test (`ssh_status` for one that may fail).
pub fn ssh(state: &LabState, host: &str, command: &str) -> String {
    ssh_ok(state, host, command)
}

/// `program`, to be run in the network namespace `netns` (`None`: this machine's).
pub fn in_netns(netns: Option<&str>, program: impl AsRef<std::ffi::OsStr>) -> Command {
    match netns {
        Some(netns) => {
            let mut inside = Command::new("ip");
            inside.args(["netns", "exec", netns]).arg(program);
            inside
        }
        None => Command::new(program),
    }
}

/// Runs a command on a lab host: its exit status, standard output and standard error. A
/// host that does not answer within 10 s fails, and nothing prompts. A home host is reached
/// from its home's network (its router's namespace), as an admin at home would.
pub fn ssh_status(state: &LabState, host: &str, command: &str) -> (i32, String, String) {
    let lab_host = state.host(host).unwrap();
    let address = &lab_host.address;
    let out = in_netns(lab_host.home.as_ref().map(|router| router.netns.as_str()), "ssh")
        .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"])
        .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-i"])
        .arg(&state.key)
        .arg(format!("root@{address}"))
        .arg(command)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command on a lab host that must succeed: its standard output.
pub fn ssh_ok(state: &LabState, host: &str, command: &str) -> String {
    let (code, stdout, stderr) = ssh_status(state, host, command);
    assert_eq!(code, 0, "{host}: `{command}` exited with {code}:\n{stdout}{stderr}");
    stdout
}

/// The summary line of `apply --json`: per server, planned changes, applied changes and
/// exec channels. The idempotence rule of the suite lives here.
pub fn idempotence(summary_stdout: &str) -> Result<(), String> {
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

/// Writes what `test` proved into the verification levels `chaton recipes list` shows:
/// (recipe, release, levels), with the upstream version proved where the recipe installs a
/// release of its own, and the branches the lab took that a hoster's server may not: every
/// lab host is a systemd-nspawn container, every certificate comes from the lab's private
/// ACME CA, and `extra` names the test's own (`wireguard-go`). Called once, at the end of
/// the test, when every assertion that proves them has passed.
pub fn record(test: &str, upstream: Option<&str>, extra: &[&str], proved: &[(&str, &str, &[Level])]) {
    record_audited(test, upstream, extra, proved, &[]);
}

/// `record`, with the outside auditors' figures of (recipe, release) for its `audited` level.
pub fn record_audited(
    test: &str,
    upstream: Option<&str>,
    extra: &[&str],
    proved: &[(&str, &str, &[Level])],
    audits: &[(&str, &str, verification::Audit)],
) {
    let catalogue = chaton::recipe::Catalogue::builtin().unwrap();
    let uses_web = |recipe: &str| {
        recipe == "web" || catalogue.get(recipe).is_some_and(|l| l.recipe.requires.iter().any(|r| r == "web"))
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let date = chaton::engine::utc_timestamp(now)[..10].to_owned();
    let records: Vec<verification::Record> = proved
        .iter()
        .map(|(recipe, release, levels)| verification::Record {
            recipe: (*recipe).to_owned(),
            release: (*release).to_owned(),
            digest: catalogue.proof_digest(recipe).expect("a built-in recipe"),
            upstream: upstream.map(str::to_owned),
            conditions: std::iter::once("systemd-nspawn container")
                .chain(uses_web(recipe).then_some("private ACME CA (pebble)"))
                .chain(extra.iter().copied())
                .map(str::to_owned)
                .collect(),
            proved: levels.to_vec(),
            audit: audits.iter().find(|(r, d, _)| r == recipe && d == release).map(|(_, _, audit)| *audit),
            date: date.clone(),
            test: test.to_owned(),
        })
        .collect();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(verification::FILE);
    verification::record(&file, &records).unwrap();
}

pub const CONVERGED: &[Level] = &[Level::Converged, Level::Idempotent, Level::Verified];

/// Adds `extra` under every server of the description (after its `distribution:` line).
pub fn add_to_servers(description: &Path, extra: &str) {
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
pub fn http_get(address: &str, host: &str, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream =
        TcpStream::connect_timeout(&format!("{address}:80").parse().unwrap(), Duration::from_secs(5)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// Apply, then a second apply that changes nothing and runs nothing, then verify: their
/// outputs.
pub fn converged_idempotent_verified(file: &str) -> (Out, Out, Out) {
    let converge = chaton(&["apply", file]);
    assert_eq!(converge.code, 0, "converge failed:\n{}", converge.stderr);
    let second = chaton(&["apply", file, "--json"]);
    idempotence(&second.stdout).unwrap();
    let verify = chaton(&["verify", file]);
    assert_eq!(verify.code, 0, "verify failed:\n{}", verify.stderr);
    (converge, second, verify)
}

/// The run on `host` failed at `change` (as "KIND NAME").
pub fn stopped_at(run: &Out, host: &str, change: &str) {
    assert!(run.stderr.contains(&format!("{host}: FAILED: change")) && run.stderr.contains(change), "{}", run.stderr);
}

/// Each server's planned changes, as "KIND NAME".
pub fn planned_changes(file: &str) -> Vec<(String, Vec<String>)> {
    let plan = chaton(&["plan", file, "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let change = |c: &serde_json::Value| {
        format!("{} {}", c["resource"]["kind"].as_str().unwrap(), c["resource"]["name"].as_str().unwrap())
    };
    plan["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|server| {
            let name = server["server"].as_str().unwrap().to_owned();
            (name, server["changes"].as_array().unwrap().iter().map(change).collect())
        })
        .collect()
}

/// What ssh-audit (an outside auditor, Debian's package) finds wrong with a server's sshd:
/// every algorithm or key it marks as a failure or a warning, except "unknown algorithm"
/// (the packaged auditor is older than some algorithms). Read from its text report: its JSON
/// leaves the notes out.
pub fn ssh_audit(address: &str) -> Vec<String> {
    let out = Command::new("ssh-audit")
        .args(["-l", "warn", "--no-colors"])
        .arg(address)
        .output()
        .expect("ssh-audit is installed");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(report.contains("# key exchange algorithms"), "ssh-audit could not audit {address}: {report}");
    let mut problems = Vec::new();
    let mut algorithm = String::new();
    for line in report.lines() {
        let (head, note) = match line.split_once("-- [").or_else(|| line.split_once("`- [")) {
            Some(parts) => parts,
            None => continue,
        };
        let head = head.trim();
        if let Some(rest) = ["(kex)", "(key)", "(enc)", "(mac)"].iter().find_map(|p| head.strip_prefix(p)) {
            algorithm = format!("{} {}", &head[..5], rest.trim());
        } else if !head.is_empty() {
            continue; // recommendations and other sections
        }
        let is_problem = note.starts_with("fail]") || note.starts_with("warn]");
        if is_problem && !note.contains("unknown algorithm") {
            problems.push(format!("{algorithm}: [{note}"));
        }
    }
    problems
}

/// What testssl.sh (an outside auditor, Debian's package) finds wrong with the HTTPS site
/// `server_name` at `address`: a protocol below TLS 1.2 offered, or any finding it rates
/// low, medium, high or critical (its vulnerability checks, BREACH among them, and the
/// cipher categories). Panics if the scan saw no TLS 1.3 at all: a scan that reached
/// nothing must not pass as clean.
pub fn testssl(address: &str, server_name: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("testssl.json");
    let out = Command::new("testssl")
        .args(["--quiet", "--color", "0", "--warnings", "off", "--protocols", "--std", "--vulnerable", "--jsonfile"])
        .arg(&json)
        .args(["--ip", address, &format!("https://{server_name}/")])
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&json)
        .unwrap_or_else(|e| panic!("testssl.sh wrote no report ({e}):\n{}", String::from_utf8_lossy(&out.stdout)));
    let findings: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let field = |f: &serde_json::Value, k: &str| f[k].as_str().unwrap_or_default().to_owned();
    assert!(
        findings.iter().any(|f| field(f, "id") == "TLS1_3" && field(f, "finding").starts_with("offered")),
        "{server_name}: testssl.sh saw no TLS 1.3:\n{text}"
    );
    let mut problems = Vec::new();
    for f in &findings {
        let (id, severity, finding) = (field(f, "id"), field(f, "severity"), field(f, "finding"));
        let old_protocol = ["SSLv2", "SSLv3", "TLS1", "TLS1_1"].contains(&id.as_str());
        if (old_protocol && finding != "not offered")
            || ["LOW", "MEDIUM", "HIGH", "CRITICAL"].contains(&severity.as_str())
        {
            problems.push(format!("{id} [{severity}] {finding}"));
        }
    }
    problems
}

/// Lynis (Debian's package, installed on the host through its apt proxy) audits the host
/// from inside: its hardening index and its warnings.
pub fn lynis(state: &LabState, host: &str) -> (u32, Vec<String>) {
    ssh(state, host, "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends lynis >/dev/null");
    let report = ssh(state, host, "lynis audit system --quick --no-colors 2>&1");
    let index = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Hardening index : "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{host}: no hardening index in\n{report}"));
    let warnings = report.lines().filter(|l| l.trim_start().starts_with("! ")).map(|l| l.trim().to_owned()).collect();
    (index, warnings)
}

/// Runs `argv` in a mount namespace of its own (`unshare`) where each `(file, path)` of
/// `binds` is bind-mounted over `path` (a hosts file over /etc/hosts, say): a client on this
/// machine sees the lab's names, and nothing of this machine changes.
pub fn run_with_binds(binds: &[(&Path, &str)], argv: &[&str]) -> std::process::Output {
    with_binds(binds, argv).output().unwrap()
}

/// `argv` to run in a mount namespace of its own where each file is bind-mounted over its
/// path (a hosts file over /etc/hosts): nothing of this machine changes. A bound file
/// rewritten in place is seen at once by the program (a DNS record changed mid-run).
pub fn with_binds(binds: &[(&Path, &str)], argv: &[&str]) -> Command {
    let mut script = String::new();
    for (i, (_, path)) in binds.iter().enumerate() {
        script.push_str(&format!("mount --bind \"${}\" '{path}' && ", i + 1));
    }
    script.push_str(&format!("shift {} && exec \"$@\"", binds.len()));
    let mut command = Command::new("unshare");
    command.args(["--mount", "sh", "-c", &script, "sh"]).args(binds.iter().map(|(file, _)| *file)).args(argv);
    command
}

/// Starts `command` (chaton) with its progress (standard error) read line by line: each
/// line is sent on the receiver as it comes, which loses its sender when the run ends; the
/// thread gives back everything it said.
pub fn spawn_watching(
    mut command: Command,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>, std::thread::JoinHandle<String>) {
    use std::io::BufRead as _;
    let mut run = command
        .env_remove("SSH_AUTH_SOCK")
        .env("LC_ALL", "C")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let progress = run.stderr.take().unwrap();
    let (seen, heard) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut said = String::new();
        for line in std::io::BufReader::new(progress).lines().map_while(Result::ok) {
            let _ = seen.send(line.clone());
            said.push_str(&line);
            said.push('\n');
        }
        said
    });
    (run, heard, reader)
}

/// Waits up to `patience` for a line starting with `prefix`; false when the run ended or
/// the time ran out first.
pub fn heard_line(lines: &std::sync::mpsc::Receiver<String>, prefix: &str, patience: Duration) -> bool {
    let until = std::time::Instant::now() + patience;
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.starts_with(prefix) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

pub fn port_answers(address: &str, port: u16) -> bool {
    TcpStream::connect_timeout(&format!("{address}:{port}").parse().unwrap(), Duration::from_secs(3)).is_ok()
}

pub fn nothing_left_behind(state: &LabState) {
    let netns =
        String::from_utf8_lossy(&Command::new("ip").args(["netns", "list"]).output().unwrap().stdout).into_owned();
    for host in &state.hosts {
        assert!(!netns.contains(&host.netns), "namespace {} left behind", host.netns);
        if let Some(router) = &host.home {
            assert!(!netns.contains(&router.netns), "the home router {} left behind", router.netns);
        }
        // A zombie is not running: a lab started by `chaton lab up` outlives it, and its
        // stopped hosts wait for PID 1 to reap them, which some sandboxes' PID 1 never does.
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", host.pid.unwrap())).unwrap_or_default();
        let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next()).unwrap_or_default();
        assert!(stat.is_empty() || state == Some('Z'), "nspawn of {} still running: {stat}", host.name);
    }
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(!mounts.contains(&state.dir.display().to_string()), "a mount is left under {}", state.dir.display());
    let links = String::from_utf8_lossy(&Command::new("ip").args(["-o", "link"]).output().unwrap().stdout).into_owned();
    assert!(!links.contains(&format!(": {}:", state.bridge)), "bridge left behind");
}

pub fn sha256_of(file: &Path) -> String {
    let out = Command::new("sha256sum").arg(file).output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_owned()
}

/// Whether the TLS server at `address` (`host:port`) completes a handshake in `version`
/// (`-tls1`, `-tls1_1`, `-tls1_2`). OpenSSL 3 refuses TLS 1.0 and 1.1 on its own side at
/// its default security level, so the client is made willing (`@SECLEVEL=0`): a refusal
/// can only come from the server.
pub fn handshakes(address: &str, server_name: &str, version: &str) -> bool {
    Command::new("openssl")
        .args(["s_client", "-connect", address, "-servername", server_name, version, "-cipher", "DEFAULT:@SECLEVEL=0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}
