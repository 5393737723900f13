//! Stage 3: the plan, a value. Desired state + facts of each server give the changes
//! to make, in order, with the handlers they will trigger. The plan is shown, saved as
//! JSON, and applied; applying never does more than the plan.

mod installs;
mod reloads;
pub mod removal;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::command::Command;
use crate::facts::{FactQuery, HostFacts};
use crate::resolve::{Desired, DesiredState, Handler, ServerState};
use crate::resource::firewall::stray_ports;
use crate::resource::{Action, Change, Resource, ResourceId};
use crate::vocab::Presence;

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
    /// At home: the relay it is reached through, visitors and chaton alike.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<String>,
    pub facts: FactsSource,
    pub changes: Vec<PlannedChange>,
    /// Resources already as desired.
    pub unchanged: Vec<ResourceId>,
    /// Handlers that will run after the changes, with what triggers them.
    pub handlers: Vec<HandlerRun>,
    /// Set when this run changes or reloads what decides chaton's own access (sshd, the
    /// firewall), or an earlier run left such a change unchecked: apply keeps the last
    /// checked copies of those files and the engine proves a new login afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessGuard>,
    /// What left the description but stays on the server: data, never deleted by a plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<removal::Kept>,
}

/// The files that decide chaton's access on a server and how to reload them, for a run that
/// touches them. See `apply` for the copies, the watchdog and the boot guard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessGuard {
    /// Every file of the server marked `guards_access`, changed on this run or not: a reload
    /// reads them all.
    pub files: Vec<String>,
    /// The handlers those files notify, run again after the checked copies are put back.
    pub reloads: Vec<Handler>,
    /// Why this run must prove a new login.
    pub reasons: Vec<String>,
}

/// Packages whose installation or upgrade restarts sshd or loads the firewall from their
/// maintainer scripts: changing them touches chaton's access as much as a new sshd file.
const ACCESS_PACKAGES: [&str; 3] = ["openssh-server", "openssh-sftp-server", "nftables"];

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
    // The folder of each file: a file whose folder is missing is refused before anything
    // changes (`missing_folders`), not found mid-apply.
    for desired in &server.resources {
        if let Some(parent) = Resource::written_path(&desired.resource).and_then(parent_of) {
            query.paths.insert(parent);
        }
    }
    query.described = Some(crate::resolve::record::managed(&server.resources).iter().map(|m| m.key()).collect());
    query.probes = Resource::probes();
    // A role or database that left the description is looked up among PostgreSQL's.
    query.postgres = true;
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
    let mut triggered: BTreeMap<String, Vec<ResourceId>> = BTreeMap::new();
    // Handlers an interrupted run recorded but never ran (ansible#4766 must not happen).
    for name in &facts.pending_handlers {
        triggered.entry(name.clone()).or_default();
    }
    // What left the description: its units stop first (an old unit must not hold the port
    // of a new one); its files go after everything else, but before the record that
    // forgets them, so a run that fails half-way (an upgrade that does not start) has
    // removed nothing it may need to go back to.
    let removals = removal::plan(facts);
    let mut late_removals = Vec::new();
    for (planned, notify) in removals.changes {
        for name in notify {
            if server.handlers.iter().any(|h| h.name == name) {
                triggered.entry(name).or_default().push(planned.change.resource.clone());
            }
        }
        if planned.change.resource.kind == "service" {
            changes.push(planned);
        } else {
            late_removals.push(planned);
        }
    }
    let mut installs = Vec::new();
    for desired in &server.resources {
        match desired.resource.plan(facts) {
            Some(change) => {
                if let Resource::Package(package) = &desired.resource
                    && package.state == Presence::Present
                {
                    installs.push((changes.len(), package));
                }
                for name in &desired.notify {
                    triggered.entry(name.clone()).or_default().push(change.resource.clone());
                }
                changes.push(PlannedChange { origin: desired.origin.clone(), change });
            }
            None => unchanged.push(desired.resource.id()),
        }
    }
    let joined = installs::join(&mut changes, &installs, facts);
    for by in triggered.values_mut() {
        for id in by.iter_mut() {
            if let Some(new) = joined.get(id) {
                *id = new.clone();
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        by.retain(|id| seen.insert(id.clone()));
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
    let record_at = changes
        .iter()
        .position(|c| {
            c.origin == "chaton" && c.change.resource.name.ends_with(&format!("/{}", crate::resolve::record::RECORD))
        })
        .unwrap_or(changes.len());
    changes.splice(record_at..record_at, late_removals);
    reloads::join(&mut changes);
    // Fresh package lists before the first install, once per run.
    if let Some(first) =
        changes.iter_mut().find(|c| c.change.resource.kind == "package" && c.change.action != Action::Delete)
    {
        first.change.commands.insert(0, Command::new(["apt-get", "update", "-qq", "-o", "DPkg::Lock::Timeout=600"]));
    }
    let handlers: Vec<HandlerRun> = server
        .handlers
        .iter()
        .filter_map(|h| triggered.remove(h.name.as_str()).map(|by| HandlerRun { handler: h.clone(), triggered_by: by }))
        .collect();
    let access = access_guard(server, &changes, &handlers, facts);
    ServerPlan {
        server: server.name.clone(),
        address: server.address.clone(),
        relay: server.relay.clone(),
        facts: source,
        changes,
        unchanged,
        handlers,
        access,
        kept: removals.kept,
    }
}

/// Whether this run touches chaton's access, and with which files: a changed guarded file, a
/// handler that reloads one (owed by the journal or not), a firewall port change (it reloads
/// the rule set), a change to sshd's or nftables' package, or copies an earlier run left
/// unchecked.
fn access_guard(
    server: &ServerState,
    changes: &[PlannedChange],
    handlers: &[HandlerRun],
    facts: &HostFacts,
) -> Option<AccessGuard> {
    let guarded: Vec<&Desired> =
        server.resources.iter().filter(|d| matches!(&d.resource, Resource::File(f) if f.guards_access)).collect();
    let mut reasons = Vec::new();
    if facts.access_unchecked {
        reasons.push("an earlier run changed them and ended before a new login was tried".to_owned());
    }
    for planned in changes.iter().map(|p| &p.change) {
        let id = &planned.resource;
        let touches = planned.guards_access.is_some()
            || id.kind == "firewall_port"
            || (id.kind == "package" && id.name.split(' ').any(|n| ACCESS_PACKAGES.contains(&n)));
        if touches {
            reasons.push(format!("{id} changes"));
        }
    }
    let reload_names: Vec<&str> = guarded.iter().flat_map(|d| d.notify.iter().map(String::as_str)).collect();
    for run in handlers.iter().filter(|h| reload_names.contains(&h.handler.name.as_str())) {
        reasons.push(format!("{} runs", run.handler.name));
    }
    if reasons.is_empty() {
        return None;
    }
    let files = guarded
        .iter()
        .filter_map(|d| match &d.resource {
            Resource::File(f) => Some(f.path.clone()),
            _ => None,
        })
        .collect();
    let reloads = server.handlers.iter().filter(|h| reload_names.contains(&h.name.as_str())).cloned().collect();
    Some(AccessGuard { files, reloads, reasons })
}

fn parent_of(path: &str) -> Option<String> {
    let parent = std::path::Path::new(path).parent()?.to_str()?;
    (!parent.is_empty() && parent != "/").then(|| parent.to_owned())
}

/// Files this plan would write into a folder that does not exist on the server and that
/// nothing before them creates: `(file, folder)`. A folder counts as made by an earlier
/// `directory` change of that path, and as possibly made by an earlier package install or
/// command (Debian's packages make their own folders, archives unpack theirs). Applying such
/// a plan would fail half-way; it is refused before anything changes.
pub fn missing_folders(plan: &ServerPlan, facts: &HostFacts) -> Vec<(String, String)> {
    let mut made: Vec<&str> = Vec::new();
    let mut anything_may_exist = false;
    let mut missing = Vec::new();
    for planned in &plan.changes {
        let change = &planned.change;
        // chaton's own record goes in its state folder, which the apply script makes first.
        if planned.origin == "chaton" {
            continue;
        }
        match change.resource.kind.as_str() {
            "directory" => made.push(&change.resource.name),
            "package" | "command" if change.action != Action::Delete => anything_may_exist = true,
            "file" | "link" | "download" if change.action == Action::Create && !anything_may_exist => {
                if let Some(parent) = parent_of(&change.resource.name) {
                    let exists = matches!(facts.path(&parent), crate::facts::PathState::Directory { .. });
                    if !exists && !made.contains(&parent.as_str()) {
                        missing.push((change.resource.name.clone(), parent));
                    }
                }
            }
            _ => {}
        }
    }
    missing
}

impl ServerPlan {
    /// Nothing to do on this server: no change, no handler, no access left unchecked.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.handlers.is_empty() && self.access.is_none()
    }
}

impl Plan {
    pub fn change_count(&self) -> usize {
        self.servers.iter().map(|s| s.changes.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::change;

    fn creates(origin: &str, path: &str) -> PlannedChange {
        let id = ResourceId { kind: "file".into(), name: path.into() };
        PlannedChange { origin: origin.into(), change: change(id, Action::Create, None, None, vec![], vec![]) }
    }

    #[test]
    fn chatons_record_needs_no_folder_but_a_services_file_does() {
        let plan = ServerPlan {
            server: "s".into(),
            address: "s".into(),
            relay: None,
            facts: FactsSource::AssumedFresh { distribution: "debian-12".into() },
            // A run with nothing to install: no package or command may have made a folder.
            changes: vec![creates("chaton", "/var/lib/chaton/managed"), creates("app", "/srv/app/app.conf")],
            unchanged: vec![],
            handlers: vec![],
            access: None,
            kept: vec![],
        };
        assert_eq!(
            missing_folders(&plan, &HostFacts::default()),
            [("/srv/app/app.conf".to_owned(), "/srv/app".to_owned())]
        );
    }
}
