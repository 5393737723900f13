//! A real OpenSSH server on loopback for the engine's tests: its own config, host key,
//! client key and log in a temporary folder, started and stopped by the test. The log is
//! at `LogLevel VERBOSE`, so connections and sessions can be counted from sshd itself.
//!
//! The server logs in as the user running the tests. Tests only manage files under their
//! own temporary folder (the `base` recipe is replaced by a harmless local one).

#![allow(dead_code)]

pub mod lab;
pub mod terminal;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TestSshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub log: PathBuf,
    pub client_key: PathBuf,
    pub host_key: PathBuf,
    child: Child,
    /// Connections made by `start` itself to see that sshd listens.
    probes: usize,
}

pub fn user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "chaton-test", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (openssh-client) is installed");
    assert!(status.success());
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl TestSshd {
    pub fn start() -> Self {
        Self::start_with("")
    }

    /// Starts sshd with extra configuration lines.
    pub fn start_with(extra_config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let host_key = dir.path().join("host_key");
        let client_key = dir.path().join("client_key");
        keygen(&host_key);
        keygen(&client_key);
        let authorized = dir.path().join("authorized_keys");
        std::fs::copy(client_key.with_extension("pub"), &authorized).unwrap();
        let port = free_port();
        let config = dir.path().join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin prohibit-password\nLogLevel VERBOSE\nMaxSessions 10\n{extra_config}\n",
                host_key.display(),
                dir.path().join("sshd.pid").display(),
                authorized.display()
            ),
        )
        .unwrap();
        // sshd refuses to start without its privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let log = dir.path().join("sshd.log");
        let child = Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-f")
            .arg(&config)
            .arg("-E")
            .arg(&log)
            .stdin(Stdio::null())
            .spawn()
            .expect("sshd (openssh-server) is installed");
        let mut server = Self { dir, port, log, client_key, host_key, child, probes: 0 };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not start: {}", server.log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
        // sshd logs the readiness probe's connection too: wait for it, then discount it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while server.raw_connections() == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        server.probes = server.raw_connections();
        server
    }

    fn raw_connections(&self) -> usize {
        self.log_text().lines().filter(|l| l.contains("Connection from 127.0.0.1")).count()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Connections sshd accepted so far (from chaton: the readiness probe is not counted).
    pub fn connections(&self) -> usize {
        self.raw_connections() - self.probes
    }

    /// Exec channels (sessions running a command) sshd started so far.
    pub fn exec_channels(&self) -> usize {
        self.log_text().lines().filter(|l| l.contains("Starting session: command")).count()
    }

    /// The `host_key` line to pin in a description.
    pub fn host_key_line(&self) -> String {
        let text = std::fs::read_to_string(self.host_key.with_extension("pub")).unwrap();
        let mut parts = text.split_whitespace();
        format!("{} {}", parts.next().unwrap(), parts.next().unwrap())
    }

    /// A `known_hosts` line for this server.
    pub fn known_hosts_line(&self) -> String {
        format!("[127.0.0.1]:{} {}", self.port, self.host_key_line())
    }
}

impl Drop for TestSshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A project folder: a description for one server (this sshd), local recipes (a harmless
/// `base` and a `probe` service writing under the folder), a HOME with the client key.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub description: PathBuf,
    pub home: PathBuf,
    pub root: PathBuf,
    pub state: PathBuf,
}

pub const BASE_RECIPE: &str = "name: base
summary: {en: Nothing, fr: Rien}
kind: base
software: {name: test, version: '1', licence: MIT, website: https://example.org, source: https://example.org, install: distribution}
data:
  personal: {en: none, fr: aucune}
  log_retention_days: 0
";

/// A service with files (one sensitive, with a canary secret), a directory, a link, a
/// guarded command, a handler that records each run, and a check.
pub const PROBE_RECIPE: &str = r#"name: probe
summary: {en: Test service, fr: Service de test}
kind: service
software: {name: probe, version: '1', licence: MIT, website: https://example.org, source: https://example.org, install: distribution}
data:
  personal: {en: none, fr: aucune}
  log_retention_days: 0
params:
  root: {type: path, description: Folder the probe manages}
  numbers: {type: list, description: Numbered files to write, default: ["1", "2", "3"]}
  message: {type: string, description: Content of app.conf, default: hello}
  secret: {type: string, description: A secret value, default: CANARY-7f3a9c-SECRET}
  pause: {type: string, description: Seconds to sleep after app.conf, default: '0'}
  access_file: {type: string, description: An sshd_config file the test sshd includes, default: ''}
  access: {type: string, description: Its content, default: ''}
  sshd_pid_file: {type: string, description: "The test sshd's pid file, to reload it", default: ''}
  fail_after_access: {type: string, description: "yes: the first apply fails after the access file", default: 'no'}
secrets: [password]
resources:
  - directory:
      path: "{{ params.root }}/etc"
      owner: "{{ server.ssh_user }}"
      group: "{{ server.ssh_user }}"
      mode: "0750"
  - file:
      path: "{{ params.root }}/etc/app.conf"
      content: "message = {{ params.message }}\n"
      owner: "{{ server.ssh_user }}"
      group: "{{ server.ssh_user }}"
      mode: "0640"
      validate: [grep, -q, "message", "{path}"]
      notify: [restart app]
  - file:
      path: "{{ params.access_file }}"
      content: "{{ params.access }}\n"
      owner: "{{ server.ssh_user }}"
      group: "{{ server.ssh_user }}"
      mode: "0644"
      guards_access: true
      when: params.access_file != ""
      notify: [reload access]
  - command:
      run: [sleep, "{{ params.pause }}"]
      creates: "{{ params.root }}/no-pause"
      unless: [test, "{{ params.pause }}", "=", "0"]
  - command:
      run: [test, "{{ params.fail_after_access }}", "=", "no"]
      creates: "{{ params.root }}/initialised"
  - file:
      path: "{{ params.root }}/etc/secret.conf"
      content: "password = {{ params.secret }}\n"
      owner: "{{ server.ssh_user }}"
      group: "{{ server.ssh_user }}"
      mode: "0600"
      sensitive: true
  - file:
      for_each: params.numbers
      path: "{{ params.root }}/etc/file-{{ item }}.txt"
      content: "file {{ item }} of {{ service.name }}\n"
      owner: "{{ server.ssh_user }}"
      group: "{{ server.ssh_user }}"
      mode: "0644"
  - file:
      path: "{{ params.root }}/etc/db.conf"
      content: "user = probe\npassword = {{ secrets.password }}\n"
      owner: "{{ server.ssh_user }}"
      group: "{{ server.ssh_user }}"
      mode: "0640"
  - link:
      path: "{{ params.root }}/current"
      target: "{{ params.root }}/etc"
  - command:
      run: [touch, "{{ params.root }}/initialised"]
      creates: "{{ params.root }}/initialised"
      # Leaves a trace of each time it is asked, to show it is asked only while needed.
      explain: [sh, -c, "echo asked >> '{{ params.root }}-explained'; echo '2 thing(s) to initialise'; echo second line"]
handlers:
  - name: reload access
    # sshd reads an included file again on SIGHUP only, as a real server on `reload ssh`.
    run: [sh, -c, "echo reloaded >> \"$0\"; if [ -n \"$1\" ]; then kill -HUP \"$(cat \"$1\")\"; fi", "{{ params.root }}/reloads", "{{ params.sshd_pid_file }}"]
  - name: restart app
    run: [sh, -c, "echo restarted >> \"$0\"", "{{ params.root }}/restarts"]
checks:
  - command:
      run: [test, -f, "{{ params.root }}/etc/app.conf"]
"#;

impl Project {
    /// `extra_server` is added to the server entry (for example a pinned `host_key`).
    pub fn new(sshd: &TestSshd, extra_server: &str, params: &str) -> Self {
        let project = Self::at_port(sshd.port, extra_server, params);
        std::fs::copy(&sshd.client_key, project.home.join(".ssh/id_ed25519")).unwrap();
        project
    }

    /// The same project for a server at `127.0.0.1:port`, with no key to log in with (for
    /// tests that reach it through something else than SSH).
    pub fn at_port(port: u16, extra_server: &str, params: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("managed");
        let state = dir.path().join("state");
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::create_dir_all(dir.path().join("local/recipes")).unwrap();
        std::fs::write(dir.path().join("local/recipes/base.yml"), BASE_RECIPE).unwrap();
        std::fs::write(dir.path().join("local/recipes/probe.yml"), PROBE_RECIPE).unwrap();
        let valid = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/valid.yml")).unwrap();
        let user = user();
        let server = format!(
            "  - name: alpha\n    address: 127.0.0.1\n    port: {port}\n    ssh_user: {user}\n{extra_server}    provider:\n      name: Provider\n      type: outsourced\n      country: FR\n    control: vps\n"
        );
        let head = valid.split("servers:").next().unwrap();
        let backups = &valid[valid.find("backups:").unwrap()..];
        let text = format!(
            "{head}servers:\n{server}services:\n  - name: probe\n    recipe: probe\n    server: alpha\n    params:\n      root: {}\n{params}{backups}recipes_dir: local\n",
            root.display()
        );
        let description = dir.path().join("hoster.yml");
        std::fs::write(&description, text).unwrap();
        Self { dir, description, home, root, state }
    }

    /// `chaton ARGS FILE --remote-state-dir STATE`, with this project's HOME and no agent.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("chaton"));
        cmd.args(args)
            .arg(&self.description)
            .arg("--remote-state-dir")
            .arg(&self.state)
            .env("HOME", &self.home)
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("NO_COLOR")
            .env("LC_ALL", "C");
        cmd
    }

    /// [`Self::command`], run to completion (with a generous timeout).
    pub fn chaton(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::from_std(self.command(args));
        cmd.timeout(Duration::from_secs(120));
        cmd
    }

    pub fn trust(&self, sshd: &TestSshd) {
        std::fs::write(self.dir.path().join("known_hosts"), format!("{}\n", sshd.known_hosts_line())).unwrap();
    }
}

/// Python's `jsonschema` (an independent validator) checks the YAML `document` against the
/// JSON Schema `schema`: whether it is valid, and what it said.
pub fn validate_against_schema(schema: &Path, document: &Path) -> (bool, String) {
    let program = "import json, sys, yaml, jsonschema\n\
class Loader(yaml.SafeLoader): pass\n\
# YAML 1.2 as editors read it: dates stay strings.\n\
Loader.yaml_implicit_resolvers = {k: [r for r in v if r[0] != 'tag:yaml.org,2002:timestamp'] for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}\n\
schema = json.load(open(sys.argv[1]))\n\
data = yaml.load(open(sys.argv[2]), Loader=Loader)\n\
try:\n    jsonschema.validate(data, schema)\n    print('valid')\nexcept jsonschema.ValidationError as e:\n    print('invalid:', e.message)\n    sys.exit(1)\n";
    let out = Command::new("python3").arg("-c").arg(program).arg(schema).arg(document).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Output of a finished command.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(mut cmd: assert_cmd::Command) -> Run {
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Every file under `root`, by path relative to it, with its bytes.
pub fn read_tree(root: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.strip_prefix(root).unwrap().to_path_buf(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// playwright-core from npm, installed once under `target/browser-driver`, with `script`
/// (from `tests/browser/`) beside it: the folder to run `node SCRIPT` in.
pub fn browser_driver(script: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-driver");
    if !dir.join("node_modules/playwright-core").exists() {
        std::fs::create_dir_all(&dir).unwrap();
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
            .arg(&dir)
            .arg("playwright-core@1")
            .status()
            .expect("npm is installed");
        assert!(status.success(), "npm install playwright-core failed");
    }
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser").join(script), dir.join(script)).unwrap();
    dir
}
