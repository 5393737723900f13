//! `chaton move`: a service, with its data, from one server of the description to another.
//!
//! What a move does is planned here, without touching anything: the steps, what each one
//! copies or applies, how visitors get to the new server, and the one line of the
//! description that changes. `journal` keeps how far a move went (a killed move resumes
//! from there, or is rolled back); `scripts` is the shell each step runs on a server; the
//! command in `cli::moving` runs the steps in order.
//!
//! The steps, in order, each safe to run again:
//! 1. `stop`: the service stops on the old server (its units, and its pause: Nextcloud's
//!    maintenance mode), so nothing changes its data while it is copied;
//! 2. `backup`: a last backup there, when the description has backups;
//! 3. `export`: its files, database dumps and generated secrets come to the control
//!    machine (checked against their SHA-256), into `moves/SERVICE/` next to the description;
//! 4. `dns`: when visitors reach the new server at another address, the record to change is
//!    printed and the move waits until the name points there;
//! 5. `converge`: the new server (and the relays in between) are applied with the service
//!    on the new server: the service is installed there and visitors arrive there;
//! 6. `import`: the data replaces what the install made, databases included;
//! 7. `settle`: the new server is applied again, with the service's own secrets;
//! 8. `verify`: the new server (and its relay) are verified;
//! 9. `remove`: the old server is applied without the service: its configuration goes, its
//!    data stays (until `chaton move --purge`);
//! 10. `describe`: the description says where the service now runs.

pub mod journal;
pub mod scripts;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::description::Description;
use crate::diagnostic::{Diagnostic, quoted};
use crate::pipeline::Checked;
use crate::resolve::backup::DataSet;
use crate::resolve::{DesiredState, ServerState};
use crate::resource::Resource;
use crate::source::Pos;

/// The folder next to the description where moves keep their journal and data in transit.
pub const FOLDER: &str = "moves";

/// One step of a move, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Stop,
    Backup,
    Export,
    Dns,
    Converge,
    Import,
    Settle,
    Verify,
    Remove,
    Describe,
}

impl Step {
    pub const ALL: [Step; 10] = [
        Step::Stop,
        Step::Backup,
        Step::Export,
        Step::Dns,
        Step::Converge,
        Step::Import,
        Step::Settle,
        Step::Verify,
        Step::Remove,
        Step::Describe,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::Stop => "stop",
            Step::Backup => "backup",
            Step::Export => "export",
            Step::Dns => "dns",
            Step::Converge => "converge",
            Step::Import => "import",
            Step::Settle => "settle",
            Step::Verify => "verify",
            Step::Remove => "remove",
            Step::Describe => "describe",
        }
    }
}

/// How the visitors of the service's domain get to the new server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visitors {
    /// The service has no domain (a VPN: its peers use the server's address or name).
    NoDomain,
    /// They arrive at the same address before and after (the new server is the old one's
    /// relay, or both sit behind the same relay): applying the servers switches them.
    Switched { domain: String, address: String },
    /// They arrive elsewhere: the domain's DNS record must change (a VPN's endpoint name
    /// too: its peers keep their configurations).
    Dns { domain: String, from: String, to: String },
    /// A VPN whose peers reach it at an address (no name): they need their configurations
    /// again, with the new endpoint, from `folder`.
    NewEndpoint { from: String, to: String, folder: PathBuf },
}

/// Everything a move will do, worked out before anything changes.
#[derive(Debug, Clone)]
pub struct MovePlan {
    pub service: String,
    pub recipe: String,
    pub from: String,
    pub to: String,
    /// What the service keeps, as the old server has it; `None`: nothing to copy.
    pub data: Option<DataSet>,
    /// The service's own systemd units, stopped while its data is copied.
    pub units: Vec<String>,
    /// The old server backs the service up (`backup` step).
    pub backed_up: bool,
    /// Keys kept on the control machine that go with the service (a VPN's): from, to.
    pub local_keys: Option<(PathBuf, PathBuf)>,
    pub visitors: Visitors,
    /// The servers applied with the service in its new place (the new one first, then the
    /// relays whose forwarding changes).
    pub converge: Vec<String>,
    /// Where the description changes: the position of the service's `server:` value.
    pub edit: Pos,
}

/// Plans moving `service` to `to`. `before` is the description as it is, with its resolved
/// desired state; `after` the same with the service on `to` (`moved_text`).
pub fn plan(
    before_checked: &Checked,
    desired_before: &DesiredState,
    after_checked: &Checked,
    service: &str,
    to: &str,
) -> Result<MovePlan, Diagnostic> {
    let (before, after) = (&before_checked.description, &after_checked.description);
    let hoster = &before.hoster;
    let described = hoster.services.iter().find(|s| s.name == service).expect("checked by moved_text");
    let from = described.server.clone();
    let old_state = server_state(desired_before, &from);
    let data = old_state.data.iter().find(|d| d.service == service).cloned();
    let units = units_of(old_state, service);
    let backed_up = data.is_some() && hoster.backups.is_some();
    let local_keys = {
        let folder = |server: &str| before.dir.join(crate::keys::FOLDER).join(server).join(format!("vpn-{service}"));
        let from_keys = folder(&from);
        from_keys.is_dir().then(|| (from_keys, folder(to)))
    };
    let arrival = |description: &Description, server: &str| -> String {
        let servers = &description.hoster.servers;
        let s = servers.iter().find(|s| s.name == server).expect("a server of the description");
        let front = s.relay.as_deref().and_then(|r| servers.iter().find(|x| x.name == r)).unwrap_or(s);
        front.address.clone()
    };
    let (old, new) = (arrival(before, &from), arrival(after, to));
    let visitors = match (&described.domain, vpn_endpoint(before_checked, service)) {
        (Some(domain), _) if old == new => Visitors::Switched { domain: domain.clone(), address: new },
        (Some(domain), _) => Visitors::Dns { domain: domain.clone(), from: old, to: new },
        (None, Some(endpoint_before)) => {
            let endpoint_after = vpn_endpoint(after_checked, service).unwrap_or_default();
            let host = endpoint_host(&endpoint_before);
            if endpoint_before != endpoint_after {
                let folder = before.dir.join(crate::keys::FOLDER).join(to).join(format!("vpn-{service}"));
                Visitors::NewEndpoint { from: endpoint_before, to: endpoint_after, folder }
            } else if old != new && host.parse::<std::net::IpAddr>().is_err() {
                // Its peers reach it by a name of the hoster's: the name's record changes.
                Visitors::Dns { domain: host.to_owned(), from: old, to: new }
            } else {
                Visitors::NoDomain
            }
        }
        (None, None) => Visitors::NoDomain,
    };
    let relay_of = |server: &str| hoster.servers.iter().find(|s| s.name == server).and_then(|s| s.relay.clone());
    let mut converge = vec![to.to_owned()];
    for relay in [relay_of(to), relay_of(&from)].into_iter().flatten() {
        // The old server too when it is the relay: it passes the visitors on from now.
        if !converge.contains(&relay) {
            converge.push(relay);
        }
    }
    let index = hoster.services.iter().position(|s| s.name == service).expect("found above");
    let edit =
        before.locations.value(&format!("services[{index}].server")).map(|span| span.start).ok_or_else(|| {
            Diagnostic::error(format!("cannot find the `server:` of {} in the description", quoted(service)))
        })?;
    Ok(MovePlan {
        service: service.to_owned(),
        recipe: described.recipe.clone(),
        from,
        to: to.to_owned(),
        data,
        units,
        backed_up,
        local_keys,
        visitors,
        converge,
        edit,
    })
}

/// The systemd units of `service` on a server, those that run.
pub fn units_of(state: &ServerState, service: &str) -> Vec<String> {
    resources_of(state, service)
        .filter_map(|r| match r {
            Resource::Service(s) if s.running => Some(s.unit.clone()),
            _ => None,
        })
        .collect()
}

/// The PostgreSQL roles of `service` on a server that log in with a generated password,
/// each with the file holding it there.
pub fn roles_of(state: &ServerState, service: &str) -> Vec<(String, String)> {
    resources_of(state, service)
        .filter_map(|r| match r {
            Resource::Role(role) => role.password_file.clone().map(|file| (role.name.clone(), file)),
            _ => None,
        })
        .collect()
}

fn resources_of<'a>(state: &'a ServerState, service: &'a str) -> impl Iterator<Item = &'a Resource> + 'a {
    state.resources.iter().filter(move |d| d.origin == service).map(|d| &d.resource)
}

/// Where the peers of `service` reach it (`host:port`), when it is a VPN.
fn vpn_endpoint(checked: &Checked, service: &str) -> Option<String> {
    let needs = crate::resolve::vpn::needs(&checked.description, &checked.catalogue);
    needs.into_iter().find(|n| n.service == service).map(|n| n.endpoint)
}

/// The host of a `host:port` endpoint (an IPv6 address in brackets without them).
fn endpoint_host(endpoint: &str) -> &str {
    let host = endpoint.rsplit_once(':').map_or(endpoint, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

fn server_state<'a>(desired: &'a DesiredState, name: &str) -> &'a ServerState {
    desired.servers.iter().find(|s| s.name == name).expect("every server of the description is resolved")
}

/// The server `service` runs on, as the description says.
pub fn server_of(description: &Description, service: &str) -> Result<String, Diagnostic> {
    let described = description.hoster.services.iter().find(|s| s.name == service);
    described.map(|s| s.server.clone()).ok_or_else(|| unknown_service(description, service))
}

fn unknown_service(description: &Description, service: &str) -> Diagnostic {
    let names: Vec<&str> = description.hoster.services.iter().map(|s| s.name.as_str()).collect();
    let mut d = Diagnostic::error(format!("no service is named {} in the description", quoted(service)));
    if let Some(best) = crate::vocab::suggest::closest(service, names.iter().copied()) {
        d = d.help(format!("did you mean {}?", quoted(best)));
    }
    d.help(format!("services: {}", names.join(", ")))
}

/// The description's text with `service` on server `to`: its `server:` value replaced, and
/// nothing else touched (comments, order and layout stay the hoster's).
pub fn moved_text(description: &Description, service: &str, to: &str) -> Result<String, Diagnostic> {
    let hoster = &description.hoster;
    let Some(index) = hoster.services.iter().position(|s| s.name == service) else {
        return Err(unknown_service(description, service));
    };
    if !hoster.servers.iter().any(|s| s.name == to) {
        let names: Vec<&str> = hoster.servers.iter().map(|s| s.name.as_str()).collect();
        let mut d = Diagnostic::error(format!("no server is named {} in the description", quoted(to)));
        if let Some(best) = crate::vocab::suggest::closest(to, names.iter().copied()) {
            d = d.help(format!("did you mean {}?", quoted(best)));
        }
        return Err(d.help(format!("servers: {}", names.join(", "))));
    }
    let span = description.locations.value(&format!("services[{index}].server")).ok_or_else(|| {
        Diagnostic::error(format!("cannot find the `server:` of {} in the description", quoted(service)))
    })?;
    let source = &description.source;
    let (start, end) = (source.offset_of(span.start), source.offset_of(span.end));
    let mut text = source.text.clone();
    // A quoted value stays quoted the same way (a JSON description stays JSON).
    let now = &text[start..end];
    let value = match now.chars().next() {
        Some(quote @ ('"' | '\'')) if now.len() >= 2 && now.ends_with(quote) => format!("{quote}{to}{quote}"),
        _ => to.to_owned(),
    };
    text.replace_range(start..end, &value);
    Ok(text)
}

/// Where a move keeps its journal and its data in transit.
pub fn folder(description_dir: &Path, service: &str) -> PathBuf {
    description_dir.join(FOLDER).join(service)
}

/// The steps as people read them, one line each (two for the data copied).
pub fn describe(plan: &MovePlan, file: &str) -> Vec<(Step, String)> {
    let MovePlan { service, from, to, .. } = plan;
    let mut lines = Vec::new();
    let units = if plan.units.is_empty() { String::new() } else { format!(" ({})", plan.units.join(", ")) };
    let paused = plan.data.as_ref().is_some_and(|d| !d.pause.is_empty());
    lines.push((
        Step::Stop,
        format!(
            "stop {service} on {from}{units}{}: its data no longer changes",
            if paused { ", in maintenance mode" } else { "" }
        ),
    ));
    if plan.backed_up {
        lines.push((Step::Backup, format!("a last backup of {service} on {from}, to its repositories")));
    }
    let mut export = match &plan.data {
        Some(data) => {
            let mut what: Vec<String> = data.paths.clone();
            what.extend(data.databases.iter().map(|d| format!("database {d}")));
            format!("copy {service}'s data from {from} to {FOLDER}/{service}/ here: {}", what.join(", "))
        }
        None => format!("{service} keeps no data on {from}: nothing to copy"),
    };
    if let Some((old, new)) = &plan.local_keys {
        export.push_str(&format!("; the keys in {} go to {}", old.display(), new.display()));
    }
    lines.push((Step::Export, export));
    if let Visitors::Dns { domain, from: old, to: new } = &plan.visitors {
        lines.push((
            Step::Dns,
            format!(
                "visitors of {domain} arrive at {old} now: change its DNS record to {new} ({domain}. {} {new}); the move waits until the name points there",
                if new.contains(':') { "AAAA" } else { "A" }
            ),
        ));
    }
    let switched = match &plan.visitors {
        Visitors::Switched { domain, address } => format!("; visitors of {domain} arrive there through {address}"),
        Visitors::NewEndpoint { from: old, to: new, folder } => format!(
            "; its peers reach it at {new} instead of {old} from now: hand each its new configuration from {}",
            folder.display()
        ),
        _ => String::new(),
    };
    lines.push((Step::Converge, format!("apply {} with {service} on {to}{switched}", plan.converge.join(" and "))));
    if plan.data.is_some() {
        lines.push((Step::Import, format!("put {service}'s data in place on {to}, over what the install made")));
    }
    lines.push((Step::Settle, format!("apply {to} again, with {service}'s own secrets")));
    lines.push((Step::Verify, format!("verify {}", plan.converge.join(" and "))));
    lines.push((
        Step::Remove,
        format!(
            "apply {from} without {service}: its configuration goes; its data stays there until `chaton move {file} {service} --purge`"
        ),
    ));
    lines.push((
        Step::Describe,
        format!("{file}:{}:{}: `server: {from}` becomes `server: {to}`", plan.edit.line, plan.edit.column),
    ));
    lines
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn example() -> crate::pipeline::Checked {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/amipo/hoster.yml");
        crate::pipeline::check(&path, None).expect("the example is valid")
    }

    /// The move of `service` to `to` planned on `checked`, with stand-in keys.
    fn planned(checked: &crate::pipeline::Checked, service: &str, to: &str) -> super::MovePlan {
        let keys = crate::pipeline::keys(checked, crate::pipeline::KeysFrom::StandIns).unwrap();
        let desired = crate::pipeline::desired(checked, "/var/lib/chaton", &keys).unwrap();
        let path = checked.description.dir.join("hoster.yml");
        let text = super::moved_text(&checked.description, service, to).unwrap();
        let moved = crate::pipeline::check_text(&path, text, None).unwrap();
        super::plan(checked, &desired, &moved, service, to).unwrap()
    }

    #[test]
    fn only_the_services_server_value_changes_in_the_text() {
        let checked = example();
        let text = super::moved_text(&checked.description, "agenda", "pangolin").unwrap();
        let before = &checked.description.source.text;
        let changed: Vec<(&str, &str)> = before.lines().zip(text.lines()).filter(|(a, b)| a != b).collect();
        assert_eq!(changed, vec![("    server: loutre", "    server: pangolin")]);
        // The service it changed is the one moved: the text reads back with agenda on pangolin.
        let path = checked.description.dir.join("hoster.yml");
        let moved = crate::pipeline::check_text(&path, text, None).unwrap();
        let agenda = moved.description.hoster.services.iter().find(|s| s.name == "agenda").unwrap();
        assert_eq!(agenda.server, "pangolin");
        let wiki = moved.description.hoster.services.iter().find(|s| s.name == "wiki").unwrap();
        assert_eq!(wiki.server, "loutre");
    }

    #[test]
    fn a_quoted_server_stays_quoted() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/amipo/hoster.yml");
        let text = std::fs::read_to_string(&path).unwrap();
        let at = text.find("recipe: radicale\n    server: loutre").unwrap();
        let quoted = format!("{}recipe: radicale\n    server: \"loutre\"{}", &text[..at], &text[at + 35..]);
        let checked = crate::pipeline::check_text(&path, quoted, None).unwrap();
        let moved = super::moved_text(&checked.description, "agenda", "pangolin").unwrap();
        assert!(moved.contains("recipe: radicale\n    server: \"pangolin\"\n"), "{moved}");
    }

    #[test]
    fn unknown_names_are_refused_with_a_suggestion() {
        let checked = example();
        let e = super::moved_text(&checked.description, "agnda", "pangolin").unwrap_err();
        assert_eq!(e.message, "no service is named \"agnda\" in the description");
        assert_eq!(e.help[0], "did you mean \"agenda\"?");
        let e = super::moved_text(&checked.description, "agenda", "pangoline").unwrap_err();
        assert_eq!(e.help[0], "did you mean \"pangolin\"?");
    }

    #[test]
    fn a_home_service_moved_to_its_relay_is_switched_by_chaton_and_its_data_listed() {
        let checked = example();
        let plan = planned(&checked, "agenda", "pangolin");
        assert_eq!(plan.from, "loutre");
        assert_eq!(plan.units, vec!["radicale"]);
        assert!(plan.backed_up);
        assert_eq!(plan.converge, vec!["pangolin"]);
        assert_eq!(
            plan.visitors,
            super::Visitors::Switched { domain: "agenda.amipo.example".into(), address: "203.0.113.10".into() }
        );
        let data = plan.data.as_ref().unwrap();
        assert_eq!(data.paths, vec!["/var/lib/radicale/collections", "/etc/radicale/users"]);
        let lines = super::describe(&plan, "hoster.yml");
        let steps: Vec<&str> = lines.iter().map(|(s, _)| s.name()).collect();
        assert_eq!(steps, ["stop", "backup", "export", "converge", "import", "settle", "verify", "remove", "describe"]);
        assert!(lines.last().unwrap().1.starts_with(&format!("hoster.yml:{}:13:", plan.edit.line)), "{lines:?}");
    }

    #[test]
    fn a_service_moved_home_is_switched_by_the_relay_it_leaves() {
        let checked = example();
        let plan = planned(&checked, "cloud", "loutre");
        // loutre's visitors arrive at pangolin too: the same address, switched by chaton.
        assert!(matches!(plan.visitors, super::Visitors::Switched { .. }), "{:?}", plan.visitors);
        assert_eq!(plan.converge, vec!["loutre", "pangolin"]);
        let data = plan.data.as_ref().unwrap();
        assert_eq!(data.databases, vec!["cloud"]);
        assert!(!data.pause.is_empty());
    }

    #[test]
    fn a_service_whose_visitors_arrive_elsewhere_asks_for_its_dns_record() {
        // loutre without its relay: reached at its own address.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/amipo/hoster.yml");
        let text = std::fs::read_to_string(&path).unwrap().replace("    relay: pangolin\n", "");
        let checked = crate::pipeline::check_text(&path, text, None).unwrap();
        let plan = planned(&checked, "agenda", "pangolin");
        assert_eq!(
            plan.visitors,
            super::Visitors::Dns {
                domain: "agenda.amipo.example".into(),
                from: "192.168.1.20".into(),
                to: "203.0.113.10".into()
            }
        );
        let lines = super::describe(&plan, "hoster.yml");
        let dns = lines.iter().find(|(s, _)| *s == super::Step::Dns).unwrap();
        assert!(dns.1.contains("(agenda.amipo.example. A 203.0.113.10)"), "{}", dns.1);
    }

    #[test]
    fn a_vpns_peers_keep_their_configuration_unless_its_address_changes() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/amipo/hoster.yml");
        let text = std::fs::read_to_string(&path).unwrap();
        // Home, behind pangolin: its peers still reach it at pangolin's address.
        let plan = planned(&example(), "vpn", "loutre");
        assert_eq!(plan.visitors, super::Visitors::NoDomain);
        // loutre reached at its own address: the peers need new configurations.
        let alone = text.replace("    relay: pangolin\n", "");
        let checked = crate::pipeline::check_text(&path, alone.clone(), None).unwrap();
        let plan = planned(&checked, "vpn", "loutre");
        let folder = checked.description.dir.join(crate::keys::FOLDER).join("loutre/vpn-vpn");
        assert_eq!(
            plan.visitors,
            super::Visitors::NewEndpoint { from: "203.0.113.10:51820".into(), to: "192.168.1.20:51820".into(), folder }
        );
        let lines = super::describe(&plan, "hoster.yml");
        let converge = lines.iter().find(|(s, _)| *s == super::Step::Converge).unwrap();
        assert!(
            converge.1.contains("its peers reach it at 192.168.1.20:51820 instead of 203.0.113.10:51820"),
            "{}",
            converge.1
        );
        // Reached by a name: the peers keep their configurations, the name's record changes.
        let named = alone.replacen("      peers:\n", "      endpoint: vpn.amipo.example\n      peers:\n", 1);
        let checked = crate::pipeline::check_text(&path, named, None).unwrap();
        let plan = planned(&checked, "vpn", "loutre");
        assert_eq!(
            plan.visitors,
            super::Visitors::Dns {
                domain: "vpn.amipo.example".into(),
                from: "203.0.113.10".into(),
                to: "192.168.1.20".into()
            }
        );
    }
}
