//! The lab's certificate authority, so the `web` recipe obtains real certificates over real
//! ACME: pebble (Let's Encrypt's test server, a Debian package) on the bridge address, and
//! pebble-challtestsrv as its DNS, answering each lab host's name (`NAME.lab.test`, and
//! `cal.`, `cloud.`, `pads.`, `vpn.`, `www.` before it) with the host's address, and any
//! other name with the first host's.
//!
//! pebble's own HTTPS certificate is made here (it has the bridge address in it); the
//! certificates it issues chain to a root it generates at start, fetched from its
//! management port. Both go into the lab's description as the CA to trust.

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::process::{keep, run, write};
use super::{LabError, LabHost};

const DIRECTORY_PORT: u16 = 14000;
const MANAGEMENT_PORT: u16 = 15000;
const DNS_PORT: u16 = 8053;
const DNS_MANAGEMENT_PORT: u16 = 8055;
/// Names each host also answers to, for services of their own (`cal.NAME.lab.test`).
pub(super) const SUBDOMAINS: [&str; 5] = ["cal", "cloud", "pads", "vpn", "www"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabAcme {
    pub pebble_pid: u32,
    pub dns_pid: u32,
    /// The ACME directory URL.
    pub directory: String,
    /// PEM: pebble's HTTPS certificate, then the root its certificates chain to.
    pub ca_certificate: String,
}

/// Starts the mock DNS and pebble on `address` (the bridge). Records the pids in `started`
/// as soon as each runs, so a failure later still stops them.
pub(super) fn start(dir: &Path, address: &str, hosts: &[LabHost], started: &mut Vec<u32>) -> Result<LabAcme, LabError> {
    let acme = dir.join("acme");
    let (cert, key) = (acme.join("pebble-cert.pem"), acme.join("pebble-key.pem"));
    std::fs::create_dir_all(&acme).map_err(|e| step("creating the acme folder", e))?;
    run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=chaton lab ACME",
            "-addext",
            &format!("subjectAltName=IP:{address}"),
            "-keyout",
            &key.display().to_string(),
            "-out",
            &cert.display().to_string(),
        ],
    )?;
    let default_host = hosts.first().map_or("127.0.0.1", |h| h.address.as_str());
    let dns = spawn(
        "pebble-challtestsrv",
        &[
            "-defaultIPv4",
            default_host,
            "-defaultIPv6",
            "",
            "-dns01",
            &format!("{address}:{DNS_PORT}"),
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
            "-management",
            &format!("{address}:{DNS_MANAGEMENT_PORT}"),
        ],
        &[],
        &dir.join("logs/acme-dns.log"),
    )?;
    started.push(dns);
    wait_for_port(address, DNS_MANAGEMENT_PORT)?;
    for host in hosts {
        for name in std::iter::once(String::new()).chain(SUBDOMAINS.iter().map(|s| format!("{s}."))) {
            add_record(address, &format!("{name}{}.lab.test", host.name), &host.address)?;
        }
        for name in &host.names {
            add_record(address, name, &host.address)?;
        }
    }
    let config = acme.join("pebble.json");
    write(
        &config,
        &serde_json::json!({ "pebble": {
            "listenAddress": format!("{address}:{DIRECTORY_PORT}"),
            "managementListenAddress": format!("{address}:{MANAGEMENT_PORT}"),
            "certificate": cert, "privateKey": key,
            // Where it validates challenges: the hosts' web servers.
            "httpPort": 80, "tlsPort": 443,
            "ocspResponderURL": "", "externalAccountBindingRequired": false,
        }})
        .to_string(),
        0o644,
    )?;
    let pebble = spawn(
        "pebble",
        &["-config", &config.display().to_string(), "-dnsserver", &format!("{address}:{DNS_PORT}")],
        // No random sleeps in validation, no deliberately rejected nonces: a test CA that
        // answers the same way every run.
        &[("PEBBLE_VA_NOSLEEP", "1"), ("PEBBLE_WFE_NONCEREJECT", "0")],
        &dir.join("logs/acme.log"),
    )?;
    started.push(pebble);
    wait_for_port(address, MANAGEMENT_PORT)?;
    let api_certificate = std::fs::read_to_string(&cert).map_err(|e| step("reading pebble's certificate", e))?;
    let root = crate::http::get(
        address,
        &format!("https://{address}:{MANAGEMENT_PORT}/roots/0"),
        Some(&api_certificate),
        Duration::from_secs(10),
    )
    .map_err(|e| step("fetching pebble's root certificate", e))?;
    let root = String::from_utf8(root.body).map_err(|e| step("reading pebble's root certificate", e))?;
    Ok(LabAcme {
        pebble_pid: pebble,
        dns_pid: dns,
        directory: format!("https://{address}:{DIRECTORY_PORT}/dir"),
        ca_certificate: format!("{}\n{}\n", api_certificate.trim(), root.trim()),
    })
}

fn step(what: &str, e: impl std::fmt::Display) -> LabError {
    LabError::Step { what: what.into(), detail: e.to_string() }
}

fn log_file(path: &Path) -> Result<std::fs::File, LabError> {
    std::fs::File::create(path).map_err(|e| step(&format!("creating {}", path.display()), e))
}

/// Starts `program` in the background, its output into `log`; returns its pid.
fn spawn(program: &str, args: &[&str], env: &[(&str, &str)], log: &Path) -> Result<u32, LabError> {
    let log = log_file(log)?;
    let child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| step("log", e))?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| step(&format!("starting {program}"), e))?;
    Ok(keep(child))
}

fn wait_for_port(address: &str, port: u16) -> Result<(), LabError> {
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(format!("{address}:{port}")).is_err() {
        if Instant::now() > deadline {
            return Err(step(&format!("waiting for {address}:{port}"), "nothing listens"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Tells the mock DNS that `name` has the address `ip`.
fn add_record(address: &str, name: &str, ip: &str) -> Result<(), LabError> {
    manage(address, "/add-a", &serde_json::json!({ "host": name, "addresses": [ip] }), name)
}

/// Points `name` at `ip` in the mock DNS, its earlier record replaced: what a hoster does
/// when a service moves to another server.
pub(super) fn replace_record(address: &str, name: &str, ip: &str) -> Result<(), LabError> {
    manage(address, "/clear-a", &serde_json::json!({ "host": name }), name)?;
    add_record(address, name, ip)
}

/// One call of the mock DNS's management API.
fn manage(address: &str, path: &str, body: &serde_json::Value, name: &str) -> Result<(), LabError> {
    use std::io::{Read as _, Write as _};
    let body = body.to_string();
    let mut stream = std::net::TcpStream::connect(format!("{address}:{DNS_MANAGEMENT_PORT}"))
        .map_err(|e| step("reaching the mock DNS", e))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| step("changing a DNS record", e))?;
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    if answer.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(step(&format!("changing the DNS record of {name}"), answer.lines().next().unwrap_or("no answer")))
    }
}
