//! Stage 3: the plan, a value. Desired state + facts of each server give the changes
//! to make, in order, with the handlers they will trigger. The plan is shown, saved as
//! JSON, and applied; applying never does more than the plan.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::command::Command;
use crate::facts::{FactQuery, HostFacts};
use crate::resolve::{DesiredState, Handler, ServerState};
use crate::resource::firewall::stray_ports;
use crate::resource::{Action, Change, Resource, ResourceId};

/// Version of the saved plan format.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub format: u32,
    pub generator: String,
    pub servers: Vec<ServerPlan>,
}

/// Where a server's facts came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum FactsSource {
    /// `--offline`: a freshly installed server of this distribution was assumed.
    AssumedFresh { distribution: String },
    /// Gathered from the server; `digest` identifies exactly what was seen, so a saved
    /// plan can be refused when the server changed since.
    Live { digest: String, os: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerPlan {
    pub server: String,
    pub address: String,
    pub facts: FactsSource,
    pub changes: Vec<PlannedChange>,
    /// Resources already as desired.
    pub unchanged: Vec<ResourceId>,
    /// Handlers that will run after the changes, with what triggers them.
    pub handlers: Vec<HandlerRun>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedChange {
    /// The service (or `base`, `server`) that wants this resource.
    pub origin: String,
    #[serde(flatten)]
    pub change: Change,
}

#[derive(Debug, Clone, Serialize)]
pub struct HandlerRun {
    #[serde(flatten)]
    pub handler: Handler,
    pub triggered_by: Vec<ResourceId>,
}

/// The facts each server's plan needs.
pub fn fact_query(server: &ServerState) -> FactQuery {
    let mut query = FactQuery::default();
    for desired in &server.resources {
        desired.resource.wants(&mut query);
    }
    query
}

/// Computes the plan of every server from its desired state and facts.
pub fn plan(desired: &DesiredState, facts: &BTreeMap<String, (FactsSource, HostFacts)>) -> Plan {
    let servers = desired
        .servers
        .iter()
        .filter_map(|server| facts.get(&server.name).map(|(source, f)| plan_server(server, source.clone(), f)))
        .collect();
    Plan { format: FORMAT, generator: format!("chaton {}", env!("CARGO_PKG_VERSION")), servers }
}

/// The plan of one server.
pub fn plan_server(server: &ServerState, source: FactsSource, facts: &HostFacts) -> ServerPlan {
    let mut changes = Vec::new();
    let mut unchanged = Vec::new();
    let mut triggered: BTreeMap<&str, Vec<ResourceId>> = BTreeMap::new();
    // Handlers an interrupted run recorded but never ran (ansible#4766 must not happen).
    for name in &facts.pending_handlers {
        triggered.entry(name.as_str()).or_default();
    }
    for desired in &server.resources {
        match desired.resource.plan(facts) {
            Some(change) => {
                for name in &desired.notify {
                    triggered.entry(name.as_str()).or_default().push(change.resource.clone());
                }
                changes.push(PlannedChange { origin: desired.origin.clone(), change });
            }
            None => unchanged.push(desired.resource.id()),
        }
    }
    let ports: Vec<_> = server
        .resources
        .iter()
        .filter_map(|d| match &d.resource {
            Resource::FirewallPort(p) => Some(p),
            _ => None,
        })
        .collect();
    for change in stray_ports(&ports, facts) {
        changes.push(PlannedChange { origin: "firewall".into(), change });
    }
    // Fresh package lists before the first install, once per run.
    if let Some(first) =
        changes.iter_mut().find(|c| c.change.resource.kind == "package" && c.change.action != Action::Delete)
    {
        first.change.commands.insert(0, Command::new(["apt-get", "update", "-qq", "-o", "DPkg::Lock::Timeout=600"]));
    }
    let handlers = server
        .handlers
        .iter()
        .filter_map(|h| triggered.remove(h.name.as_str()).map(|by| HandlerRun { handler: h.clone(), triggered_by: by }))
        .collect();
    ServerPlan {
        server: server.name.clone(),
        address: server.address.clone(),
        facts: source,
        changes,
        unchanged,
        handlers,
    }
}

impl Plan {
    pub fn change_count(&self) -> usize {
        self.servers.iter().map(|s| s.changes.len()).sum()
    }
}
