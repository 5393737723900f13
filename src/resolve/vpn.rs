//! What chaton must know of each VPN service (of a recipe that `provides: wireguard_keys`)
//! before resolving: its network, its peers, where peers reach it. The keys and peer
//! configurations are then made on the control machine (`crate::keys`), and the recipe
//! sees them as `vpn`.

use serde_json::{Value, json};

use crate::description::Description;
use crate::keys::{Keys, VpnNeed};
use crate::recipe::Catalogue;
use crate::recipe::check::parse_network;
use crate::recipe::model::Provides;

/// One `VpnNeed` per VPN service of the description (valid parameters assumed: the
/// description passed validation).
pub fn needs(description: &Description, catalogue: &Catalogue) -> Vec<VpnNeed> {
    let hoster = &description.hoster;
    hoster
        .services
        .iter()
        .filter_map(|service| {
            let loaded = catalogue.get(&service.recipe)?;
            if loaded.recipe.provides != Some(Provides::WireguardKeys) {
                return None;
            }
            let server = hoster.servers.iter().find(|s| s.name == service.server)?;
            let params = super::merged_params(loaded, &service.params);
            let network = parse_network(params["network"].as_str()?)?;
            let peers = params["peers"]
                .as_array()?
                .iter()
                .filter_map(|p| Some((p["name"].as_str()?.to_owned(), p["public_key"].as_str().map(str::to_owned))))
                .collect();
            // A server at home is reached from outside at its relay, which passes the port on.
            let reached_at = server.relay.as_ref().and_then(|r| hoster.servers.iter().find(|s| s.name == *r));
            let host = match params["endpoint"].as_str() {
                Some(e) if !e.is_empty() => e.to_owned(),
                _ => reached_at.unwrap_or(server).address.clone(),
            };
            let port = params["port"].as_u64()?;
            let allowed_ips = if params["full_tunnel"].as_bool() == Some(true) {
                "0.0.0.0/0".to_owned()
            } else {
                format!("{}/{}", network.0, network.1)
            };
            let dns = params["dns"].as_str().filter(|d| !d.is_empty()).map(str::to_owned);
            Some(VpnNeed {
                server: server.name.clone(),
                service: service.name.clone(),
                network,
                peers,
                endpoint: format!("{host}:{port}"),
                allowed_ips,
                dns,
            })
        })
        .collect()
}

/// The `vpn` value a VPN service's recipe is rendered with (its private key included:
/// only that recipe sees it, and only sensitive files hold it).
pub fn context(keys: &Keys, server: &str, service: &str) -> Option<Value> {
    let vpn = keys.vpn.get(&(server.to_owned(), service.to_owned()))?;
    Some(json!({
        "private_key": vpn.private_key.expose(),
        "public_key": vpn.public_key,
        "address": vpn.address,
        "peers": vpn.peers.iter().map(|p| json!({ "name": p.name, "public_key": p.public_key, "address": p.address })).collect::<Vec<_>>(),
    }))
}
