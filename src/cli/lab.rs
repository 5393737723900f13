//! `chaton lab up|down|status`: practice servers for workshops and tests.

use std::path::PathBuf;

use clap::Subcommand;

use crate::error::{Error, exit};
use crate::lab::{self, Config, HostSpec, LabState};
use crate::vocab::Distribution;

#[derive(Debug, Subcommand)]
pub(super) enum LabCommand {
    /// Boot the lab hosts and write a description that points at them.
    Up {
        /// The lab's folder (state, keys, logs and hoster.yml).
        #[arg(long, default_value = "lab")]
        dir: PathBuf,
        /// Debian releases to boot (12, 13); repeat for several.
        #[arg(long = "debian", default_values_t = [12u8], value_parser = clap::value_parser!(u8).range(12..=13))]
        releases: Vec<u8>,
        /// Hosts per release.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=20))]
        count: u8,
        /// Where base images are cached between runs.
        #[arg(long, default_value = lab::DEFAULT_CACHE)]
        cache: PathBuf,
        /// Practise your own description: one lab host per server of FILE (its name and
        /// Debian release), its services' domains on them, and a lab copy of FILE to apply.
        #[arg(long = "for", value_name = "FILE", conflicts_with_all = ["releases", "count"])]
        for_description: Option<PathBuf>,
    },
    /// Stop and remove every lab host (mounts, namespaces, processes).
    Down {
        #[arg(long, default_value = "lab")]
        dir: PathBuf,
    },
    /// Show the lab's hosts and whether they answer.
    Status {
        #[arg(long, default_value = "lab")]
        dir: PathBuf,
    },
}

fn failed(e: lab::LabError) -> Error {
    Error::Output(e.to_string())
}

/// `count` hosts per release asked for, numbered per release: `--debian 12 --debian 12`
/// asks for two Debian 12 hosts, d12-1 and d12-2.
fn host_specs(releases: &[u8], count: u8) -> Vec<HostSpec> {
    let mut hosts: Vec<HostSpec> = Vec::new();
    for &release in releases {
        let distribution = if release == 12 { Distribution::Debian12 } else { Distribution::Debian13 };
        let before = hosts.iter().filter(|h| h.distribution == distribution).count();
        for i in 1..=usize::from(count) {
            hosts.push(HostSpec {
                name: format!("d{release}-{}", before + i),
                distribution,
                names: Vec::new(),
                home: false,
            });
        }
    }
    hosts
}

/// One host per server of a description, named and released as it is, with the domains of
/// the services on it. The domains of a server at home go to its relay, where its visitors
/// arrive. The server at home is an ordinary lab host all the same, which this machine
/// reaches as from the home's own network (a workshop's first apply); `tests/relay.rs`
/// proves the relay with one behind the lab's NAT.
fn hosts_for(hoster: &crate::description::model::Hoster) -> Vec<HostSpec> {
    let arrives_at = |server: &str| {
        let relay = hoster.servers.iter().find(|s| s.name == server).and_then(|s| s.relay.as_deref());
        relay.unwrap_or(server).to_owned()
    };
    hoster
        .servers
        .iter()
        .map(|server| HostSpec {
            name: server.name.clone(),
            distribution: server.distribution,
            names: hoster
                .services
                .iter()
                .filter(|s| arrives_at(&s.server) == server.name)
                .filter_map(|s| s.domain.clone())
                .collect(),
            home: false,
        })
        .collect()
}

pub(super) fn run(command: LabCommand) -> Result<u8, Error> {
    match command {
        LabCommand::Up { dir, releases, count, cache, for_description } => {
            let own = match &for_description {
                Some(file) => {
                    let checked = crate::pipeline::check(file, None)?;
                    super::output::print_diagnostics(&checked.warnings, false);
                    Some((file.clone(), checked))
                }
                None => None,
            };
            let hosts = match &own {
                Some((_, checked)) => hosts_for(&checked.description.hoster),
                None => host_specs(&releases, count),
            };
            let config = Config { dir, hosts, cache };
            // A step that has not begun yet (took zero) is announced, the others timed.
            let report = |step: &str, took: std::time::Duration| {
                if took.is_zero() {
                    eprintln!("lab: {step}...");
                } else {
                    eprintln!("lab: {step}: {:.1} s", took.as_secs_f64());
                }
            };
            let state = lab::up(&config, &report).map_err(failed)?;
            let description = match &own {
                Some((file, checked)) => lab::write_copy(&state, &checked.description.hoster, file).map_err(failed)?,
                None => lab::write_description(&state).map_err(failed)?,
            };
            for host in &state.hosts {
                eprintln!("lab: {} ({}) at {}", host.name, host.distribution.label(), host.address);
            }
            eprintln!("lab ready. Next: chaton apply {}", description.display());
            Ok(exit::OK)
        }
        LabCommand::Down { dir } => {
            let state = LabState::load(&dir).map_err(failed)?;
            lab::down(&state).map_err(failed)?;
            eprintln!("lab: {} host(s) stopped and removed", state.hosts.len());
            Ok(exit::OK)
        }
        LabCommand::Status { dir } => {
            let state = LabState::load(&dir).map_err(failed)?;
            for host in &state.hosts {
                let answers = std::net::TcpStream::connect_timeout(
                    &format!("{}:22", host.address).parse().expect("address"),
                    std::time::Duration::from_secs(2),
                )
                .is_ok();
                println!(
                    "{}\t{}\t{}\t{}",
                    host.name,
                    host.distribution.label(),
                    host.address,
                    if answers { "ssh answers" } else { "not answering" }
                );
            }
            Ok(exit::OK)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--for`: the example's two servers, named and released as described, each with the
    /// domains its visitors arrive at for the lab's DNS: the relay pangolin has those of the
    /// home server loutre too.
    #[test]
    fn a_description_gets_one_host_per_server_with_its_services_domains() {
        let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/amipo/hoster.yml");
        let checked = crate::pipeline::check(&example, None).unwrap();
        let hosts = hosts_for(&checked.description.hoster);
        let summary: Vec<(String, Distribution, Vec<String>)> =
            hosts.into_iter().map(|h| (h.name, h.distribution, h.names)).collect();
        assert_eq!(
            summary,
            [
                (
                    "pangolin".into(),
                    Distribution::Debian12,
                    vec![
                        "amipo.example".into(),
                        "wiki.amipo.example".into(),
                        "cloud.amipo.example".into(),
                        "agenda.amipo.example".into(),
                        "pads.amipo.example".into()
                    ]
                ),
                ("loutre".into(), Distribution::Debian13, vec![]),
            ]
        );
    }

    #[test]
    fn a_release_asked_twice_gets_hosts_numbered_on() {
        let names: Vec<String> = host_specs(&[12, 13, 12], 2).into_iter().map(|h| h.name).collect();
        assert_eq!(names, ["d12-1", "d12-2", "d13-1", "d13-2", "d12-3", "d12-4"]);
    }
}
