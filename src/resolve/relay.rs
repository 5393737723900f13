//! The relay tunnels: a server at home (`relay: NAME` in the description), behind a
//! household router with no port opened, and the hoster's server with a public address it
//! is reached through. Between them, a WireGuard tunnel that the home end starts and keeps
//! open through the router (a keepalive), on a network of its own: the relay takes its first
//! address, its home servers the next ones, in the description's order.
//!
//! Their keys are made and kept on the control machine (`crate::keys`, `relay-tunnel.key`);
//! the recipe that `provides: relay_tunnel` sees one end as `relay` and writes it.

use std::net::Ipv4Addr;

use serde_json::{Value, json};

use super::scope::OpenPort;
use crate::description::Description;
use crate::description::model::Server;
use crate::keys::Keys;

/// The tunnel's interface on both ends.
pub const INTERFACE: &str = "chaton-relay";
/// The UDP port the relay listens on (beside a VPN's 51820).
pub const PORT: u16 = 51822;
/// Where a home server's web front takes what its relay passes on, in the tunnel: HTTPS
/// with the PROXY protocol (the visitor's address first), and plain HTTP.
pub const HOME_HTTPS_PORT: u16 = 8443;
pub const HOME_HTTP_PORT: u16 = 8080;
/// At home, what came in through the tunnel goes back through it, whatever its address: the
/// firewall marks those connections, and the mark picks a routing table whose default
/// route is the tunnel (the rule's priority comes before the main table's, 32766).
pub const RETURN_MARK: u32 = 51822;
pub const RETURN_TABLE: u32 = 51822;
pub const RETURN_PRIORITY: u32 = 5182;
/// The tunnels' network: each relay's own, so the same on every relay.
const NETWORK: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 0);
const PREFIX: u8 = 24;

/// Every server at one end of a relay tunnel, each once, in the description's order.
pub fn tunnel_ends(description: &Description) -> Vec<String> {
    let servers = &description.hoster.servers;
    servers.iter().filter(|s| s.relay.is_some() || is_relay(servers, &s.name)).map(|s| s.name.clone()).collect()
}

/// The home servers relayed through `relay`, in the description's order.
fn homes_of<'a>(servers: &'a [Server], relay: &str) -> Vec<&'a Server> {
    servers.iter().filter(|s| s.relay.as_deref() == Some(relay)).collect()
}

/// Whether `server` relays a home server.
pub fn is_relay(servers: &[Server], server: &str) -> bool {
    servers.iter().any(|s| s.relay.as_deref() == Some(server))
}

/// A server's address in its tunnel: the relay's is the network's first, its home servers'
/// the next ones. `None` for a server in no tunnel.
pub fn tunnel_address(servers: &[Server], server: &str) -> Option<Ipv4Addr> {
    let first = u32::from(NETWORK) + 1;
    let own = servers.iter().find(|s| s.name == server)?;
    match &own.relay {
        Some(relay) => {
            let index = homes_of(servers, relay).iter().position(|s| s.name == server)?;
            Some(Ipv4Addr::from(first + 1 + u32::try_from(index).ok()?))
        }
        None if is_relay(servers, server) => Some(Ipv4Addr::from(first)),
        None => None,
    }
}

/// On a relay, the home servers it relays (`relay_front` in every recipe's scope): their
/// names, tunnel addresses and the domains of their services, whose visitors arrive here,
/// and the ports passed on to them as they are (`forwarded`: a home server's public ports
/// but SSH and the web front's). `None` on a server that relays none.
pub fn front(
    description: &Description,
    server: &Server,
    forwarded: &dyn Fn(&Server) -> Vec<OpenPort>,
) -> Option<Vec<Value>> {
    let servers = &description.hoster.servers;
    let homes = homes_of(servers, &server.name);
    if homes.is_empty() {
        return None;
    }
    let front = homes
        .into_iter()
        .filter_map(|home| {
            let address = tunnel_address(servers, &home.name)?;
            let domains: Vec<&str> = description
                .hoster
                .services
                .iter()
                .filter(|s| s.server == home.name)
                .filter_map(|s| s.domain.as_deref())
                .collect();
            Some(json!({
                "name": home.name,
                "address": address.to_string(),
                "interface": INTERFACE,
                "domains": domains,
                "ports": forwarded(home),
                "https_port": HOME_HTTPS_PORT,
                "http_port": HOME_HTTP_PORT,
            }))
        })
        .collect();
    Some(front)
}

/// On a server at home with a relay (`relayed` in every recipe's scope): the relay's name,
/// its public address (where visitors arrive) and its tunnel address (which the visitors
/// it serves come in from).
pub fn relayed(description: &Description, server: &Server, forwarded: &[OpenPort]) -> Option<Value> {
    let relay = server.relay.as_ref()?;
    let address = tunnel_address(&description.hoster.servers, relay)?;
    let public = &description.hoster.servers.iter().find(|s| s.name == *relay)?.address;
    Some(json!({
        "relay": relay,
        "public_address": public,
        "relay_address": address.to_string(),
        "interface": INTERFACE,
        "https_port": HOME_HTTPS_PORT,
        "http_port": HOME_HTTP_PORT,
        "ports": forwarded,
        "return_mark": RETURN_MARK,
    }))
}

/// The `relay` value the tunnel's recipe is rendered with on `server`, or `None` when it is
/// at no end of a tunnel. It holds the server's private key: only that recipe sees it, and
/// only a sensitive file holds it.
pub fn context(
    description: &Description,
    keys: &Keys,
    server: &Server,
    forwarded: &dyn Fn(&Server) -> Vec<OpenPort>,
) -> Option<Value> {
    let servers = &description.hoster.servers;
    let own = keys.tunnel.get(&server.name)?;
    let address = tunnel_address(servers, &server.name)?;
    let peer = |other: &Server, endpoint: Option<String>| {
        let keys = keys.tunnel.get(&other.name)?;
        let address = tunnel_address(servers, &other.name)?;
        Some(json!({
            "name": other.name,
            "public_key": keys.public_key,
            "address": address.to_string(),
            "endpoint": endpoint,
        }))
    };
    let (role, listen_port, peers) = match &server.relay {
        // At home: one peer, the relay, reached at its public address.
        Some(relay) => {
            let relay = servers.iter().find(|s| s.name == *relay)?;
            // A port of its own too, though nothing comes in unasked: without one, each
            // reload (wg syncconf) picks another, and the relay answers the old one until
            // the next handshake, up to two minutes later.
            ("home", Some(PORT), vec![peer(relay, Some(format!("{}:{PORT}", relay.address)))?])
        }
        None => {
            let homes: Option<Vec<Value>> =
                homes_of(servers, &server.name).into_iter().map(|home| peer(home, None)).collect();
            ("relay", Some(PORT), homes?)
        }
    };
    // The relay forwards visitors' packets to a home server's ports: the kernel must route.
    let forwarding = server.relay.is_none() && homes_of(servers, &server.name).iter().any(|h| !forwarded(h).is_empty());
    Some(json!({
        "role": role,
        "interface": INTERFACE,
        "private_key": own.private_key.expose(),
        "public_key": own.public_key,
        "address": format!("{address}/{PREFIX}"),
        "tunnel_ip": address.to_string(),
        "listen_port": listen_port,
        "peers": peers,
        "forwarding": forwarding,
        "return_mark": RETURN_MARK,
        "return_table": RETURN_TABLE,
        "return_priority": RETURN_PRIORITY,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str, relay: Option<&str>) -> Server {
        let yaml = format!(
            "name: {name}\naddress: 192.0.2.1\nprovider: {{name: P, type: home, country: FR}}\ncontrol: owned\n{}",
            relay.map(|r| format!("relay: {r}\n")).unwrap_or_default()
        );
        serde_saphyr::from_str(&yaml).expect("a server")
    }

    #[test]
    fn the_relay_takes_the_first_address_and_its_home_servers_the_next_in_order() {
        let servers = [
            server("vps", None),
            server("loutre", Some("vps")),
            server("other", None),
            server("blaireau", Some("vps")),
        ];
        let address = |name| tunnel_address(&servers, name).map(|a| a.to_string());
        assert_eq!(address("vps").as_deref(), Some("10.77.0.1"));
        assert_eq!(address("loutre").as_deref(), Some("10.77.0.2"));
        assert_eq!(address("blaireau").as_deref(), Some("10.77.0.3"));
        assert_eq!(address("other"), None);
    }
}
