//! The plan as a pure function of desired state and facts: a server that already matches
//! gives an empty plan (no change, no command, no handler); one drifted file gives exactly
//! that change and the handler it notifies.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chaton::facts::{GroupFacts, HostFacts, PathState, UnitFacts, UserFacts};
use chaton::plan::{self, FactsSource};
use chaton::resolve::{DesiredState, ServerState};
use chaton::resource::Resource;

fn desired() -> DesiredState {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/amipo/hoster.yml");
    let checked = chaton::pipeline::check(&example, None).unwrap_or_else(|d| panic!("{d:?}"));
    let keys = chaton::pipeline::keys(&checked, chaton::pipeline::KeysFrom::StandIns).unwrap();
    chaton::pipeline::desired(&checked, "/var/lib/chaton", &keys).unwrap()
}

/// Facts of a server on which every desired resource is already as desired.
/// SHA-256 as `sha256sum` prints it, computed by coreutils: what the facts script reads on a
/// server.
fn independent_sha256(bytes: &[u8]) -> String {
    use std::io::Write as _;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum (coreutils)");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_owned()
}

fn converged(server: &ServerState) -> HostFacts {
    let mut f = HostFacts { firewall: Some(BTreeSet::new()), ..HostFacts::default() };
    for d in &server.resources {
        match &d.resource {
            Resource::Package(p) => {
                for n in &p.names {
                    f.packages.insert(n.clone(), "1".into());
                }
            }
            Resource::File(file) => {
                f.paths.insert(
                    file.path.clone(),
                    PathState::File {
                        // Digested here, not by the code under test.
                        sha256: independent_sha256(&file.content),
                        size: file.content.len() as u64,
                        owner: file.owner.clone(),
                        group: file.group.clone(),
                        mode: file.mode,
                        text: String::from_utf8(file.content.clone()).ok(),
                    },
                );
            }
            Resource::Directory(dir) => {
                f.paths.insert(
                    dir.path.clone(),
                    PathState::Directory { owner: dir.owner.clone(), group: dir.group.clone(), mode: dir.mode },
                );
            }
            Resource::Link(l) => {
                f.paths.insert(l.path.clone(), PathState::Symlink { target: l.target.clone() });
            }
            Resource::User(u) => {
                let home = u.home.clone().unwrap_or(format!("/home/{}", u.name));
                let shell = u.shell.clone().unwrap_or("/bin/bash".into());
                f.users.insert(
                    u.name.clone(),
                    UserFacts { uid: 1000, home, shell, groups: u.groups.iter().cloned().collect() },
                );
            }
            Resource::Group(g) => {
                f.groups.insert(g.name.clone(), GroupFacts { gid: 1000 });
            }
            Resource::Service(s) => {
                f.units.insert(s.unit.clone(), UnitFacts { enabled: s.enabled, active: s.running });
            }
            Resource::FirewallPort(p) => {
                f.firewall.as_mut().unwrap().insert((p.port, p.proto));
            }
            Resource::Download(dl) => {
                f.paths.insert(
                    dl.path.clone(),
                    PathState::File {
                        sha256: dl.sha256.clone(),
                        size: 1,
                        owner: dl.owner.clone(),
                        group: dl.group.clone(),
                        mode: dl.mode,
                        text: None,
                    },
                );
            }
            Resource::Secret(secret) => {
                f.paths.insert(
                    secret.path(),
                    PathState::File {
                        sha256: String::new(),
                        size: 40,
                        owner: "root".into(),
                        group: "root".into(),
                        mode: chaton::vocab::FileMode(0o600),
                        text: None,
                    },
                );
            }
            Resource::Role(role) => {
                f.postgres.get_or_insert_with(Default::default).roles.insert(role.name.clone());
            }
            Resource::Database(db) => {
                f.postgres.get_or_insert_with(Default::default).databases.insert(db.name.clone(), db.owner.clone());
            }
            Resource::Command(c) => {
                if let Some(unless) = &c.unless {
                    f.guards.insert(chaton::resource::Exec::guard_key(unless), true);
                }
                if let Some(p) = &c.creates {
                    f.paths.insert(
                        p.clone(),
                        PathState::File {
                            sha256: String::new(),
                            size: 0,
                            owner: "root".into(),
                            group: "root".into(),
                            mode: chaton::vocab::FileMode(0o644),
                            text: None,
                        },
                    );
                }
            }
        }
    }
    f
}

fn source() -> FactsSource {
    FactsSource::AssumedFresh { distribution: "test".into() }
}

/// Converged facts for every server of the desired state.
fn all_converged(desired: &DesiredState) -> BTreeMap<String, (FactsSource, HostFacts)> {
    desired.servers.iter().map(|s| (s.name.clone(), (source(), converged(s)))).collect()
}

#[test]
fn a_converged_server_has_an_empty_plan() {
    let desired = desired();
    let facts = all_converged(&desired);
    let plan = plan::plan(&desired, &facts);
    for server in &plan.servers {
        assert!(server.changes.is_empty(), "{}: {:#?}", server.server, server.changes);
        assert!(server.handlers.is_empty());
    }
    assert_eq!(plan.change_count(), 0);
}

#[test]
fn one_drifted_file_gives_one_change_and_its_handler() {
    let desired = desired();
    let mut facts = all_converged(&desired);
    let pangolin = &mut facts.get_mut("pangolin").unwrap().1;
    let Some(PathState::File { sha256, text, .. }) = pangolin.paths.get_mut("/etc/ssh/sshd_config.d/chaton.conf")
    else {
        panic!()
    };
    *sha256 = "0".repeat(64);
    *text = Some("PasswordAuthentication yes\n".into());
    let plan = plan::plan(&desired, &facts);
    let server = plan.servers.iter().find(|s| s.server == "pangolin").unwrap();
    assert_eq!(server.changes.len(), 1);
    let change = &server.changes[0].change;
    assert_eq!(change.resource.name, "/etc/ssh/sshd_config.d/chaton.conf");
    assert!(change.diff.as_ref().unwrap().contains("-PasswordAuthentication yes"));
    assert_eq!(server.handlers.len(), 1);
    assert_eq!(server.handlers[0].handler.name, "reload ssh");
    assert_eq!(server.handlers[0].handler.command.argv, ["systemctl", "reload-or-restart", "--", "ssh"]);
    assert_eq!(plan.change_count(), 1);
}

#[test]
fn handlers_left_pending_by_an_earlier_run_are_planned_without_changes() {
    let desired = desired();
    let mut facts = all_converged(&desired);
    facts.get_mut("loutre").unwrap().1.pending_handlers = vec!["reload nginx".into(), "removed handler".into()];
    let plan = plan::plan(&desired, &facts);
    let server = plan.servers.iter().find(|s| s.server == "loutre").unwrap();
    assert!(server.changes.is_empty());
    assert_eq!(server.handlers.len(), 1);
    assert_eq!(server.handlers[0].handler.name, "reload nginx");
    assert!(server.handlers[0].triggered_by.is_empty());
}

#[test]
fn package_installs_refresh_the_package_lists_first() {
    let desired = desired();
    let mut facts = all_converged(&desired);
    facts.get_mut("loutre").unwrap().1.packages.remove("nginx");
    let plan = plan::plan(&desired, &facts);
    let server = plan.servers.iter().find(|s| s.server == "loutre").unwrap();
    assert_eq!(server.changes.len(), 1);
    let argv: Vec<&str> = server.changes[0].change.commands[0].argv.iter().map(String::as_str).collect();
    assert_eq!(&argv[..2], ["apt-get", "update"]);
}

#[test]
fn a_port_opened_by_hand_is_closed() {
    let desired = desired();
    let mut facts = all_converged(&desired);
    facts.get_mut("loutre").unwrap().1.firewall.as_mut().unwrap().insert((8080, chaton::recipe::model::Proto::Tcp));
    let plan = plan::plan(&desired, &facts);
    let server = plan.servers.iter().find(|s| s.server == "loutre").unwrap();
    assert_eq!(server.changes.len(), 1);
    assert_eq!(server.changes[0].change.resource.name, "8080/tcp");
}

#[test]
fn the_fact_query_asks_for_every_managed_path() {
    let desired = desired();
    let query = plan::fact_query(&desired.servers[0]);
    assert!(query.paths.contains("/etc/nftables.conf"));
    assert!(query.users.contains("camille"));
    assert!(query.units.contains("nginx"));
    assert!(query.packages && query.firewall);
}
