//! Stage 2: resolve a valid description and its recipes into the desired state of each
//! server: a list of concrete resources (templates rendered, parameters filled in), the
//! handlers they notify, in the order they will be applied.
//!
//! Order on a server: the `base` recipe, each service in the order of the description, the
//! server's own extra files, then the firewall ports of all of them.

pub mod backup;
pub mod convert;
pub mod record;
pub mod relay;
pub mod scope;
pub mod template;
pub mod vpn;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::command::Command;
use crate::description::Description;
use crate::description::model::{Hoster, Server, Service};
use crate::diagnostic::Diagnostic;
use crate::keys::Keys;
use crate::recipe::Catalogue;
use crate::recipe::catalogue::LoadedRecipe;
use crate::recipe::model::{HandlerAction, HandlerSpec, Provides, RecipeKind, ResourceSpec};
use crate::resource::{File, FirewallPort, Resource, Secret, secret};
use crate::vocab::Distribution;
use crate::vocab::Proto;

use scope::{ChatonScope, DebianScope, OpenPort, ServiceScope, TemplateScope};
use template::Templates;

/// What every server should look like.
#[derive(Debug, Clone, Serialize)]
pub struct DesiredState {
    pub servers: Vec<ServerState>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerState {
    pub name: String,
    pub address: String,
    /// The relay this server at home is reached through (`relay` in the description).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relay: Option<String>,
    pub distribution: Distribution,
    pub resources: Vec<Desired>,
    pub handlers: Vec<Handler>,
    /// What `verify` checks once the plan is empty.
    pub checks: Vec<Check>,
    /// Files of this server that hold a key kept next to the description.
    #[serde(skip)]
    pub kept_keys: Vec<KeyInFile>,
    /// What each service here keeps (paths, databases): what backups and `chaton move` copy.
    #[serde(skip)]
    pub data: Vec<backup::DataSet>,
}

/// A file of a server that holds a key kept next to the description.
#[derive(Debug, Clone)]
pub struct KeyInFile {
    /// The file on the server.
    pub path: String,
    pub key: crate::keys::KeptKey,
    /// Where the key stands in the file: the whole file (`None`, give or take a final
    /// newline), or the rest of a line that starts with this text (`PrivateKey = `).
    pub line_start: Option<String>,
}

/// The files among `resources` that hold one of `server`'s kept keys, and where.
fn kept_keys_in_files(resources: &[Desired], kept: &[crate::keys::KeptKey], server: &str) -> Vec<KeyInFile> {
    let mut found = Vec::new();
    for key in kept.iter().filter(|k| k.server == server) {
        let value = key.value.expose();
        for desired in resources {
            let Resource::File(file) = &desired.resource else { continue };
            let Ok(text) = std::str::from_utf8(&file.content) else { continue };
            let Some(at) = text.find(value) else { continue };
            let line_start = if text.trim_end() == value.trim_end() {
                None
            } else {
                Some(text[..at].rsplit('\n').next().unwrap_or_default().to_owned())
            };
            found.push(KeyInFile { path: file.path.clone(), key: key.clone(), line_start });
        }
    }
    found
}

/// A check of `chaton verify`, rendered for one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub origin: String,
    #[serde(flatten)]
    pub kind: CheckKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CheckKind {
    /// The port answers (TCP: from the control machine, through the firewall).
    Port { port: u16, proto: Proto },
    /// The URL answers with this status, asked of the server's address.
    Http {
        url: String,
        status: u16,
        /// PEM certificates of a private or test CA the answer's certificate may chain to.
        #[serde(skip)]
        ca_certificate: Option<String>,
    },
    /// The command succeeds on the server.
    Command { run: Vec<String> },
}

/// One resource, where it comes from and which handlers it notifies when it changes.
#[derive(Debug, Clone, Serialize)]
pub struct Desired {
    pub resource: Resource,
    /// The service (or `base`, or `server`) that asked for it.
    pub origin: String,
    pub notify: Vec<String>,
}

/// A handler on a server: its name (what resources notify) and the command it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Handler {
    pub name: String,
    pub command: Command,
}

impl Handler {
    fn from_spec(spec: &HandlerSpec) -> Self {
        let command = match (&spec.service, &spec.action, &spec.run) {
            (Some(unit), Some(HandlerAction::Reload), _) => {
                Command::new(["systemctl", "reload-or-restart", "--", unit])
            }
            (Some(unit), Some(HandlerAction::Restart), _) => Command::new(["systemctl", "restart", "--", unit]),
            (_, _, Some(run)) => Command::new(run.clone()),
            // Refused by the recipe checks before resolving.
            _ => Command::new(["false"]),
        };
        Self { name: spec.name.clone(), command }
    }
}

/// Resolves every server. The description must have passed validation.
/// `state_dir` is where chaton keeps its state on the servers (lock, journal, secrets).
/// `keys` are the backup keys kept on the control machine (`crate::keys`).
pub fn resolve(
    description: &Description,
    catalogue: &Catalogue,
    state_dir: &str,
    keys: &Keys,
) -> Result<DesiredState, Vec<Diagnostic>> {
    let template_names: Vec<String> = catalogue
        .recipes()
        .flat_map(|r| r.recipe.resources.iter())
        .filter_map(|spec| match spec {
            ResourceSpec::File(f) => f.template.clone(),
            _ => None,
        })
        .collect();
    let templates = Templates::new(catalogue, &template_names)?.with_description(description);
    let mut problems = Vec::new();
    let mut servers = Vec::new();
    for server in &description.hoster.servers {
        match resolve_server(description, catalogue, &templates, server, state_dir, keys) {
            Ok(state) => servers.push(state),
            Err(mut p) => problems.append(&mut p),
        }
    }
    if problems.is_empty() { Ok(DesiredState { servers }) } else { Err(problems) }
}

fn resolve_server(
    description: &Description,
    catalogue: &Catalogue,
    templates: &Templates,
    server: &Server,
    state_dir: &str,
    keys: &Keys,
) -> Result<ServerState, Vec<Diagnostic>> {
    let hoster = &description.hoster;
    let services: Vec<&Service> = hoster.services.iter().filter(|s| s.server == server.name).collect();
    let required: Vec<&LoadedRecipe> =
        required_infrastructure(&services, catalogue).iter().filter_map(|name| catalogue.get(name)).collect();
    let ports = open_ports(server, &services, &required, catalogue, hoster);
    // On a relay, what each of its home servers has passed on, worked out once; at home,
    // which of its own ports its relay passes on.
    let forwarded_by_home: BTreeMap<&str, Vec<OpenPort>> = hoster
        .servers
        .iter()
        .filter(|home| home.relay.as_deref() == Some(server.name.as_str()))
        .map(|home| (home.name.as_str(), forwarded_ports(home, catalogue, hoster)))
        .collect();
    let forwarded = |home: &Server| forwarded_by_home.get(home.name.as_str()).cloned().unwrap_or_default();
    let own_forwarded = if server.relay.is_some() { passed_on(server, &ports) } else { Vec::new() };
    let clashes = clashing_forwards(server, &ports, &forwarded_by_home, description);
    if !clashes.is_empty() {
        return Err(clashes);
    }
    let services_scope: Vec<ServiceScope> = services
        .iter()
        .map(|s| ServiceScope {
            name: s.name.clone(),
            recipe: Some(s.recipe.clone()),
            domain: s.domain.clone(),
            params: catalogue.get(&s.recipe).map(|r| merged_params(r, &s.params)).unwrap_or_default(),
        })
        .collect();
    let interfaces = firewall_interfaces(server, &services, &services_scope, catalogue, templates)?;
    let base = TemplateScope {
        // Set for each recipe rendered (`for_recipe`, `for_service`).
        service: ServiceScope { name: String::new(), recipe: None, domain: None, params: Value::Null },
        params: Value::Null,
        secrets: BTreeMap::new(),
        item: None,
        organisation: hoster.organisation.clone(),
        admins: hoster.admins.clone(),
        server: server.clone(),
        services: services_scope.clone(),
        firewall_ports: ports.clone(),
        firewall_masquerade: interfaces.iter().filter(|i| i["forward"] == true).cloned().collect(),
        firewall_interfaces: interfaces,
        infrastructure: required.iter().map(|l| (l.recipe.name.clone(), described_params(l, hoster))).collect(),
        uses: uses(&services, &services_scope, catalogue),
        chaton: ChatonScope { state_dir: state_dir.to_owned() },
        // A relay is a jump host too: its home servers are reached through it.
        jump_host: relay::is_relay(&hoster.servers, &server.name)
            || hoster.servers.iter().any(|s| s.proxy_jump.as_deref() == Some(server.name.as_str())),
        relay_front: relay::front(description, server, &forwarded),
        relayed: relay::relayed(description, server, &own_forwarded),
        debian: DebianScope {
            codename: server.distribution.codename().to_owned(),
            php: server.distribution.php().to_owned(),
        },
        vpn: None,
        backup: None,
        relay: None,
    };

    let mut out = Collector::default();
    let mut problems = Vec::new();
    // 1. base, on every server; 2. the infrastructure the services here stand on, once.
    let bases = catalogue.recipes().filter(|l| l.recipe.kind == RecipeKind::Base);
    for loaded in bases.chain(required.iter().copied()) {
        let scope = for_recipe(&base, loaded, hoster);
        if let Err(mut p) = render_recipe(templates, loaded, &scope, state_dir, &loaded.recipe.name, &mut out) {
            problems.append(&mut p);
        }
    }
    // 3. backups: what this server's services hold, and what other servers send here.
    let service_scopes: Vec<(&Service, TemplateScope)> = services
        .iter()
        .zip(&services_scope)
        .map(|(service, service_scope)| {
            let mut scope = base.clone();
            scope.service = service_scope.clone();
            scope.params = service_scope.params.clone();
            scope.vpn = vpn::context(keys, &server.name, &service.name);
            (*service, scope)
        })
        .collect();
    let mut data = Vec::new();
    for (service, scope) in &service_scopes {
        match backup::data_set(catalogue, templates, service, scope, state_dir) {
            Ok(Some(set)) => data.push(set),
            Ok(None) => {}
            Err(mut p) => problems.append(&mut p),
        }
    }
    if let Some(loaded) = catalogue.recipes().find(|l| l.recipe.provides == Some(Provides::Backups))
        && let Some(backup) = backup::context(description, catalogue, server, &data, keys)
    {
        let mut scope = for_recipe(&base, loaded, hoster);
        // Only this recipe sees the backup keys.
        scope.backup = Some(backup);
        if let Err(mut p) = render_recipe(templates, loaded, &scope, state_dir, &loaded.recipe.name, &mut out) {
            problems.append(&mut p);
        }
    }
    // 3b. the relay tunnel, on a home server with a relay and on the relay.
    if let Some(loaded) = catalogue.recipes().find(|l| l.recipe.provides == Some(Provides::RelayTunnel))
        && let Some(tunnel) = relay::context(description, keys, server, &forwarded)
    {
        let mut scope = for_recipe(&base, loaded, hoster);
        // Only this recipe sees the tunnel's keys.
        scope.relay = Some(tunnel);
        if let Err(mut p) = render_recipe(templates, loaded, &scope, state_dir, &loaded.recipe.name, &mut out) {
            problems.append(&mut p);
        }
    }
    // 4. services, in description order.
    for (service, scope) in &service_scopes {
        let Some(loaded) = catalogue.get(&service.recipe) else {
            continue;
        };
        if let Err(mut p) = render_recipe(templates, loaded, scope, state_dir, &service.name, &mut out) {
            problems.append(&mut p);
        }
    }
    // 5. the hoster's own files for this server, on top of what the services installed.
    for file in &server.files {
        out.push(
            Desired {
                resource: Resource::File(File {
                    path: file.path.clone(),
                    content: file.content.clone().into_bytes(),
                    owner: file.owner.clone(),
                    group: file.group.clone(),
                    mode: file.mode,
                    validate: None,
                    sensitive: false,
                    secrets: Vec::new(),
                    guards_access: false,
                }),
                origin: "server".into(),
                notify: Vec::new(),
            },
            None,
        );
    }
    // 6. the live firewall must accept every declared port, when a base recipe manages it.
    let firewall = catalogue.recipes().any(|l| l.recipe.kind == RecipeKind::Base && l.recipe.manages_firewall);
    for port in ports.iter().filter(|_| firewall) {
        out.push(
            Desired {
                resource: Resource::FirewallPort(FirewallPort {
                    port: port.port,
                    proto: port.proto,
                    service: port.service.clone(),
                }),
                origin: port.service.clone(),
                notify: Vec::new(),
            },
            None,
        );
    }
    problems.append(&mut out.conflicts);
    if !problems.is_empty() {
        return Err(problems);
    }
    let kept_keys = kept_keys_in_files(&out.resources, &keys.kept, &server.name);
    // 7. last, the record of all of the above, so the next run can remove what leaves it.
    let record = record::record_resource(&out.resources, state_dir);
    out.resources.push(record);
    Ok(ServerState {
        name: server.name.clone(),
        address: server.address.clone(),
        relay: server.relay.clone(),
        distribution: server.distribution,
        resources: out.resources,
        handlers: out.handlers,
        checks: out.checks,
        kept_keys,
        data,
    })
}

/// The ports open on a server: SSH first (never closed by chaton), then each service's, then
/// those of the infrastructure the services stand on (the web front's 80 and 443).
fn open_ports(
    server: &Server,
    services: &[&Service],
    required: &[&LoadedRecipe],
    catalogue: &Catalogue,
    hoster: &Hoster,
) -> Vec<OpenPort> {
    let mut ports = vec![OpenPort { port: server.port, proto: Proto::Tcp, service: "ssh".into() }];
    // A relay's tunnel port: its home servers start the tunnel from behind their routers.
    if relay::is_relay(&hoster.servers, &server.name) {
        ports.push(OpenPort { port: relay::PORT, proto: Proto::Udp, service: "relay".into() });
    }
    let of_services = services.iter().filter_map(|s| {
        catalogue.get(&s.recipe).map(|loaded| (s.name.as_str(), loaded, merged_params(loaded, &s.params)))
    });
    let of_infrastructure =
        required.iter().map(|loaded| (loaded.recipe.name.as_str(), *loaded, described_params(loaded, hoster)));
    for (opener, loaded, params) in of_services.chain(of_infrastructure) {
        for spec in &loaded.recipe.ports {
            let number = spec.port.or_else(|| {
                spec.port_param
                    .as_ref()
                    .and_then(|p| params.get(p))
                    .and_then(Value::as_u64)
                    .and_then(|n| u16::try_from(n).ok())
            });
            if let Some(port) = number
                && !ports.iter().any(|p| p.port == port && p.proto == spec.proto)
            {
                ports.push(OpenPort { port, proto: spec.proto, service: opener.to_owned() });
            }
        }
    }
    ports
}

/// The public ports of a server at home that its relay passes on as they are: all but SSH
/// (chaton reaches it through the tunnel) and the web front's 80 and 443 (the relay's web
/// front passes those on by name).
fn forwarded_ports(home: &Server, catalogue: &Catalogue, hoster: &Hoster) -> Vec<OpenPort> {
    let services: Vec<&Service> = hoster.services.iter().filter(|s| s.server == home.name).collect();
    let required: Vec<&LoadedRecipe> =
        required_infrastructure(&services, catalogue).iter().filter_map(|name| catalogue.get(name)).collect();
    passed_on(home, &open_ports(home, &services, &required, catalogue, hoster))
}

/// Of a home server's open `ports`, those its relay passes on as they are: all but SSH
/// (reached through the tunnel) and HTTP and HTTPS (the relay's web front passes those on).
fn passed_on(home: &Server, ports: &[OpenPort]) -> Vec<OpenPort> {
    ports.iter().filter(|p| !(p.proto == Proto::Tcp && [home.port, 80, 443].contains(&p.port))).cloned().collect()
}

/// A port a relay would pass on to a home server that the relay opens for itself too (the
/// relay's own service would stop answering), placed at the home server's `relay`.
fn clashing_forwards(
    server: &Server,
    own: &[OpenPort],
    forwarded_by_home: &BTreeMap<&str, Vec<OpenPort>>,
    description: &Description,
) -> Vec<Diagnostic> {
    let hoster = &description.hoster;
    let mut found = Vec::new();
    for (index, home) in hoster.servers.iter().enumerate() {
        if home.relay.as_deref() != Some(server.name.as_str()) {
            continue;
        }
        for p in forwarded_by_home.get(home.name.as_str()).into_iter().flatten() {
            let Some(mine) = own.iter().find(|o| o.port == p.port && o.proto == p.proto) else { continue };
            let path = format!("servers[{index}].relay");
            let span = description.locations.value(&path).unwrap_or(crate::source::Span::FILE_START);
            found.push(
                Diagnostic::error(format!(
                    "{} opens {}/{} ({}), which its relay {} would pass on to it, but {} opens it for itself ({})",
                    home.name, p.port, p.proto, p.service, server.name, server.name, mine.service
                ))
                .at(&description.source, span)
                .field(&path)
                .help("give one of the two services another port (its `port` parameter)"),
            );
        }
    }
    found
}

/// The network interfaces the services of a server bring up, for the firewall.
fn firewall_interfaces(
    server: &Server,
    services: &[&Service],
    services_scope: &[ServiceScope],
    catalogue: &Catalogue,
    templates: &Templates,
) -> Result<Vec<Value>, Vec<Diagnostic>> {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for (service, service_scope) in services.iter().zip(services_scope) {
        let Some(loaded) = catalogue.get(&service.recipe) else { continue };
        let context = json!({ "server": server, "service": service_scope, "params": service_scope.params });
        for (i, spec) in loaded.recipe.interfaces.iter().enumerate() {
            let field = format!("interfaces[{i}]");
            let rendered = (|| -> Result<Value, Diagnostic> {
                let name = templates.render_str(&spec.name, &context, loaded, &format!("{field}.name"))?;
                let network = templates.render_str(&spec.network, &context, loaded, &format!("{field}.network"))?;
                let forward = match &spec.forward {
                    Some(expression) => {
                        templates.condition(expression, &context, loaded, &format!("{field}.forward"))?
                    }
                    None => false,
                };
                let name_ok = !name.is_empty()
                    && name.len() <= 15
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !name_ok {
                    return Err(loaded.error_at(
                        &format!("{field}.name"),
                        format!(
                            "{} is not an interface name (at most 15 letters, digits, - and _)",
                            crate::diagnostic::quoted(&name)
                        ),
                    ));
                }
                if crate::recipe::check::parse_network(&network).is_none() {
                    return Err(loaded.error_at(
                        &format!("{field}.network"),
                        format!("{} is not an IPv4 network", crate::diagnostic::quoted(&network)),
                    ));
                }
                Ok(json!({ "name": name, "network": network, "forward": forward, "service": service.name }))
            })();
            match rendered {
                Ok(v) => found.push(v),
                Err(d) => problems.push(d),
            }
        }
    }
    if problems.is_empty() { Ok(found) } else { Err(problems) }
}

/// The infrastructure recipes the services of a server need, each once, in the order the
/// services first ask for them.
fn required_infrastructure(services: &[&Service], catalogue: &Catalogue) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for service in services {
        for name in catalogue.get(&service.recipe).map(|l| l.recipe.requires.as_slice()).unwrap_or_default() {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    names
}

/// `uses.NAME`: the services (as templates see them) that require the recipe NAME.
fn uses(
    services: &[&Service],
    services_scope: &[ServiceScope],
    catalogue: &Catalogue,
) -> BTreeMap<String, Vec<ServiceScope>> {
    let mut uses: BTreeMap<String, Vec<ServiceScope>> = BTreeMap::new();
    for (service, scope) in services.iter().zip(services_scope) {
        for name in catalogue.get(&service.recipe).map(|l| l.recipe.requires.as_slice()).unwrap_or_default() {
            uses.entry(name.clone()).or_default().push(scope.clone());
        }
    }
    uses
}

/// The parameters of a recipe set up for the server itself (`base`, infrastructure): its
/// defaults, overridden by the description's `infrastructure: {NAME: {...}}`.
pub(crate) fn described_params(loaded: &LoadedRecipe, hoster: &Hoster) -> Value {
    merged_params(loaded, hoster.infrastructure.get(&loaded.recipe.name).unwrap_or(&BTreeMap::new()))
}

/// The scope of a recipe set up for the server itself: its parameters stand as `params`
/// and as the `service` it renders for.
fn for_recipe(base: &TemplateScope, loaded: &LoadedRecipe, hoster: &Hoster) -> TemplateScope {
    let mut scope = base.clone();
    let params = described_params(loaded, hoster);
    scope.service =
        ServiceScope { name: loaded.recipe.name.clone(), recipe: None, domain: None, params: params.clone() };
    scope.params = params;
    scope
}

/// Recipe defaults overridden by the parameters the description sets.
pub(crate) fn merged_params(loaded: &LoadedRecipe, set: &BTreeMap<String, Value>) -> Value {
    loaded.params_with(set)
}

/// Desired resources of one server, merging identical duplicates and refusing conflicts.
#[derive(Default)]
struct Collector {
    resources: Vec<Desired>,
    handlers: Vec<Handler>,
    checks: Vec<Check>,
    conflicts: Vec<Diagnostic>,
}

impl Collector {
    /// `at` is the recipe field the resource comes from, for the message of a conflict.
    fn push(&mut self, desired: Desired, at: Option<(&LoadedRecipe, &str)>) {
        let id = desired.resource.id();
        if let Some(existing) = self.resources.iter_mut().find(|d| d.resource.id() == id) {
            if existing.resource == desired.resource {
                for n in desired.notify {
                    if !existing.notify.contains(&n) {
                        existing.notify.push(n);
                    }
                }
            } else {
                let message = format!(
                    "{id} is wanted by both {} and {} with different settings",
                    existing.origin, desired.origin
                );
                self.conflicts.push(match at {
                    Some((recipe, field)) => recipe.error_at(field, message),
                    None => Diagnostic::error(message),
                });
            }
            return;
        }
        self.resources.push(desired);
    }
}

/// Renders every resource and handler of one recipe for one service. `state_dir` is
/// chaton's folder on the server, where generated secrets live.
fn render_recipe(
    templates: &Templates,
    loaded: &LoadedRecipe,
    scope: &TemplateScope,
    state_dir: &str,
    origin: &str,
    out: &mut Collector,
) -> Result<(), Vec<Diagnostic>> {
    let mut problems = Vec::new();
    // Generated secrets come first: files further down are filled in with them.
    let mut scope = scope.clone();
    for name in &loaded.recipe.secrets {
        scope.secrets.insert(name.clone(), secret::placeholder(origin, name));
        out.push(
            Desired {
                resource: Resource::Secret(Secret {
                    id: format!("{origin}/{name}"),
                    path: secret::path_of(state_dir, &format!("{origin}/{name}")),
                }),
                origin: origin.to_owned(),
                notify: Vec::new(),
            },
            None,
        );
    }
    // Templates see the placeholders as `secrets.NAME`; the conversion gets them typed.
    let secret_placeholders: Vec<String> = scope.secrets.values().cloned().collect();
    let context = &scope.to_value();
    for (i, spec) in loaded.recipe.handlers.iter().enumerate() {
        let mut spec = spec.clone();
        if let Some(run) = &spec.run {
            let rendered: Result<Vec<String>, Diagnostic> = run
                .iter()
                .enumerate()
                .map(|(j, arg)| templates.render_str(arg, context, loaded, &format!("handlers[{i}].run[{j}]")))
                .collect();
            match rendered {
                Ok(run) => spec.run = Some(run),
                Err(d) => {
                    problems.push(d);
                    continue;
                }
            }
        }
        let h = Handler::from_spec(&spec);
        match out.handlers.iter().find(|x| x.name == h.name) {
            Some(existing) if *existing != h => problems.push(loaded.error_at(
                &format!("handlers[{i}]"),
                format!("handler \"{}\" is defined differently by two recipes", h.name),
            )),
            Some(_) => {}
            None => out.handlers.push(h),
        }
    }
    for (i, spec) in loaded.recipe.checks.iter().enumerate() {
        match convert::render_check(templates, loaded, spec, context, &format!("checks[{i}]")) {
            Ok(None) => {}
            Ok(Some(kind)) => {
                let check = Check { origin: origin.to_owned(), kind };
                if !out.checks.contains(&check) {
                    out.checks.push(check);
                }
            }
            Err(d) => problems.push(d),
        }
    }
    for (i, spec) in loaded.recipe.resources.iter().enumerate() {
        let kind = spec.kind();
        let field = format!("resources[{i}].{kind}");
        match convert::render_spec(templates, loaded, spec, context, state_dir, &secret_placeholders, &field) {
            Ok(resources) => {
                for (resource, notify) in resources {
                    out.push(Desired { resource, origin: origin.to_owned(), notify }, Some((loaded, &field)));
                }
            }
            Err(d) => problems.push(d),
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}
