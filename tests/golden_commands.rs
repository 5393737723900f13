//! Golden tests in the pyinfra style: given these arguments and these facts, exactly these
//! commands; none when the server already matches. Hostile values must come out quoted.

use std::collections::{BTreeMap, BTreeSet};

use chaton::facts::{GroupFacts, HostFacts, PathState, UnitFacts, UserFacts};
use chaton::recipe::model::{Presence, Proto};
use chaton::resource::{
    Action, Database, Directory, Download, Exec, File, FirewallPort, Group, Link, Package, Resource, Role, Service,
    User,
};
use chaton::shell::render;
use chaton::vocab::FileMode;

/// The commands of the planned change as shell text, or `None` when converged.
fn commands(resource: Resource, facts: &HostFacts) -> Option<Vec<String>> {
    resource.plan(facts).map(|c| c.commands.iter().map(render).collect())
}

fn action(resource: Resource, facts: &HostFacts) -> Option<Action> {
    resource.plan(facts).map(|c| c.action)
}

fn facts() -> HostFacts {
    HostFacts::default()
}

fn file_state(content: &[u8], owner: &str, group: &str, mode: u32) -> PathState {
    PathState::File {
        sha256: chaton::command::sha256_hex(content),
        size: content.len() as u64,
        owner: owner.into(),
        group: group.into(),
        mode: FileMode(mode),
        text: std::str::from_utf8(content).ok().map(str::to_owned),
    }
}

// ── package ─────────────────────────────────────────────────────────────────

fn package(names: &[&str], state: Presence) -> Resource {
    Resource::Package(Package { names: names.iter().map(|s| s.to_string()).collect(), state })
}

#[test]
fn package_missing_is_installed_without_prompts() {
    let mut f = facts();
    f.packages.insert("ssl-cert".into(), "1.1.2".into());
    let commands = commands(package(&["nginx", "ssl-cert"], Presence::Present), &f).unwrap();
    assert_eq!(commands.len(), 1);
    // One apt run: the missing package, and the pending security updates with it.
    let command = &commands[0];
    assert!(command.starts_with("DEBIAN_FRONTEND=noninteractive sh -c "), "{command}");
    assert!(command.ends_with(" sh nginx"), "only the missing package is named: {command}");
    for part in [
        "apt-get install --yes --no-install-recommends -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \"$@\" $up",
        "Debian-Security",
        "apt-mark auto $auto",
    ] {
        assert!(command.contains(part), "{part} missing from {command}");
    }
    assert_eq!(action(package(&["nginx", "ssl-cert"], Presence::Present), &f), Some(Action::Update));
}

#[test]
fn package_installed_needs_nothing() {
    let mut f = facts();
    f.packages.insert("nginx".into(), "1.22.1-9".into());
    assert_eq!(commands(package(&["nginx"], Presence::Present), &f), None);
    assert_eq!(commands(package(&["telnet"], Presence::Absent), &f), None);
}

#[test]
fn package_absent_is_removed() {
    let mut f = facts();
    f.packages.insert("telnet".into(), "0.17".into());
    assert_eq!(
        commands(package(&["telnet"], Presence::Absent), &f).unwrap(),
        ["DEBIAN_FRONTEND=noninteractive apt-get remove --yes -o DPkg::Lock::Timeout=600 telnet"]
    );
}

// ── file ────────────────────────────────────────────────────────────────────

fn file(path: &str, content: &str, mode: u32, validate: Option<&[&str]>) -> Resource {
    Resource::File(File {
        path: path.into(),
        content: content.as_bytes().to_vec(),
        owner: "root".into(),
        group: "root".into(),
        mode: FileMode(mode),
        validate: validate.map(|v| v.iter().map(|s| s.to_string()).collect()),
        sensitive: false,
        secrets: vec![],
        guards_access: false,
    })
}

#[test]
fn file_missing_is_written_to_a_temporary_then_validated_then_renamed() {
    let cmds = commands(
        file(
            "/etc/ssh/sshd_config.d/chaton.conf",
            "PasswordAuthentication no\n",
            0o644,
            Some(&["sshd", "-t", "-f", "{path}"]),
        ),
        &facts(),
    )
    .unwrap();
    assert_eq!(
        cmds,
        [
            "base64 -d <<'CHATON_STDIN_END' | install -o root -g root -m 0644 /dev/stdin /etc/ssh/sshd_config.d/.chaton.conf.chaton-new\nUGFzc3dvcmRBdXRoZW50aWNhdGlvbiBubwo=\nCHATON_STDIN_END",
            "sshd -t -f /etc/ssh/sshd_config.d/.chaton.conf.chaton-new",
            "mv --force --no-target-directory /etc/ssh/sshd_config.d/.chaton.conf.chaton-new /etc/ssh/sshd_config.d/chaton.conf",
        ]
    );
}

#[test]
fn file_with_same_content_and_metadata_needs_nothing() {
    let mut f = facts();
    f.paths.insert("/etc/motd".into(), file_state(b"hello\n", "root", "root", 0o644));
    assert_eq!(commands(file("/etc/motd", "hello\n", 0o644, None), &f), None);
}

#[test]
fn file_with_only_a_wrong_mode_gets_chmod_only() {
    let mut f = facts();
    f.paths.insert("/etc/motd".into(), file_state(b"hello\n", "root", "adm", 0o666));
    assert_eq!(
        commands(file("/etc/motd", "hello\n", 0o644, None), &f).unwrap(),
        ["chown --no-dereference root:root -- /etc/motd", "chmod 0644 -- /etc/motd"]
    );
}

#[test]
fn file_with_other_content_shows_a_diff() {
    let mut f = facts();
    f.paths.insert("/etc/motd".into(), file_state(b"old\nsame\n", "root", "root", 0o644));
    let change = file("/etc/motd", "new\nsame\n", 0o644, None).plan(&f).unwrap();
    assert_eq!(change.action, Action::Update);
    let diff = change.diff.unwrap();
    assert!(diff.contains("-old\n+new\n same\n"), "{diff}");
    // The plain explanation `plan --explain` gives.
    assert_eq!(change.reasons, ["content differs at line 1: `old` → `new`"]);
}

#[test]
fn sensitive_file_diff_is_hidden_and_stdin_is_not_serialized() {
    let mut f = facts();
    f.paths.insert("/etc/app.secret".into(), file_state(b"old-secret\n", "root", "root", 0o600));
    let Resource::File(mut secret) = file("/etc/app.secret", "CANARY-new-secret\n", 0o600, None) else {
        unreachable!()
    };
    secret.sensitive = true;
    let change = Resource::File(secret).plan(&f).unwrap();
    assert_eq!(change.diff.as_deref(), Some("(sensitive content not shown)"));
    assert_eq!(change.reasons, ["content differs"], "no content in the reason either");
    let json = serde_json::to_string(&change).unwrap();
    assert!(!json.contains("CANARY") && !json.contains("old-secret"), "{json}");
}

#[test]
fn hostile_path_and_content_are_quoted_and_encoded() {
    // The last `/` in the hostile name starts the file name: the temporary sits beside it.
    let cmds = commands(file("/srv/a'; rm -rf / #\n$(id) café", "$(reboot)\n`id`\n", 0o600, None), &facts()).unwrap();
    assert_eq!(
        cmds,
        [
            "base64 -d <<'CHATON_STDIN_END' | install -o root -g root -m 0600 /dev/stdin '/srv/a'\\''; rm -rf /. #\n$(id) café.chaton-new'\nJChyZWJvb3QpCmBpZGAK\nCHATON_STDIN_END",
            "mv --force --no-target-directory '/srv/a'\\''; rm -rf /. #\n$(id) café.chaton-new' '/srv/a'\\''; rm -rf / #\n$(id) café'",
        ]
    );
}

#[test]
fn a_directory_in_the_way_of_a_file_is_reported() {
    let mut f = facts();
    f.paths.insert(
        "/etc/motd".into(),
        PathState::Directory { owner: "root".into(), group: "root".into(), mode: FileMode(0o755) },
    );
    let change = file("/etc/motd", "x", 0o644, None).plan(&f).unwrap();
    assert_eq!(change.reasons, ["/etc/motd is a directory, not a file"]);
}

// ── directory ───────────────────────────────────────────────────────────────

fn directory(path: &str, owner: &str, mode: u32) -> Resource {
    Resource::Directory(Directory {
        path: path.into(),
        owner: owner.into(),
        group: "www-data".into(),
        mode: FileMode(mode),
    })
}

#[test]
fn directory_missing_is_created_with_owner_and_mode() {
    assert_eq!(
        commands(directory("/var/www/site", "root", 0o755), &facts()).unwrap(),
        ["install -d -o root -g www-data -m 0755 /var/www/site"]
    );
}

#[test]
fn directory_with_wrong_owner_is_chowned_and_converged_needs_nothing() {
    let mut f = facts();
    f.paths.insert(
        "/var/www/site".into(),
        PathState::Directory { owner: "nobody".into(), group: "www-data".into(), mode: FileMode(0o755) },
    );
    assert_eq!(
        commands(directory("/var/www/site", "root", 0o755), &f).unwrap(),
        ["chown --no-dereference root:www-data -- /var/www/site"]
    );
    f.paths.insert(
        "/var/www/site".into(),
        PathState::Directory { owner: "root".into(), group: "www-data".into(), mode: FileMode(0o755) },
    );
    assert_eq!(commands(directory("/var/www/site", "root", 0o755), &f), None);
}

// ── link ────────────────────────────────────────────────────────────────────

fn link() -> Resource {
    Resource::Link(Link {
        path: "/etc/nginx/sites-enabled/site.conf".into(),
        target: "/etc/nginx/sites-available/site.conf".into(),
    })
}

#[test]
fn link_missing_or_wrong_is_replaced_and_right_needs_nothing() {
    let expected = [
        "ln --symbolic --force --no-dereference --no-target-directory /etc/nginx/sites-available/site.conf /etc/nginx/sites-enabled/site.conf",
    ];
    assert_eq!(commands(link(), &facts()).unwrap(), expected);
    let mut f = facts();
    f.paths.insert("/etc/nginx/sites-enabled/site.conf".into(), PathState::Symlink { target: "/tmp/elsewhere".into() });
    assert_eq!(commands(link(), &f).unwrap(), expected);
    f.paths.insert(
        "/etc/nginx/sites-enabled/site.conf".into(),
        PathState::Symlink { target: "/etc/nginx/sites-available/site.conf".into() },
    );
    assert_eq!(commands(link(), &f), None);
}

// ── user and group ──────────────────────────────────────────────────────────

fn admin() -> Resource {
    Resource::User(User { name: "camille".into(), system: false, home: None, shell: None, groups: vec!["sudo".into()] })
}

#[test]
fn user_missing_is_created() {
    assert_eq!(
        commands(admin(), &facts()).unwrap(),
        ["useradd --create-home --user-group --home-dir /home/camille --shell /bin/bash --groups sudo -- camille"]
    );
    let system = Resource::User(User {
        name: "etherpad".into(),
        system: true,
        home: Some("/var/lib/etherpad".into()),
        shell: None,
        groups: vec![],
    });
    assert_eq!(
        commands(system, &facts()).unwrap(),
        [
            "useradd --system --no-create-home --user-group --home-dir /var/lib/etherpad --shell /usr/sbin/nologin -- etherpad"
        ]
    );
}

#[test]
fn user_missing_a_group_is_appended_and_converged_needs_nothing() {
    let mut f = facts();
    let mut have =
        UserFacts { uid: 1000, home: "/home/camille".into(), shell: "/bin/bash".into(), groups: BTreeSet::new() };
    f.users.insert("camille".into(), have.clone());
    assert_eq!(commands(admin(), &f).unwrap(), ["usermod --append --groups sudo -- camille"]);
    have.groups.insert("sudo".into());
    f.users.insert("camille".into(), have);
    assert_eq!(commands(admin(), &f), None);
}

#[test]
fn group_missing_is_created_and_present_needs_nothing() {
    let g = || Resource::Group(Group { name: "chaton-backup".into(), system: true });
    assert_eq!(commands(g(), &facts()).unwrap(), ["groupadd --system -- chaton-backup"]);
    let mut f = facts();
    f.groups.insert("chaton-backup".into(), GroupFacts { gid: 998 });
    assert_eq!(commands(g(), &f), None);
}

// ── service ─────────────────────────────────────────────────────────────────

fn nginx() -> Resource {
    Resource::Service(Service { unit: "nginx".into(), enabled: true, running: true, not_in_containers: false })
}

#[test]
fn service_stopped_is_enabled_and_started_and_running_needs_nothing() {
    // Enabled unless its package's install enabled it already in the same run.
    let enable = concat!(
        r#"sh -c 'case "$(systemctl is-enabled -- "$1" 2>/dev/null)" in "#,
        r#"enabled|enabled-runtime|static|alias|indirect|generated) ;; "#,
        r#"*) systemctl enable --quiet -- "$1" ;; esac' sh nginx"#
    );
    assert_eq!(commands(nginx(), &facts()).unwrap(), [enable, "systemctl start -- nginx"]);
    let mut f = facts();
    f.units.insert("nginx".into(), UnitFacts { enabled: true, active: false });
    assert_eq!(commands(nginx(), &f).unwrap(), ["systemctl start -- nginx"]);
    f.units.insert("nginx".into(), UnitFacts { enabled: true, active: true });
    assert_eq!(commands(nginx(), &f), None);
}

// ── firewall port ───────────────────────────────────────────────────────────

fn https() -> Resource {
    Resource::FirewallPort(FirewallPort { port: 443, proto: Proto::Tcp, service: "site".into() })
}

#[test]
fn firewall_port_closed_reloads_the_persistent_rule_set() {
    assert_eq!(commands(https(), &facts()).unwrap(), ["nft -f /etc/nftables.conf"]);
    let mut f = facts();
    f.firewall = Some(BTreeSet::from([(22, Proto::Tcp)]));
    assert_eq!(commands(https(), &f).unwrap(), ["nft -f /etc/nftables.conf"]);
    f.firewall = Some(BTreeSet::from([(22, Proto::Tcp), (443, Proto::Tcp)]));
    assert_eq!(commands(https(), &f), None);
}

#[test]
fn stray_open_ports_are_closed() {
    let mut f = facts();
    f.firewall = Some(BTreeSet::from([(22, Proto::Tcp), (8080, Proto::Tcp)]));
    let ssh = FirewallPort { port: 22, proto: Proto::Tcp, service: "ssh".into() };
    let changes = chaton::resource::firewall::stray_ports(&[&ssh], &f);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].resource.name, "8080/tcp");
    assert_eq!(changes[0].action, Action::Delete);
}

// ── download ────────────────────────────────────────────────────────────────

const SHA: &str = "4cb11fd2be7479c9a4f2cf5f3049319cf9e81e5da2fd97bade86f0189a904475";

fn download(url: &str) -> Resource {
    Resource::Download(Download {
        url: url.into(),
        sha256: SHA.into(),
        path: "/opt/etherpad.tar.gz".into(),
        owner: "root".into(),
        group: "root".into(),
        mode: FileMode(0o644),
    })
}

#[test]
fn download_is_checked_against_its_checksum_before_it_is_moved_in_place() {
    assert_eq!(
        commands(download("https://example.org/etherpad.tar.gz"), &facts()).unwrap(),
        [
            "curl --fail --silent --show-error --location --proto '=https' --output /opt/.etherpad.tar.gz.chaton-new -- https://example.org/etherpad.tar.gz".to_owned(),
            format!("base64 -d <<'CHATON_STDIN_END' | sha256sum --check --strict --quiet -\n{}\nCHATON_STDIN_END", base64_of(&format!("{SHA}  /opt/.etherpad.tar.gz.chaton-new\n"))),
            "chown root:root -- /opt/.etherpad.tar.gz.chaton-new".to_owned(),
            "chmod 0644 -- /opt/.etherpad.tar.gz.chaton-new".to_owned(),
            "mv --force --no-target-directory /opt/.etherpad.tar.gz.chaton-new /opt/etherpad.tar.gz".to_owned(),
        ]
    );
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    encoded.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join("\n")
}

#[test]
fn download_with_the_pinned_checksum_needs_nothing_and_a_hostile_url_is_quoted() {
    let mut f = facts();
    f.paths.insert(
        "/opt/etherpad.tar.gz".into(),
        PathState::File {
            sha256: SHA.into(),
            size: 1,
            owner: "root".into(),
            group: "root".into(),
            mode: FileMode(0o644),
            text: None,
        },
    );
    assert_eq!(commands(download("https://example.org/x"), &f), None);
    let cmds = commands(download("https://example.org/$(id)'x"), &facts()).unwrap();
    assert!(cmds[0].ends_with("-- 'https://example.org/$(id)'\\''x'"), "{}", cmds[0]);
}

// ── guarded command ─────────────────────────────────────────────────────────

fn exec(creates: Option<&str>, unless: Option<&[&str]>) -> Resource {
    Resource::Command(Exec {
        run: vec![
            "install".into(),
            "-m".into(),
            "0644".into(),
            "/usr/share/nginx/html/index.html".into(),
            "/var/www/a b/index.html".into(),
        ],
        creates: creates.map(str::to_owned),
        explain: None,
        unless: unless.map(|u| u.iter().map(|s| s.to_string()).collect()),
    })
}

#[test]
fn command_runs_only_when_its_guard_says_so() {
    let expected = ["install -m 0644 /usr/share/nginx/html/index.html '/var/www/a b/index.html'"];
    assert_eq!(commands(exec(Some("/var/www/a b/index.html"), None), &facts()).unwrap(), expected);
    let mut f = facts();
    f.paths.insert("/var/www/a b/index.html".into(), file_state(b"<html>", "root", "root", 0o644));
    assert_eq!(commands(exec(Some("/var/www/a b/index.html"), None), &f), None);

    let guard = ["test", "-e", "/etc/$(id)"];
    assert_eq!(commands(exec(None, Some(&guard)), &facts()).unwrap(), expected);
    let mut f = facts();
    f.guards = BTreeMap::from([(Exec::guard_key(&guard.map(String::from)), true)]);
    assert_eq!(Exec::guard_key(&guard.map(String::from)), "test -e '/etc/$(id)'");
    assert_eq!(commands(exec(None, Some(&guard)), &f), None);
}

#[test]
fn validators_and_guards_are_not_mutating_commands() {
    let change =
        file("/etc/sudoers.d/x", "x\n", 0o440, Some(&["visudo", "-c", "-q", "-f", "{path}"])).plan(&facts()).unwrap();
    let mutating: Vec<bool> = change.commands.iter().map(|c| c.mutating).collect();
    assert_eq!(mutating, [true, false, true]);
}

// ── the commands really work ────────────────────────────────────────────────

fn whoami(flag: &str) -> String {
    let out = std::process::Command::new("id").arg(flag).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Runs a change's commands in a real shell, as the apply script will.
fn run_in_shell(change: &chaton::resource::Change) {
    let script: Vec<String> = change.commands.iter().map(render).collect();
    let status = std::process::Command::new("sh").arg("-ec").arg(script.join("\n")).status().unwrap();
    assert!(status.success(), "script failed:\n{}", script.join("\n"));
}

#[test]
fn file_commands_write_a_hostile_path_for_real_and_then_converge() {
    let dir = tempfile::tempdir().unwrap();
    let path = format!("{}/a'; rm -rf x #$(id) café `id`", dir.path().display());
    let content = "line with $(id) and 'quotes'\nand a unicode cat 🐱\n";
    let desired = Resource::File(File {
        path: path.clone(),
        content: content.as_bytes().to_vec(),
        owner: whoami("-un"),
        group: whoami("-gn"),
        mode: FileMode(0o640),
        validate: Some(vec!["test".into(), "-s".into(), "{path}".into()]),
        sensitive: false,
        secrets: vec![],
        guards_access: false,
    });
    let change = desired.plan(&facts()).unwrap();
    run_in_shell(&change);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), content);
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777, 0o640);
    // No temporary left behind, nothing else created.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // With the facts of what is now there, the plan is empty.
    let mut f = facts();
    f.paths.insert(path, file_state(content.as_bytes(), &whoami("-un"), &whoami("-gn"), 0o640));
    assert!(desired.plan(&f).is_none());
}

#[test]
fn a_failing_validator_leaves_the_old_file_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = format!("{}/config", dir.path().display());
    std::fs::write(&path, "old\n").unwrap();
    let desired = Resource::File(File {
        path: path.clone(),
        content: b"new\n".to_vec(),
        owner: whoami("-un"),
        group: whoami("-gn"),
        mode: FileMode(0o644),
        validate: Some(vec!["false".into(), "{path}".into()]),
        sensitive: false,
        secrets: vec![],
        guards_access: false,
    });
    let change = desired.plan(&facts()).unwrap();
    let script: Vec<String> = change.commands.iter().map(render).collect();
    let status = std::process::Command::new("sh").arg("-ec").arg(script.join("\n")).status().unwrap();
    assert!(!status.success());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
}

// ── generated secrets ───────────────────────────────────────────────────────

#[test]
fn a_secret_is_generated_once_on_the_server_and_never_replaced() {
    let secret = || {
        Resource::Secret(chaton::resource::Secret {
            id: "site/db".into(),
            path: "/var/lib/chaton/secrets/site/db".into(),
        })
    };
    let cmds = commands(secret(), &facts()).unwrap();
    assert_eq!(cmds[0], "install -d -m 0700 -o root -g root /var/lib/chaton/secrets /var/lib/chaton/secrets/site");
    assert!(cmds[1].starts_with("sh -c 'umask 077 && head -c 48 /dev/urandom"), "{}", cmds[1]);
    assert!(cmds[1].ends_with("' sh /var/lib/chaton/secrets/site/db"), "{}", cmds[1]);
    let mut f = facts();
    f.paths.insert("/var/lib/chaton/secrets/site/db".into(), file_state(b"whatever", "root", "root", 0o600));
    assert_eq!(commands(secret(), &f), None);
}

#[test]
fn a_file_holding_a_secret_is_filled_on_the_server_and_its_masked_digest_converges() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("secrets/app/password");
    // The generation command, for real.
    let generate = Resource::Secret(chaton::resource::Secret {
        id: "app/password".into(),
        path: secret_file.display().to_string(),
    });
    run_in_shell(&generate.plan(&facts()).unwrap());
    let value = std::fs::read_to_string(&secret_file).unwrap();
    assert_eq!(value.len(), 40);
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&secret_file).unwrap().permissions().mode() & 0o777, 0o600);

    let placeholder = "@@chaton-secret:app/password@@";
    let path = dir.path().join("app.conf").display().to_string();
    let file = Resource::File(File {
        path: path.clone(),
        content: format!("user = app\npassword = {placeholder}\n").into_bytes(),
        owner: whoami("-un"),
        group: whoami("-gn"),
        mode: FileMode(0o640),
        validate: Some(vec!["grep".into(), "-q".into(), "password".into(), "{path}".into()]),
        sensitive: false,
        secrets: vec![(placeholder.into(), secret_file.display().to_string())],
        guards_access: false,
    });
    let change = file.plan(&facts()).unwrap();
    // Nothing in the plan holds the value; the diff shows the placeholder.
    let json = serde_json::to_string(&change).unwrap();
    assert!(!json.contains(&value));
    assert!(change.diff.as_ref().unwrap().contains(placeholder));
    run_in_shell(&change);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("user = app\npassword = {value}\n"));
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary left behind");

    // The facts script's masked digest equals the digest of the rendered content.
    let mut query = chaton::facts::FactQuery::default();
    file.wants(&mut query);
    assert!(query.texts.is_empty(), "the content of a file holding secrets is never read back");
    let script = chaton::facts::gather::script(&query, "/nonexistent");
    let out = std::process::Command::new("sh").arg("-c").arg(&script).output().unwrap();
    let gathered = chaton::facts::gather::parse(&String::from_utf8_lossy(&out.stdout), &query).unwrap();
    assert!(file.plan(&gathered).is_none(), "converged: {:?}", gathered.paths);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&value));
}

// ── PostgreSQL role and database ────────────────────────────────────────────

fn postgres(roles: &[&str], databases: &[(&str, &str)]) -> HostFacts {
    HostFacts {
        postgres: Some(chaton::facts::PostgresFacts {
            roles: roles.iter().map(|r| r.to_string()).collect(),
            databases: databases.iter().map(|(d, o)| (d.to_string(), o.to_string())).collect(),
        }),
        ..facts()
    }
}

fn role() -> Resource {
    Resource::Role(Role { name: "pads".into(), password_file: Some("/var/lib/chaton/secrets/pads/db_password".into()) })
}

#[test]
fn role_missing_is_created_with_the_password_read_on_the_server() {
    let create = commands(role(), &postgres(&["postgres"], &[])).unwrap();
    assert_eq!(create.len(), 1);
    // The password file's path travels, never a value; the script is a constant.
    assert!(create[0].starts_with("sh -c "), "{}", create[0]);
    assert!(create[0].ends_with(" sh pads /var/lib/chaton/secrets/pads/db_password"), "{}", create[0]);
    assert!(create[0].contains("CREATE ROLE"), "{}", create[0]);
    // Also before PostgreSQL runs (a first apply installs it further up the same script).
    assert_eq!(action(role(), &facts()), Some(Action::Create));
    assert_eq!(commands(role(), &postgres(&["postgres", "pads"], &[])), None);
}

#[test]
fn database_missing_is_created_wrong_owner_is_changed_right_needs_nothing() {
    let db = || Resource::Database(Database { name: "pads".into(), owner: "pads".into() });
    assert_eq!(
        commands(db(), &postgres(&["pads"], &[])).unwrap(),
        ["runuser -u postgres -- createdb --owner pads -- pads"]
    );
    assert_eq!(
        commands(db(), &postgres(&["pads"], &[("pads", "postgres")])).unwrap(),
        ["runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -c 'ALTER DATABASE \"pads\" OWNER TO \"pads\"'"]
    );
    assert_eq!(commands(db(), &postgres(&["pads"], &[("pads", "pads")])), None);
}

#[test]
fn a_new_unit_file_is_followed_by_a_daemon_reload() {
    let unit = file("/etc/systemd/system/chaton-acme.timer", "[Timer]\n", 0o644, None);
    let written = commands(unit, &facts()).unwrap();
    assert_eq!(written.last().unwrap(), "systemctl daemon-reload");
    let other = file("/etc/systemd/system.conf.d/x.conf", "[Manager]\n", 0o644, None);
    assert!(!commands(other, &facts()).unwrap().contains(&"systemctl daemon-reload".to_owned()));
}
