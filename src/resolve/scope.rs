//! What a recipe's templates see: `TemplateScope`, built once per server in
//! `resolve_server`, completed for each recipe it renders, and given to Tera as its context.
//! The comments on its fields are the reference docs/RECIPES.md gives ("The template
//! context"): `reference_table` writes that table from them, and a test keeps the two equal.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::description::model::{Admin, Organisation, Server};
use crate::vocab::Proto;

/// The context of every template and template string of a recipe.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TemplateScope {
    /// This service: `{name, recipe, domain, params}`. For base and infrastructure recipes,
    /// `{name, domain, params}` with the recipe's own name and no domain.
    pub service: ServiceScope,
    /// The parameters: the recipe's defaults, overridden by what the service sets (for base
    /// and infrastructure recipes: by the description's `infrastructure.NAME`).
    pub params: Value,
    /// `secrets.NAME`: the placeholder of each secret the recipe generates, filled in on the
    /// server, never the value.
    pub secrets: BTreeMap<String, String>,
    /// The element of `for_each`, in the resource that has one.
    // Set per element in the rendered JSON by `convert::render_spec`, not here: serializing
    // the whole scope again for each element would cost more than the clone it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<Value>,
    /// The description's `organisation`, as written.
    pub organisation: Organisation,
    /// The description's `admins`, as written.
    pub admins: Vec<Admin>,
    /// The server rendered for, as written in the description. The other servers are not in
    /// the context, so that rendering stays as quick with 500 servers as with 2.
    pub server: Server,
    /// Every service on this server: `{name, recipe, domain, params}`.
    pub services: Vec<ServiceScope>,
    /// What the base's firewall opens: `{port, proto, service}`, SSH first.
    pub firewall_ports: Vec<OpenPort>,
    /// The network interfaces the services bring up (a VPN's tunnel), which the firewall
    /// lets in: `{name, network, forward, service}`.
    pub firewall_interfaces: Vec<Value>,
    /// Those of `firewall_interfaces` whose traffic goes on through the server: masqueraded.
    pub firewall_masquerade: Vec<Value>,
    /// `infrastructure.NAME`: the parameters of an infrastructure recipe this server runs
    /// (`infrastructure.web.acme_directory`).
    pub infrastructure: BTreeMap<String, Value>,
    /// `uses.NAME`: the services on this server that stand on the infrastructure recipe NAME
    /// (`uses.web`), as in `services`.
    pub uses: BTreeMap<String, Vec<ServiceScope>>,
    /// `chaton.state_dir`: chaton's folder on the server.
    pub chaton: ChatonScope,
    /// Another server of the description is reached through this one (its `proxy_jump`, or
    /// a home server's `relay`): its sshd must forward TCP connections.
    pub jump_host: bool,
    /// On a relay: the home servers it relays, `{name, address, interface, domains, ports,
    /// https_port, http_port}` (their tunnel address and the tunnel's interface, the domains
    /// of their services, whose visitors its web front passes on, the other public ports
    /// passed on to them as they are, `{port, proto, service}`, and where their web front
    /// takes what is passed on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relay_front: Option<Vec<Value>>,
    /// On a server at home with a relay: `{relay, public_address, relay_address, interface,
    /// https_port, http_port, ports, return_mark}` (the relay, its public address where
    /// visitors arrive, its tunnel address and the tunnel's interface, which the visitors
    /// it serves come in from, on those ports; the other public ports it passes on here as
    /// they are, and the firewall mark that sends their answers back through the tunnel).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relayed: Option<Value>,
    /// What depends on the server's Debian release: `{codename, php}`
    /// (`/etc/php/{{ debian.php }}/...`).
    pub debian: DebianScope,
    /// For a recipe that `provides: wireguard_keys` only: the server's `private_key` (for
    /// sensitive files alone), `public_key` and `address`, and its `peers` with theirs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpn: Option<Value>,
    /// For the recipe that `provides: backups` only: the backup sets, repositories and keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<Value>,
    /// For the recipe that `provides: relay_tunnel` only, on a server at one end of a relay
    /// tunnel: its `role` (`home` or `relay`), `interface`, `private_key` (for sensitive
    /// files alone), `public_key`, `address` in the tunnel (with its prefix; `tunnel_ip`
    /// without), `listen_port` (the tunnel's port, fixed on both ends), its
    /// `peers` (`name`, `public_key`, `address`, and at home the relay's `endpoint`),
    /// `forwarding` (a relay passing ports on), and the return path's `return_mark`,
    /// `return_table` and `return_priority` (at home).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relay: Option<Value>,
}

/// A service as templates see it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ServiceScope {
    pub name: String,
    /// Absent for base and infrastructure recipes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipe: Option<String>,
    pub domain: Option<String>,
    pub params: Value,
}

/// A port opened on a server, and by whom.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OpenPort {
    pub port: u16,
    pub proto: Proto,
    pub service: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ChatonScope {
    pub state_dir: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DebianScope {
    pub codename: String,
    pub php: String,
}

impl TemplateScope {
    /// The context Tera renders with.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("a scope is plain data")
    }
}

/// The reference table of the template context, from the comments on `TemplateScope`'s
/// fields, in their order: the block docs/RECIPES.md holds between its markers.
pub fn reference_table() -> String {
    let schema = schemars::schema_for!(TemplateScope);
    let properties = schema.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut table = String::from("| name | what it is |\n|---|---|\n");
    for (name, property) in &properties {
        let text = property.get("description").and_then(Value::as_str).unwrap_or("").replace('\n', " ");
        table.push_str(&format!("| `{name}` | {text} |\n"));
    }
    table
}

#[cfg(test)]
mod tests {
    /// docs/RECIPES.md holds the table `reference_table` writes. With `CHATON_WRITE_DOCS=1`,
    /// this writes it there instead of failing.
    #[test]
    fn the_recipes_guide_holds_the_reference_of_the_template_context() {
        let (start, end) = ("<!-- template context: written from src/resolve/scope.rs -->\n", "<!-- end -->");
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/RECIPES.md");
        let text = std::fs::read_to_string(&path).unwrap();
        let from = text.find(start).expect("the start marker") + start.len();
        let to = from + text[from..].find(end).expect("the end marker");
        let table = super::reference_table();
        if text[from..to] != table && std::env::var_os("CHATON_WRITE_DOCS").is_some() {
            std::fs::write(&path, format!("{}{table}{}", &text[..from], &text[to..])).unwrap();
            return;
        }
        assert_eq!(text[from..to], table, "run with CHATON_WRITE_DOCS=1 to write it");
    }
}
