//! The libssh2 transport: one TCP connection (TCP_NODELAY) and one SSH session per host,
//! host key checked before authentication, agent then key files, a deadline on every
//! script. Scripts go on standard input, so their size is not limited by the remote
//! command line; the remote shell reads the whole script before running it, so a script
//! that prints a lot cannot deadlock against a script still being sent.

use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use ssh2::{MethodType, Session};

use super::{Connector, Endpoint, HostKeyPolicy, ScriptOutput, Timeouts, Transport, TransportError, hostkey};
use crate::shell::quote;

/// Host key algorithms in order of preference: the strongest first, so the key checked
/// is the one admins usually pin.
const HOST_KEY_PREFERENCE: &str =
    "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256,ssh-rsa";

pub struct SshTransport {
    session: Session,
    endpoint: Endpoint,
    timeouts: Timeouts,
    channels: usize,
    /// When this host's run must be over: every connect, read, write and close waits at
    /// most until then.
    deadline: Instant,
    /// The tunnel through the jump host, when there is one (kept alive with the session).
    _tunnel: Option<super::tunnel::Tunnel>,
}

impl SshTransport {
    /// Connects, checks the host key and logs in, all before `deadline` (the host's run's).
    pub fn connect(
        endpoint: &Endpoint,
        policy: &HostKeyPolicy,
        timeouts: Timeouts,
        deadline: Instant,
    ) -> Result<Self, TransportError> {
        let name = format!("{} ({}@{}:{})", endpoint.server, endpoint.user, endpoint.host, endpoint.port);
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(TransportError::Timeout { endpoint: name, seconds: timeouts.script.as_secs() });
        }
        let wait = timeouts.connect.min(left);
        let connect_error = |reason: String| TransportError::Connect { endpoint: name.clone(), reason };
        let mut session = Session::new().map_err(|e| connect_error(e.to_string()))?;
        let tunnel = match &endpoint.jump {
            None => {
                session.set_tcp_stream(tcp_connect(&endpoint.host, endpoint.port, wait).map_err(connect_error)?);
                None
            }
            Some(jump) => {
                // ProxyJump: the jump host is a full connection of its own, host key checked.
                let hop = SshTransport::connect(jump, policy, timeouts, deadline)?;
                let (local, tunnel) =
                    super::tunnel::Tunnel::open(hop.session.clone(), hop, &endpoint.host, endpoint.port)
                        .map_err(|e| connect_error(format!("through {}: {e}", jump.host)))?;
                session.set_tcp_stream(local);
                Some(tunnel)
            }
        };
        session.set_timeout(millis(wait));
        session.method_pref(MethodType::HostKey, HOST_KEY_PREFERENCE).map_err(|e| connect_error(e.to_string()))?;
        session.handshake().map_err(|e| connect_error(format!("SSH handshake failed: {e}")))?;

        hostkey::verify(&session, &name, &endpoint.host, endpoint.port, endpoint.pinned_key.as_deref(), policy)?;
        authenticate(&session, endpoint, &name)?;
        // No libssh2 keepalive: in blocking mode it cuts reads after the keepalive interval
        // of silence (a slow `apt-get` prints nothing for longer); the script deadline
        // bounds every wait instead.
        Ok(Self { session, endpoint: endpoint.clone(), timeouts, channels: 0, deadline, _tunnel: tunnel })
    }

    fn name(&self) -> String {
        format!("{} ({}@{}:{})", self.endpoint.server, self.endpoint.user, self.endpoint.host, self.endpoint.port)
    }
}

/// A TCP connection with TCP_NODELAY: without it every channel pays a Nagle/delayed-ACK
/// stall (about 40 ms).
fn tcp_connect(host: &str, port: u16, wait: Duration) -> Result<TcpStream, String> {
    let addresses: Vec<_> =
        (host, port).to_socket_addrs().map_err(|e| format!("cannot resolve {host}: {e}"))?.collect();
    let mut last_error = String::from("no address");
    for address in &addresses {
        match TcpStream::connect_timeout(address, wait) {
            Ok(stream) => {
                stream.set_nodelay(true).map_err(|e| e.to_string())?;
                return Ok(stream);
            }
            Err(e) => last_error = e.to_string(),
        }
    }
    Err(last_error)
}

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX).max(1)
}

fn authenticate(session: &Session, endpoint: &Endpoint, name: &str) -> Result<(), TransportError> {
    let mut tried = Vec::new();
    if std::env::var_os("SSH_AUTH_SOCK").is_some() {
        match session.userauth_agent(&endpoint.user) {
            Ok(()) if session.authenticated() => return Ok(()),
            Ok(()) => tried.push("ssh-agent: no key accepted".to_owned()),
            Err(e) => tried.push(format!("ssh-agent: {}", e.message())),
        }
    } else {
        tried.push("ssh-agent: not running (SSH_AUTH_SOCK is not set)".to_owned());
    }
    for key in &endpoint.identity_files {
        if !key.exists() {
            if endpoint.named_keys.contains(key) {
                tried.push(format!("{}: no such file (named by ssh_key or IdentityFile)", key.display()));
            }
            continue;
        }
        match session.userauth_pubkey_file(&endpoint.user, None, key, None) {
            Ok(()) if session.authenticated() => return Ok(()),
            Ok(()) => tried.push(format!("{}: not accepted", key.display())),
            Err(e) => tried.push(format!("{}: {}", key.display(), e.message())),
        }
    }
    if tried.len() == 1 {
        tried.push("no key file found (~/.ssh/id_ed25519, id_ecdsa, id_rsa or IdentityFile)".to_owned());
    }
    Err(TransportError::Auth { endpoint: name.to_owned(), user: endpoint.user.clone(), reason: tried.join("; ") })
}

/// Opens `SshTransport`s: the connector of every real run.
#[derive(Debug, Clone, Copy, Default)]
pub struct SshConnector;

impl Connector for SshConnector {
    fn connect(
        &self,
        endpoint: &Endpoint,
        policy: &HostKeyPolicy,
        timeouts: Timeouts,
        deadline: Instant,
    ) -> Result<Box<dyn Transport>, TransportError> {
        Ok(Box::new(SshTransport::connect(endpoint, policy, timeouts, deadline)?))
    }
}

impl Transport for SshTransport {
    fn run(&mut self, script: &str, on_line: &mut dyn FnMut(&str)) -> Result<ScriptOutput, TransportError> {
        let deadline = self.deadline;
        let name = self.name();
        let seconds = self.timeouts.script.as_secs();
        let timeout = || TransportError::Timeout { endpoint: name.clone(), seconds };
        let dropped =
            |e: &dyn std::fmt::Display| TransportError::Dropped { endpoint: name.clone(), reason: e.to_string() };

        // The whole script is read before it runs (see the module comment); stderr is merged
        // into stdout so one stream carries everything, in order.
        let runner = "chaton_script=$(cat) && exec 2>&1 && eval \"$chaton_script\"";
        let mut command = format!("/bin/sh -c {}", quote(runner));
        if self.endpoint.user != "root" {
            // -n: never prompt; a password must never travel on a command line.
            command = format!("sudo -n {command}");
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timeout());
        }
        self.session.set_timeout(millis(self.timeouts.connect.min(left)));
        let mut channel = match self.session.channel_session() {
            Ok(channel) => channel,
            Err(e) => {
                self.session.set_timeout(1);
                return Err(dropped(&e));
            }
        };
        self.channels += 1;
        let result = talk(&self.session, &mut channel, &command, script, deadline, on_line, &timeout, &dropped);
        if result.is_err() {
            // Freeing the channel waits for the server in blocking mode: on a dead link that
            // wait must not outlast the deadline (it once added a whole timeout).
            self.session.set_timeout(1);
        }
        drop(channel);
        result
    }

    fn channels_opened(&self) -> usize {
        self.channels
    }
}

impl Drop for SshTransport {
    /// Freeing the session must not wait on a dead link either.
    fn drop(&mut self) {
        self.session.set_timeout(1);
    }
}

/// Runs `command` on an open channel with `script` on its standard input, until `deadline`.
#[allow(clippy::too_many_arguments)]
fn talk(
    session: &Session,
    channel: &mut ssh2::Channel,
    command: &str,
    script: &str,
    deadline: Instant,
    on_line: &mut dyn FnMut(&str),
    timeout: &dyn Fn() -> TransportError,
    dropped: &dyn Fn(&dyn std::fmt::Display) -> TransportError,
) -> Result<ScriptOutput, TransportError> {
    let is_timeout = |e: &ssh2::Error| matches!(e.code(), ssh2::ErrorCode::Session(-9));
    let until_deadline = || {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() { Err(timeout()) } else { Ok(millis(left)) }
    };
    channel.exec(command).map_err(|e| dropped(&e))?;
    session.set_timeout(until_deadline()?);
    channel
        .write_all(script.as_bytes())
        .map_err(|e| if e.kind() == std::io::ErrorKind::TimedOut { timeout() } else { dropped(&e) })?;
    channel.send_eof().map_err(|e| if is_timeout(&e) { timeout() } else { dropped(&e) })?;

    let mut output = Vec::new();
    let mut pending = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        session.set_timeout(until_deadline()?);
        let n = match channel.read(&mut buffer) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return Err(timeout()),
            Err(e) => return Err(dropped(&e)),
        };
        if n == 0 {
            break;
        }
        output.extend_from_slice(&buffer[..n]);
        pending.extend_from_slice(&buffer[..n]);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            on_line(String::from_utf8_lossy(&line[..line.len() - 1]).as_ref());
        }
    }
    if !pending.is_empty() {
        on_line(String::from_utf8_lossy(&pending).as_ref());
    }
    // The script merges its stderr into stdout, so what comes on the channel's own stderr was
    // said before the script ran: sudo refusing (`a password is required`), or a shell error.
    let mut said = Vec::new();
    session.set_timeout(until_deadline()?);
    channel
        .stderr()
        .read_to_end(&mut said)
        .map_err(|e| if e.kind() == std::io::ErrorKind::TimedOut { timeout() } else { dropped(&e) })?;
    for line in String::from_utf8_lossy(&said).lines() {
        on_line(line);
    }
    output.extend_from_slice(&said);
    // The exit status is only known after the channel is closed.
    session.set_timeout(until_deadline()?);
    channel.wait_close().map_err(|e| if is_timeout(&e) { timeout() } else { dropped(&e) })?;
    let exit = channel.exit_status().map_err(|e| dropped(&e))?;
    if channel.exit_signal().ok().and_then(|s| s.exit_signal).is_some() {
        return Err(dropped(&"the remote shell was killed by a signal"));
    }
    Ok(ScriptOutput { exit, output: String::from_utf8_lossy(&output).into_owned() })
}
