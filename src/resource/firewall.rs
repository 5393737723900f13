//! Firewall ports: a port the live firewall must accept.
//!
//! The persistent rule set is `/etc/nftables.conf`, rendered by the `base` recipe from every
//! port the services on the server declare; it is the single source of truth. This kind
//! checks the *live* rule set (what actually protects the server) and, when it differs,
//! loads the persistent file again.

use serde::Serialize;
use serde_json::json;

use super::{Action, Change, Kind, ResourceId, change};
use crate::command::Command;
use crate::facts::{FactQuery, HostFacts};
use crate::vocab::Proto;

pub const RULESET: &str = "/etc/nftables.conf";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FirewallPort {
    pub port: u16,
    pub proto: Proto,
    /// The service that opens it (for people reading the plan).
    pub service: String,
}

/// Ports open in the live firewall that no service declares: reloading the persistent rule
/// set closes them.
pub fn stray_ports(desired: &[&FirewallPort], facts: &HostFacts) -> Vec<Change> {
    let Some(live) = &facts.firewall else {
        return Vec::new();
    };
    live.iter()
        .filter(|(port, proto)| !desired.iter().any(|d| d.port == *port && d.proto == *proto))
        .map(|(port, proto)| {
            change(
                ResourceId { kind: FirewallPort::KIND.into(), name: format!("{port}/{proto}") },
                Action::Delete,
                Some(json!({ "open": true })),
                Some(json!({ "open": false })),
                vec![format!("port {port}/{proto} is open but no service declares it")],
                vec![Command::new(["nft", "-f", RULESET])],
            )
        })
        .collect()
}

impl Kind for FirewallPort {
    const KIND: &'static str = "firewall_port";

    fn key(&self) -> String {
        format!("{}/{}", self.port, self.proto)
    }

    fn wants(&self, query: &mut FactQuery) {
        query.firewall = true;
    }

    fn plan(&self, facts: &HostFacts) -> Option<Change> {
        let open = facts.firewall.as_ref().is_some_and(|ports| ports.contains(&(self.port, self.proto)));
        if open {
            return None;
        }
        let reason = match &facts.firewall {
            None => "the chaton firewall table is not loaded".to_owned(),
            Some(_) => format!("port {}/{} is closed", self.port, self.proto),
        };
        Some(change(
            self.id(),
            Action::Create,
            Some(json!({ "open": false })),
            Some(json!({ "open": true, "service": self.service })),
            vec![reason],
            vec![Command::new(["nft", "-f", RULESET])],
        ))
    }

    fn recorded(&self) -> Vec<String> {
        Vec::new()
    }
}
