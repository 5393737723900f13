//! The recipes' checks for `chaton verify`. Commands (and UDP ports) are checked on the
//! server inside the facts script, so verify costs no extra channel; TCP ports and HTTP
//! are checked from the control machine, through the firewall, as users reach them.

use std::time::Duration;

use serde::Serialize;

use crate::command::Command;
use crate::facts::{FactQuery, HostFacts};
use crate::resolve::{Check, CheckKind};
use crate::shell::render;
use crate::vocab::Proto;

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

pub(super) fn add_guards(checks: &[Check], query: &mut FactQuery) {
    for check in checks {
        if let Some(g) = guard(&check.kind) {
            query.guards.insert(g);
        }
    }
}

fn describe(kind: &CheckKind) -> String {
    match kind {
        CheckKind::Port { port, proto } => format!("port {port}/{proto} answers"),
        CheckKind::Http { url, status, .. } => format!("{url} answers {status}"),
        CheckKind::Command { run } => format!("`{}` succeeds", crate::diagnostic::sanitize(&run.join(" "))),
    }
}

/// Where the checks from outside go: the address visitors reach the server at, and for a
/// home server reached through its relay's tunnel, that relay (whose public address is the
/// home server's for visitors) and the SSH port this very connection came in by.
pub(super) struct Outside<'a> {
    pub host: &'a str,
    pub through_relay: Option<(&'a str, u16)>,
}

pub(super) fn run(checks: &[Check], facts: &HostFacts, outside: &Outside, timeout: Duration) -> Vec<CheckOutcome> {
    let host = outside.host;
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
                (CheckKind::Port { port, .. }, None) => match outside.through_relay {
                    // Not public at home: reached through the tunnel, as this connection was.
                    Some((relay, ssh_port)) if ssh_port == *port => {
                        (true, format!("answered through the relay tunnel of {relay} (this connection)"))
                    }
                    _ => tcp_port(host, *port, timeout),
                },
                (CheckKind::Http { url, status, ca_certificate }, None) => {
                    http(host, url, *status, ca_certificate.as_deref(), timeout)
                }
                (CheckKind::Command { .. }, None) => (false, "was not run".to_owned()),
            };
            CheckOutcome { check: describe(&check.kind), origin: check.origin.clone(), ok, detail }
        })
        .collect()
}

fn tcp_port(host: &str, port: u16, timeout: Duration) -> (bool, String) {
    match crate::http::connect(host, port, timeout) {
        Ok(_) => (true, format!("{host}:{port} accepted a connection")),
        Err(e) => (false, format!("{host}:{port}: {e}")),
    }
}

/// An HTTP(S) GET asked of the server's address (see `crate::http`), compared with the
/// status the recipe expects.
fn http(host: &str, url: &str, expected: u16, extra_roots: Option<&str>, timeout: Duration) -> (bool, String) {
    let over = |version: Option<String>| version.map(|v| format!(" over {v}")).unwrap_or_default();
    match crate::http::get(host, url, extra_roots, timeout) {
        Ok(answer) if answer.status == expected => (true, format!("answered {}{}", answer.status, over(answer.tls))),
        Ok(answer) => (false, format!("answered {}{}, expected {expected}", answer.status, over(answer.tls))),
        Err(e) => (false, e),
    }
}
