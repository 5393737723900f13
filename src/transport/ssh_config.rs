//! Turns a server of the description into an `Endpoint`, honouring `~/.ssh/config`.
//!
//! libssh2 does not read `~/.ssh/config`, so when the OpenSSH client is installed we ask it:
//! `ssh -G HOST` prints the configuration that applies (HostName, Port, User,
//! IdentityFile, ProxyJump) after aliases and `Match` blocks.

use std::path::PathBuf;
use std::process::Command;

use super::Endpoint;
use crate::description::model::Server;

/// Settings `ssh -G` reported for a host.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SshConfig {
    pub hostname: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub identity_files: Vec<String>,
    pub proxy_jump: Option<String>,
}

/// Parses the output of `ssh -G`.
pub fn parse(output: &str) -> SshConfig {
    let mut config = SshConfig::default();
    for line in output.lines() {
        let Some((key, value)) = line.split_once(' ') else { continue };
        match key {
            "hostname" => config.hostname = Some(value.to_owned()),
            "port" => config.port = value.parse().ok(),
            "user" => config.user = Some(value.to_owned()),
            "identityfile" => config.identity_files.push(value.to_owned()),
            "proxyjump" if value != "none" => config.proxy_jump = Some(value.to_owned()),
            _ => {}
        }
    }
    config
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

fn expand(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), home()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// The endpoint of a server: the description's user and port win when they are set
/// (port other than 22), `~/.ssh/config` supplies the real host name and key files. A
/// `proxy_jump` server of the description (one of `servers`) is reached first.
pub fn endpoint_via(
    server: &Server,
    servers: &[Server],
    description_dir: &std::path::Path,
) -> Result<Endpoint, String> {
    let mut target = endpoint(server, description_dir)?;
    if let Some(name) = &server.proxy_jump {
        let jump = servers.iter().find(|s| s.name == *name).ok_or_else(|| format!("unknown jump server {name}"))?;
        target.jump = Some(Box::new(endpoint(jump, description_dir)?));
    }
    Ok(target)
}

/// `[user@]host[:port]` of a ProxyJump line.
fn parse_jump(spec: &str) -> (Option<String>, String, Option<u16>) {
    let (user, rest) = match spec.rsplit_once('@') {
        Some((u, r)) => (Some(u.to_owned()), r),
        None => (None, spec),
    };
    match rest.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => (user, h.to_owned(), p.parse().ok()),
        _ => (user, rest.to_owned(), None),
    }
}

fn endpoint(server: &Server, description_dir: &std::path::Path) -> Result<Endpoint, String> {
    let config = Command::new("ssh")
        .arg("-G")
        .arg("-p")
        .arg(server.port.to_string())
        .arg("--")
        .arg(&server.address)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| parse(&String::from_utf8_lossy(&o.stdout)))
        .unwrap_or_default();
    let jump = match (&config.proxy_jump, &server.proxy_jump) {
        // The description's proxy_jump wins (set by `endpoint_via`).
        (Some(_), Some(_)) | (None, _) => None,
        (Some(spec), None) => {
            if spec.contains(',') {
                return Err(format!(
                    "{}: ProxyJump {spec} has several hops; chaton goes through one at most",
                    server.address
                ));
            }
            let (user, host, port) = parse_jump(spec);
            let hop = Server {
                name: format!("{} (jump host)", server.name),
                address: host,
                ssh_user: user.unwrap_or_else(|| server.ssh_user.clone()),
                port: port.unwrap_or(22),
                host_key: None,
                ssh_key: server.ssh_key.clone(),
                proxy_jump: None,
                ..server.clone()
            };
            let mut hop_endpoint = endpoint(&hop, description_dir)?;
            hop_endpoint.jump = None;
            Some(Box::new(hop_endpoint))
        }
    };
    let mut identity_files: Vec<PathBuf> = config.identity_files.iter().map(|p| expand(p)).collect();
    let mut named_keys = identity_files.clone();
    if identity_files.is_empty() {
        identity_files = ["id_ed25519", "id_ecdsa", "id_rsa"]
            .iter()
            .filter_map(|k| home().map(|h| h.join(".ssh").join(k)))
            .collect();
    }
    if let Some(key) = &server.ssh_key {
        identity_files.insert(0, description_dir.join(expand(key)));
        named_keys.insert(0, description_dir.join(expand(key)));
    }
    Ok(Endpoint {
        server: server.name.clone(),
        host: config.hostname.unwrap_or_else(|| server.address.clone()),
        port: if server.port != 22 { server.port } else { config.port.unwrap_or(22) },
        user: server.ssh_user.clone(),
        identity_files,
        named_keys,
        pinned_key: server.host_key.clone(),
        jump,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ssh_dash_g() {
        let out = "host pangolin\nhostname 203.0.113.10\nport 2222\nuser camille\nidentityfile ~/.ssh/id_ed25519\nidentityfile ~/.ssh/id_rsa\nproxyjump none\n";
        let c = parse(out);
        assert_eq!(c.hostname.as_deref(), Some("203.0.113.10"));
        assert_eq!(c.port, Some(2222));
        assert_eq!(c.identity_files.len(), 2);
        assert_eq!(c.proxy_jump, None);
        assert_eq!(parse("proxyjump bastion\n").proxy_jump.as_deref(), Some("bastion"));
        assert_eq!(
            parse_jump("camille@gate.example:2222"),
            (Some("camille".into()), "gate.example".into(), Some(2222))
        );
        assert_eq!(parse_jump("gate"), (None, "gate".into(), None));
    }
}
