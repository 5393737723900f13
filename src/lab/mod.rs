//! The lab: real Debian servers on this machine, for practice and for the end-to-end tests.
//!
//! Each lab host is a full Debian (systemd, sshd) booted with `systemd-nspawn --boot` on an
//! overlay of a cached base image, in its own network namespace with its own address on a
//! bridge, its own SSH host keys and the lab's key for root. Hosts have no route to the
//! internet: apt goes through an HTTP proxy on the bridge address. Needs root.
//!
//! `up` records everything it creates in `lab.json` in the lab folder, so `down` can undo
//! it all (mounts, namespaces, links, processes), also from another process.

mod acme;
mod base;
mod description;
mod net;
mod process;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::vocab::Distribution;

pub use acme::LabAcme;
pub use description::{write_copy, write_description};

/// A home host's address on its home's network, and its router's there.
pub const HOME_HOST: &str = "192.168.1.10";
pub const HOME_GATEWAY: &str = "192.168.1.1";

/// Where base images and the proxy's files are kept between runs.
pub const DEFAULT_CACHE: &str = "/var/cache/chaton/lab";

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("the lab needs root (it mounts file systems and creates network namespaces); run it with sudo")]
    NotRoot,
    #[error("the lab needs {programs}, missing here: install them all at once with\n  apt-get install {packages}")]
    Missing { programs: String, packages: String },
    #[error("{what} failed: {detail}")]
    Step { what: String, detail: String },
    #[error("no lab in {0} (no lab.json there): give the folder `lab up` used, with --dir")]
    NoLab(String),
}

/// A host to boot.
#[derive(Debug, Clone)]
pub struct HostSpec {
    pub name: String,
    pub distribution: Distribution,
    /// More names the lab's DNS gives this host (the domains of a description's services
    /// on it, for `lab up --for`).
    pub names: Vec<String>,
    /// At home: behind a household's router (NAT) in a subnet of its own, reaching out,
    /// reached by nothing (`HomeRouter`).
    pub home: bool,
}

/// What `up` needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The lab's folder: state, keys, logs, overlays, the description.
    pub dir: PathBuf,
    pub hosts: Vec<HostSpec>,
    pub cache: PathBuf,
}

/// Everything a running lab is made of.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabState {
    pub dir: PathBuf,
    /// Number of the lab's subnet: 10.231.ID.0/24.
    pub id: u8,
    pub bridge: String,
    pub bridge_address: String,
    pub proxy_pid: Option<u32>,
    /// The test certificate authority (pebble) the `web` recipe gets certificates from.
    #[serde(default)]
    pub acme: Option<LabAcme>,
    /// Background processes started for the lab besides the hosts, to stop on teardown.
    #[serde(default)]
    pub helper_pids: Vec<u32>,
    pub hosts: Vec<LabHost>,
    /// The private key that logs in as root on every host.
    pub key: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabHost {
    pub name: String,
    pub distribution: Distribution,
    pub address: String,
    pub netns: String,
    pub veth: String,
    /// Holds `upper`, `work` and the mounted `root`.
    pub overlay: PathBuf,
    pub pid: Option<u32>,
    /// `ssh-ed25519 AAAA...`, to pin in the description.
    pub host_key: String,
    /// More names the lab's DNS answers with its address (`HostSpec::names`).
    #[serde(default)]
    pub names: Vec<String>,
    /// The household router a home host sits behind; its `address` is then on the home's
    /// own network, which nothing outside reaches.
    #[serde(default)]
    pub home: Option<HomeRouter>,
}

/// A household's router (an ADSL or fibre box), as a network namespace: its WAN end on the
/// lab's bridge, its LAN end toward the home host. It masquerades what goes out and lets
/// nothing in (no port forwarded), so the host reaches the lab (its apt proxy, the other
/// hosts) and nothing reaches it, not even this machine. Running a program in `netns` is
/// being on the home's network, as a volunteer's laptop at a workshop is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HomeRouter {
    pub netns: String,
    /// This machine's end of the WAN link, on the bridge.
    pub veth: String,
    /// The router's address on the bridge: what the others see home traffic come from.
    pub wan_address: String,
    /// The router's address on the home's network (the host's gateway).
    pub lan_address: String,
}

impl LabState {
    pub fn load(dir: &Path) -> Result<Self, LabError> {
        let text = std::fs::read_to_string(dir.join("lab.json")).map_err(|_| {
            // The whole path: `no lab in lab` said nothing of where chaton looked.
            LabError::NoLab(std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()).display().to_string())
        })?;
        serde_json::from_str(&text)
            .map_err(|e| LabError::Step { what: "reading lab.json".into(), detail: e.to_string() })
    }

    fn save(&self) -> Result<(), LabError> {
        let text = serde_json::to_string_pretty(self).expect("lab state serializes");
        std::fs::write(self.dir.join("lab.json"), text)
            .map_err(|e| LabError::Step { what: "writing lab.json".into(), detail: e.to_string() })
    }

    pub fn host(&self, name: &str) -> Option<&LabHost> {
        self.hosts.iter().find(|h| h.name == name)
    }
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0")))
        .unwrap_or(false)
}

/// Every program the lab runs, with its Debian package: all the missing ones are named in
/// one error, with one command that installs them.
fn require(programs: &[(&str, &str)]) -> Result<(), LabError> {
    let on_path = |program: &str| {
        std::env::var_os("PATH")
            .map(|paths| std::env::split_paths(&paths).any(|p| p.join(program).is_file()))
            .unwrap_or(false)
    };
    let missing: Vec<&(&str, &str)> = programs.iter().filter(|(program, _)| !on_path(program)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut packages: Vec<&str> = missing.iter().map(|(_, package)| *package).collect();
    packages.dedup();
    Err(LabError::Missing {
        programs: missing.iter().map(|(program, _)| *program).collect::<Vec<_>>().join(", "),
        packages: packages.join(" "),
    })
}

/// Boots the lab. `on_step` hears how long each step took. On failure, what was created is
/// torn down again.
pub fn up(config: &Config, on_step: &dyn Fn(&str, Duration)) -> Result<LabState, LabError> {
    if !is_root() {
        return Err(LabError::NotRoot);
    }
    require(&[
        ("debootstrap", "debootstrap"),
        ("systemd-nspawn", "systemd-container"),
        ("ip", "iproute2"),
        ("tinyproxy", "tinyproxy"),
        ("ssh-keygen", "openssh-client"),
        ("pebble", "pebble"),
        ("openssl", "openssl"),
    ])?;
    if config.hosts.iter().any(|h| h.home) {
        // The household routers' NAT.
        require(&[("nft", "nftables")])?;
    }
    std::fs::create_dir_all(&config.dir).map_err(|e| step_error("creating the lab folder", e))?;
    let dir = std::fs::canonicalize(&config.dir).map_err(|e| step_error("finding the lab folder", e))?;
    std::fs::create_dir_all(dir.join("logs")).map_err(|e| step_error("creating the log folder", e))?;

    // Bases: one per distribution, built in parallel the first time, then cached.
    let start = Instant::now();
    let mut distributions: Vec<Distribution> = config.hosts.iter().map(|h| h.distribution).collect();
    distributions.sort_by_key(|d| d.codename());
    distributions.dedup();
    let to_build: Vec<&str> =
        distributions.iter().filter(|d| !base::is_ready(&config.cache, **d)).map(|d| d.label()).collect();
    if !to_build.is_empty() {
        // The one long wait of the lab, the first time: say so before it starts.
        on_step(
            &format!(
                "building the base image of {} from Debian's mirror, once for all later labs (1 to 7 minutes)",
                to_build.join(" and ")
            ),
            Duration::ZERO,
        );
    }
    let bases: Vec<Result<PathBuf, LabError>> = std::thread::scope(|s| {
        let handles: Vec<_> =
            distributions.iter().map(|d| s.spawn(|| base::ensure(&config.cache, *d, &dir.join("logs")))).collect();
        handles.into_iter().map(|h| h.join().expect("base thread")).collect()
    });
    let bases: Vec<(Distribution, PathBuf)> =
        distributions.iter().copied().zip(bases.into_iter().collect::<Result<Vec<_>, _>>()?).collect();
    on_step("base images", start.elapsed());

    let start = Instant::now();
    let id = net::free_id()?;
    let key = dir.join("lab_key");
    if !key.exists() {
        process::run(
            "ssh-keygen",
            &["-q", "-t", "ed25519", "-N", "", "-C", "chaton-lab", "-f", &key.display().to_string()],
        )?;
    }
    let mut state = LabState {
        dir: dir.clone(),
        id,
        bridge: format!("chbr{id}"),
        bridge_address: format!("10.231.{id}.1"),
        proxy_pid: None,
        acme: None,
        helper_pids: Vec::new(),
        hosts: Vec::new(),
        key,
    };
    let result = boot(config, &mut state, &bases, on_step, start);
    state.save()?;
    if let Err(e) = result {
        let _ = down(&state);
        return Err(e);
    }
    Ok(state)
}

fn step_error(what: &str, e: impl std::fmt::Display) -> LabError {
    LabError::Step { what: what.into(), detail: e.to_string() }
}

fn boot(
    config: &Config,
    state: &mut LabState,
    bases: &[(Distribution, PathBuf)],
    on_step: &dyn Fn(&str, Duration),
    start: Instant,
) -> Result<(), LabError> {
    net::bridge_up(&state.bridge, &format!("{}/24", state.bridge_address))?;
    state.proxy_pid = Some(process::start_proxy(&state.dir, &state.bridge_address, state.id)?);
    state.save()?;
    on_step("network and apt proxy", start.elapsed());

    // Prepare every host (overlay, keys, network), then boot them all at once.
    let start = Instant::now();
    let public_key =
        std::fs::read_to_string(state.key.with_extension("pub")).map_err(|e| step_error("reading the lab key", e))?;
    for (i, spec) in config.hosts.iter().enumerate() {
        let base = &bases.iter().find(|(d, _)| *d == spec.distribution).expect("base built").1;
        // Up to 100: hosts from .10, home routers from .110, on the bridge's /24.
        let index = u8::try_from(i)
            .ok()
            .filter(|index| *index < 100)
            .ok_or_else(|| step_error("counting hosts", "at most 100 hosts"))?;
        // A home host's router takes its place on the bridge (.110 and up); the host is on
        // the home's network, the same in every home as behind every household box.
        let home = spec.home.then(|| HomeRouter {
            netns: format!("chaton{}-box{index}", state.id),
            veth: format!("chv{}b{index}", state.id),
            wan_address: format!("10.231.{}.{}", state.id, 110 + u16::from(index)),
            lan_address: HOME_GATEWAY.to_owned(),
        });
        let address = match &home {
            Some(_) => HOME_HOST.to_owned(),
            None => format!("10.231.{}.{}", state.id, 10 + u16::from(index)),
        };
        let host = LabHost {
            name: spec.name.clone(),
            distribution: spec.distribution,
            address,
            netns: format!("chaton{}-{}", state.id, spec.name),
            veth: format!("chv{}h{index}", state.id),
            overlay: state.dir.join("hosts").join(&spec.name),
            pid: None,
            host_key: String::new(),
            names: spec.names.clone(),
            home,
        };
        state.hosts.push(host);
        let last = state.hosts.len() - 1;
        let host_key = process::prepare_root(&state.hosts[last], base, &public_key, &state.bridge_address)?;
        state.hosts[last].host_key = host_key;
        state.save()?;
        match &state.hosts[last].home {
            Some(router) => net::home_up(&state.hosts[last], router, &state.bridge, &state.bridge_address)?,
            None => net::host_up(&state.hosts[last], &state.bridge, &state.bridge_address)?,
        }
        state.save()?;
    }
    on_step("overlays, host keys, namespaces", start.elapsed());

    let start = Instant::now();
    let mut started = Vec::new();
    let acme = acme::start(&state.dir, &state.bridge_address, &state.hosts, &mut started);
    state.helper_pids = started;
    state.acme = Some(acme?);
    state.save()?;
    on_step("test certificate authority (pebble)", start.elapsed());

    let start = Instant::now();
    for host in &mut state.hosts {
        host.pid = Some(process::boot(host, &state.dir.join("logs"))?);
    }
    state.save()?;
    let waits: Vec<Result<(), LabError>> = std::thread::scope(|s| {
        let handles: Vec<_> = state.hosts.iter().map(|h| s.spawn(move || process::wait_for_ssh(h))).collect();
        handles.into_iter().map(|h| h.join().expect("wait thread")).collect()
    });
    waits.into_iter().collect::<Result<Vec<_>, _>>()?;
    on_step(&format!("boot {} host(s) until sshd answers", state.hosts.len()), start.elapsed());
    Ok(())
}

/// Tears the whole lab down: every host, the proxy, the bridge. Keeps going on errors and
/// reports them all at the end.
pub fn down(state: &LabState) -> Result<(), LabError> {
    let mut problems = Vec::new();
    for host in &state.hosts {
        if let Err(e) = stop_host(host) {
            problems.push(e.to_string());
        }
    }
    for pid in state.proxy_pid.iter().chain(&state.helper_pids) {
        process::stop(*pid, Duration::from_secs(5));
    }
    if let Err(e) = net::bridge_down(&state.bridge) {
        problems.push(e.to_string());
    }
    let _ = std::fs::remove_file(state.dir.join("lab.json"));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(LabError::Step { what: "tearing the lab down".into(), detail: problems.join("; ") })
    }
}

fn stop_host(host: &LabHost) -> Result<(), LabError> {
    if let Some(pid) = host.pid {
        process::stop(pid, Duration::from_secs(20));
    }
    process::remove_cgroups(host);
    process::unmount(&host.overlay.join("root"))?;
    net::host_down(host)?;
    if let Some(router) = &host.home {
        net::home_down(router)?;
    }
    std::fs::remove_dir_all(&host.overlay)
        .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
        .map_err(|e| step_error(&format!("removing {}", host.overlay.display()), e))
}

/// Reboots a host as a server reboots: its systemd shuts down cleanly (SIGTERM to nspawn),
/// then the same root boots again; returns once its sshd answers. Records the new pid.
pub fn reboot(state: &mut LabState, name: &str) -> Result<(), LabError> {
    let logs = state.dir.join("logs");
    let host = state
        .hosts
        .iter_mut()
        .find(|h| h.name == name)
        .ok_or_else(|| LabError::Step { what: format!("rebooting {name}"), detail: "no such lab host".into() })?;
    if let Some(pid) = host.pid.take() {
        process::stop(pid, Duration::from_secs(30));
    }
    process::remove_cgroups(host);
    host.pid = Some(process::boot(host, &logs)?);
    let host = host.clone();
    state.save()?;
    process::wait_for_ssh(&host)
}

/// Points `name` at lab host `host` in the lab's DNS (the one its certificate authority
/// asks), as a hoster changes a record when a service moves to another server.
pub fn point_name(state: &LabState, name: &str, host: &str) -> Result<(), LabError> {
    let to = state.host(host).ok_or_else(|| LabError::Step {
        what: format!("pointing {name} at {host}"),
        detail: "no such lab host".into(),
    })?;
    acme::replace_record(&state.bridge_address, name, &to.address)
}

/// Cuts a host off the network (its link goes down), as if its connection failed; a home
/// host loses its household's connection.
pub fn disconnect(host: &LabHost) -> Result<(), LabError> {
    net::link_down(host.home.as_ref().map_or(&host.veth, |router| &router.veth))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_missing_program_is_named_with_one_install_command() {
        let error = require(&[
            ("chaton-no-such-program-a", "package-a"),
            ("sh", "dash"),
            ("chaton-no-such-program-b", "package-b"),
        ])
        .unwrap_err()
        .to_string();
        assert!(error.contains("chaton-no-such-program-a, chaton-no-such-program-b"), "{error}");
        assert!(error.contains("apt-get install package-a package-b"), "{error}");
        assert!(require(&[("sh", "dash")]).is_ok());
    }
}
