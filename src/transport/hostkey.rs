//! Host key trust: a key pinned in the description, the project's `known_hosts` next to the
//! description, or the user's `~/.ssh/known_hosts` (read by `known_hosts.rs`). Strict by
//! default: an unknown key is refused unless `--accept-new`, a changed or revoked key is
//! always refused.

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use ssh2::{HostKeyType, Session};

use super::known_hosts::{self, Verdict};
use super::{HostKeyPolicy, TransportError};
pub use crate::vocab::host_pattern;

/// OpenSSH's name for a key type.
pub fn key_type_name(kind: HostKeyType) -> &'static str {
    match kind {
        HostKeyType::Rsa => "ssh-rsa",
        HostKeyType::Dss => "ssh-dss",
        HostKeyType::Ecdsa256 => "ecdsa-sha2-nistp256",
        HostKeyType::Ecdsa384 => "ecdsa-sha2-nistp384",
        HostKeyType::Ecdsa521 => "ecdsa-sha2-nistp521",
        HostKeyType::Ed25519 => "ssh-ed25519",
        HostKeyType::Unknown => "unknown",
    }
}

/// `SHA256:...` as `ssh-keygen -lf` prints it.
pub fn fingerprint(key: &[u8]) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(key);
    format!("SHA256:{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest))
}

/// Checks the session's host key against the policy; records it when `accept_new` allows.
pub fn verify(
    session: &Session,
    endpoint: &str,
    host: &str,
    port: u16,
    pinned: Option<&str>,
    policy: &HostKeyPolicy,
) -> Result<(), TransportError> {
    let (key, kind) = session.host_key().ok_or_else(|| TransportError::Connect {
        endpoint: endpoint.to_owned(),
        reason: "the server sent no host key".into(),
    })?;
    let key_type = key_type_name(kind).to_owned();
    let blob = base64::engine::general_purpose::STANDARD.encode(key);
    let changed = |known_in: String| TransportError::ChangedHostKey {
        endpoint: endpoint.to_owned(),
        key_type: key_type.clone(),
        fingerprint: fingerprint(key),
        known_in,
    };

    if let Some(pinned) = pinned {
        let mut parts = pinned.split_whitespace();
        return if parts.next() == Some(key_type.as_str()) && parts.next() == Some(blob.as_str()) {
            Ok(())
        } else {
            Err(changed("the host_key pinned in the description".into()))
        };
    }

    // Every known_hosts file counts, read line by line: a key recorded anywhere for this
    // host that is not the one presented makes it changed, never unknown.
    let name = host_pattern(host, port);
    let files = [Some(policy.project_known_hosts.as_path()), policy.user_known_hosts.as_deref()];
    let mut known = false;
    let mut changed_in = None;
    for file in files.into_iter().flatten() {
        let Ok(bytes) = std::fs::read(file) else { continue };
        match known_hosts::check(&String::from_utf8_lossy(&bytes), &name, &key_type, key) {
            Verdict::Revoked => {
                return Err(TransportError::RevokedHostKey {
                    endpoint: endpoint.to_owned(),
                    key_type: key_type.clone(),
                    fingerprint: fingerprint(key),
                    revoked_in: file.display().to_string(),
                });
            }
            Verdict::Match => known = true,
            Verdict::Changed => changed_in = changed_in.or(Some(file.display().to_string())),
            Verdict::Unknown => {}
        }
    }
    if known {
        return Ok(());
    }
    if let Some(file) = changed_in {
        return Err(changed(file));
    }
    if policy.accept_new {
        return record(&policy.project_known_hosts, &format!("{} {key_type} {blob}", host_pattern(host, port)));
    }
    Err(TransportError::UnknownHostKey {
        endpoint: endpoint.to_owned(),
        key_type: key_type.clone(),
        fingerprint: fingerprint(key),
        key_line: format!("{key_type} {blob}"),
    })
}

/// Appends one line to the project's known_hosts (created 0644 if missing).
fn record(path: &Path, line: &str) -> Result<(), TransportError> {
    let fail =
        |e: std::io::Error| TransportError::KnownHostsWrite { path: path.display().to_string(), reason: e.to_string() };
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(fail)?;
    writeln!(file, "{line}").map_err(fail)
}
