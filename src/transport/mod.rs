//! The transport: the only code that talks to servers. It runs a script on a host and
//! returns its output and exit status. One connection per host, used from one thread.
//!
//! `ssh` implements it with libssh2 (the `ssh2` crate). The engine sees only the two traits
//! (`Connector` opens, `Transport` runs), so a second transport (the system `ssh` with
//! ControlMaster, say) stays possible, and the engine's tests run it over a local shell.

pub mod hostkey;
pub mod known_hosts;
pub mod ssh;
pub mod ssh_config;
pub mod tunnel;

use std::path::PathBuf;
use std::time::Duration;

/// Where and how to reach one server.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The server's name in the description (for messages).
    pub server: String,
    /// Host name or address to connect to (after `~/.ssh/config` aliases).
    pub host: String,
    pub port: u16,
    pub user: String,
    /// Private keys to try after the agent.
    pub identity_files: Vec<PathBuf>,
    /// Those named by the description (`ssh_key`) or `~/.ssh/config` (`IdentityFile`), not
    /// guessed: a missing one is said so when no login works.
    pub named_keys: Vec<PathBuf>,
    /// Host key pinned in the description (`ssh-ed25519 AAAA...`).
    pub pinned_key: Option<String>,
    /// Reached through this host (ProxyJump): a TCP tunnel over an SSH connection to it.
    pub jump: Option<Box<Endpoint>>,
}

/// How host keys are trusted.
#[derive(Debug, Clone)]
pub struct HostKeyPolicy {
    /// The project's own known_hosts, next to the description: `--accept-new` writes here.
    pub project_known_hosts: PathBuf,
    /// The user's `~/.ssh/known_hosts`, also trusted when it exists.
    pub user_known_hosts: Option<PathBuf>,
    /// Trust an unknown host on first use (never a changed one).
    pub accept_new: bool,
}

/// Limits that keep a run from hanging.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// The longest wait for a server to answer a connection.
    pub connect: Duration,
    /// The whole run on one host (`--timeout`): every connect, read, write and close of it
    /// shares this one deadline.
    pub script: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { connect: Duration::from_secs(15), script: Duration::from_secs(1800) }
    }
}

/// What a finished script said.
#[derive(Debug, Clone)]
pub struct ScriptOutput {
    pub exit: i32,
    /// Standard output and error, merged in order.
    pub output: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot connect to {endpoint}: {reason}")]
    Connect { endpoint: String, reason: String },
    #[error(
        "the host key of {endpoint} is not known\n  {key_type} key fingerprint: {fingerprint}\n  to trust it after checking this fingerprint with the provider, run again with --accept-new, or pin it in the description: host_key: \"{key_line}\""
    )]
    UnknownHostKey { endpoint: String, key_type: String, fingerprint: String, key_line: String },
    #[error(
        "WARNING: THE HOST KEY OF {endpoint} HAS CHANGED\n  it now presents {key_type} {fingerprint}, which does not match {known_in}.\n  Someone may be intercepting the connection, or the server was reinstalled.\n  chaton refuses to connect. If the change is expected, remove the old key from {known_in} after checking the new fingerprint."
    )]
    ChangedHostKey { endpoint: String, key_type: String, fingerprint: String, known_in: String },
    #[error(
        "the host key of {endpoint} is REVOKED\n  it presents {key_type} {fingerprint}, marked @revoked in {revoked_in}.\n  chaton refuses to connect."
    )]
    RevokedHostKey { endpoint: String, key_type: String, fingerprint: String, revoked_in: String },
    #[error("cannot log in to {endpoint} as {user}: {reason}")]
    Auth { endpoint: String, user: String, reason: String },
    #[error("{endpoint}: the run's deadline ({seconds} s, --timeout) passed")]
    Timeout { endpoint: String, seconds: u64 },
    #[error("{endpoint}: connection lost: {reason}")]
    Dropped { endpoint: String, reason: String },
    #[error("cannot write {path}: {reason}")]
    KnownHostsWrite { path: String, reason: String },
}

/// Opens the connection to one host. The engine asks it for every login (the run's, and the
/// fresh one that proves access after a run), so tests can put a local shell in place of SSH.
pub trait Connector: Send + Sync + std::fmt::Debug {
    /// Connects to `endpoint` and logs in; `deadline` bounds everything the connection does.
    fn connect(
        &self,
        endpoint: &Endpoint,
        policy: &HostKeyPolicy,
        timeouts: Timeouts,
        deadline: std::time::Instant,
    ) -> Result<Box<dyn Transport>, TransportError>;
}

/// Runs scripts on one host.
pub trait Transport {
    /// Runs `script` with `/bin/sh` (as root: through `sudo -n` for other users) and
    /// returns its merged output and exit status. `on_line` sees each output line as it
    /// arrives, for progress.
    fn run(&mut self, script: &str, on_line: &mut dyn FnMut(&str)) -> Result<ScriptOutput, TransportError>;

    /// Exec channels opened so far on this connection.
    fn channels_opened(&self) -> usize;
}
