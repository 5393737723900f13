//! The recipes' checks for `chaton verify`. Commands (and UDP ports) are checked on the
//! server inside the facts script, so verify costs no extra channel; TCP ports and HTTP
//! are checked from the control machine, through the firewall, as users reach them.

use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::Serialize;

use crate::command::Command;
use crate::facts::{FactQuery, HostFacts};
use crate::recipe::model::Proto;
use crate::resolve::{Check, CheckKind};
use crate::shell::render;

#[derive(Debug, Clone, Serialize)]
pub struct CheckOutcome {
    pub check: String,
    pub origin: String,
    pub ok: bool,
    pub detail: String,
}

/// The shell text that checks on the server, for checks that run there.
fn guard(kind: &CheckKind) -> Option<String> {
    match kind {
        CheckKind::Command { run } => Some(render(&Command::read_only(run.clone()))),
        // `port` is a number: nothing to quote.
        CheckKind::Port { port, proto: Proto::Udp } => Some(format!("ss -Hlun 'sport = :{port}' | grep -q .")),
        _ => None,
    }
}

pub fn add_guards(checks: &[Check], query: &mut FactQuery) {
    for check in checks {
        if let Some(g) = guard(&check.kind) {
            query.guards.insert(g);
        }
    }
}

fn describe(kind: &CheckKind) -> String {
    match kind {
        CheckKind::Port { port, proto } => format!("port {port}/{proto} answers"),
        CheckKind::Http { url, status } => format!("{url} answers {status}"),
        CheckKind::Command { run } => format!("`{}` succeeds", crate::diagnostic::sanitize(&run.join(" "))),
    }
}

pub fn run(checks: &[Check], facts: &HostFacts, host: &str, timeout: Duration) -> Vec<CheckOutcome> {
    checks
        .iter()
        .map(|check| {
            let on_server = |g: String| match facts.guards.get(&g) {
                Some(true) => (true, "succeeded on the server".to_owned()),
                Some(false) => (false, "failed on the server".to_owned()),
                None => (false, "was not run".to_owned()),
            };
            let (ok, detail) = match (&check.kind, guard(&check.kind)) {
                (_, Some(g)) => on_server(g),
                (CheckKind::Port { port, .. }, None) => tcp_port(host, *port, timeout),
                (CheckKind::Http { url, status }, None) => http(host, url, *status, timeout),
                (CheckKind::Command { .. }, None) => (false, "was not run".to_owned()),
            };
            CheckOutcome { check: describe(&check.kind), origin: check.origin.clone(), ok, detail }
        })
        .collect()
}

fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let addresses = (host, port).to_socket_addrs().map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let mut last = "no address".to_owned();
    for address in addresses {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

fn tcp_port(host: &str, port: u16, timeout: Duration) -> (bool, String) {
    match connect(host, port, timeout) {
        Ok(_) => (true, format!("{host}:{port} accepted a connection")),
        Err(e) => (false, format!("{host}:{port}: {e}")),
    }
}

/// A plain HTTP/1.1 GET sent to the server's address with the URL's host name, so the check
/// needs no DNS. HTTPS URLs are not checked by this version: said so, as a failure.
fn http(host: &str, url: &str, expected: u16, timeout: Duration) -> (bool, String) {
    let Some(rest) = url.strip_prefix("http://") else {
        return (false, "HTTPS checks are not available in this version".to_owned());
    };
    let (authority, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let (name, port) = match authority.rsplit_once(':') {
        Some((n, p)) => (n, p.parse().unwrap_or(80)),
        None => (authority, 80),
    };
    let attempt = || -> Result<u16, String> {
        let mut stream = connect(host, port, timeout)?;
        stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\nUser-Agent: chaton-verify\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let mut head = [0u8; 64];
        let n = stream.read(&mut head).map_err(|e| e.to_string())?;
        let line = String::from_utf8_lossy(&head[..n]);
        line.split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not an HTTP answer: {line:?}"))
    };
    match attempt() {
        Ok(status) if status == expected => (true, format!("answered {status}")),
        Ok(status) => (false, format!("answered {status}, expected {expected}")),
        Err(e) => (false, e),
    }
}
