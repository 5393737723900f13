//! The data-driven end-to-end runner: every recipe folder with a `proof.yml` (see
//! `src/recipe/proof.rs`) is proved on real Debian 12 and 13 lab servers. All proofs share
//! one lab and one description: each proof's services on each server, converged in one
//! apply, then a second apply that must change nothing (on one channel per server), then
//! `verify`, then each proof's setup on the servers (over SSH, as an admin would) and its
//! real clients from this machine, through the servers' firewalls, resolving the services'
//! domains as a visitor would. What passed is written
//! into the verification levels. A recipe that brings its proof needs no change here.

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Instant;

use chaton::description::model::Distribution;
use chaton::lab::{self, HostSpec};
use chaton::recipe::proof::{self, Found};
use support::lab::{
    CONVERGED, LAB, chaton, idempotence, lab_up_hosts, nothing_left_behind, record, run_with_binds, ssh_ok,
};

const HOSTS: [(&str, Distribution, &str); 2] =
    [("d12", Distribution::Debian12, "debian-12"), ("d13", Distribution::Debian13, "debian-13")];

/// The proofs' services for one lab host, placeholders filled.
fn services_on(proofs: &[Found], host: &str) -> Vec<serde_json::Value> {
    let mut services = Vec::new();
    for found in proofs {
        for service in &found.proof.services {
            let text = proof::fill(&service.to_string(), &[("host", host)]);
            services.push(serde_json::from_str(&text).expect("still JSON: names have no quotes"));
        }
    }
    services
}

/// Installs the Debian packages the clients need on this machine, when missing.
fn install_client_packages(proofs: &[Found]) {
    let mut wanted: Vec<&str> =
        proofs.iter().flat_map(|f| &f.proof.clients).flat_map(|c| &c.packages).map(String::as_str).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let missing: Vec<&str> = wanted
        .into_iter()
        .filter(|p| !Command::new("dpkg").args(["-s", p]).output().is_ok_and(|o| o.status.success()))
        .collect();
    if missing.is_empty() {
        return;
    }
    let status = Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .expect("apt-get runs");
    assert!(status.success(), "the clients' packages did not install: {missing:?}");
}

/// A password for the accounts the proofs make: new on each run, so none is in the
/// repository, and never given to chaton.
fn run_password() -> String {
    let mut bytes = [0u8; 12];
    let mut random = std::fs::File::open("/dev/urandom").unwrap();
    std::io::Read::read_exact(&mut random, &mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
#[ignore = "needs root and the lab's packages: run by .ci/run with --ignored"]
fn every_recipe_with_a_proof_converges_verifies_and_answers_its_clients_on_debian_12_and_13() {
    let _one = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let recipes = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes");
    let proofs = proof::all(&recipes).unwrap_or_else(|d| panic!("{d:?}"));
    assert!(!proofs.is_empty(), "no recipe folder has a {}", proof::FILE);
    let names: Vec<&str> = proofs.iter().map(|f| f.recipe.as_str()).collect();
    eprintln!("proving: {}", names.join(", "));
    install_client_packages(&proofs);

    // The lab's DNS answers each service's domain with its server's address, as a hoster's
    // DNS would, so the ACME CA reaches the right server.
    let services: BTreeMap<&str, Vec<serde_json::Value>> =
        HOSTS.iter().map(|(host, _, _)| (*host, services_on(&proofs, host))).collect();
    let hosts = HOSTS
        .iter()
        .map(|(host, distribution, _)| HostSpec {
            name: (*host).to_owned(),
            distribution: *distribution,
            names: services[host].iter().filter_map(|s| s["domain"].as_str().map(str::to_owned)).collect(),
            home: false,
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let guard = lab_up_hosts(dir.path(), hosts);
    let state = guard.state.clone();

    // The lab's description (servers, admins, the ACME CA, backups), with the proofs'
    // services in place of its own. JSON is YAML.
    let description = lab::write_description(&state).unwrap();
    let text = std::fs::read_to_string(&description).unwrap();
    let (head, rest) = text.split_once("services:\n").unwrap();
    let tail = &rest[rest.find("backups:").unwrap()..];
    let listed: String = services.values().flatten().map(|s| format!("  - {s}\n")).collect();
    std::fs::write(&description, format!("{head}services:\n{listed}{tail}")).unwrap();
    let file = description.to_str().unwrap();

    let start = Instant::now();
    let converge = chaton(&["apply", file]);
    assert_eq!(converge.code, 0, "converge failed:\n{}", converge.stderr);
    eprintln!("converge: {:.1} s", start.elapsed().as_secs_f64());
    let second = chaton(&["apply", file, "--json"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    idempotence(&second.stdout).unwrap();
    let verify = chaton(&["verify", file]);
    assert_eq!(verify.code, 0, "verify failed:\n{}", verify.stderr);

    let ca = state.dir.join("acme-trust.pem");
    std::fs::write(&ca, &state.acme.as_ref().expect("the lab has its ACME CA").ca_certificate).unwrap();
    let password = run_password();
    // A value for this run alone, that a client looks for in what the server gives back.
    let run = run_password();
    // The clients see the services' domains as a visitor's resolver would: through a hosts
    // file bind-mounted over /etc/hosts in a mount namespace of their own, so nothing of
    // this machine changes.
    let mut hosts_text = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    for (host, _, _) in HOSTS {
        let address = &state.host(host).unwrap().address;
        let domains = services[host].iter().filter_map(|s| s["domain"].as_str());
        let names: Vec<String> =
            std::iter::once(format!("{host}.lab.test")).chain(domains.map(str::to_owned)).collect();
        hosts_text.push_str(&format!("{address} {}\n", names.join(" ")));
    }
    let hosts_file = state.dir.join("client-hosts");
    std::fs::write(&hosts_file, hosts_text).unwrap();
    let repo = env!("CARGO_MANIFEST_DIR");
    // What chaton keeps next to the description (the VPN peers' configurations).
    let secrets = state.dir.join("secrets");
    for (host, _, _) in HOSTS {
        let address = state.host(host).unwrap().address.clone();
        for found in &proofs {
            let folder = found.folder.display().to_string();
            let values = [
                ("host", host),
                ("address", address.as_str()),
                ("ca", ca.to_str().unwrap()),
                ("folder", folder.as_str()),
                ("password", password.as_str()),
                ("run", run.as_str()),
                ("repo", repo),
                ("secrets", secrets.to_str().unwrap()),
            ];
            for step in &found.proof.setup {
                ssh_ok(&state, host, &proof::fill(step, &values));
            }
            for client in &found.proof.clients {
                let argv: Vec<String> = client.run.iter().map(|a| proof::fill(a, &values)).collect();
                let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                let out = run_with_binds(&[(&hosts_file, "/etc/hosts")], &argv);
                let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
                let expect = proof::fill(&client.expect, &values);
                assert!(
                    out.status.code() == Some(client.exit) && (stdout.contains(&expect) || stderr.contains(&expect)),
                    "{} on {host}: {}: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
                    found.recipe,
                    client.name,
                    out.status
                );
                let said = if client.exit == 0 { stdout.trim() } else { stderr.trim() };
                eprintln!("{} on {host}: {}: {}", found.recipe, client.name, said.lines().last().unwrap_or_default());
            }
        }
    }

    let proved: Vec<(&str, &str, &[chaton::recipe::verification::Level])> = proofs
        .iter()
        .flat_map(|f| HOSTS.iter().map(move |(_, _, release)| (f.recipe.as_str(), *release, CONVERGED)))
        .collect();
    record(
        "every_recipe_with_a_proof_converges_verifies_and_answers_its_clients_on_debian_12_and_13",
        None,
        &[],
        &proved,
    );

    drop(guard);
    nothing_left_behind(&state);
}
