//! The lab's network: a bridge with the host's address 10.231.ID.1, and per lab host a
//! network namespace joined to the bridge by a veth pair (its end renamed `eth0`). A home
//! host's namespace is joined instead to its household router's namespace, itself on the
//! bridge (`HomeRouter`).

use super::process::run;
use super::{HomeRouter, LabError, LabHost};

/// The household router's rules: what the home sends out leaves with the router's address;
/// nothing comes in but the answers to it (no port is forwarded).
const HOME_ROUTER_RULES: &str = "flush ruleset
table ip chaton_box {
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname \"lan\" oifname \"wan\" accept
	}
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iifname \"lo\" accept
		iifname \"lan\" accept
		ip protocol icmp accept
	}
	chain postrouting {
		type nat hook postrouting priority srcnat;
		oifname \"wan\" masquerade
	}
}
";

/// The first lab number whose bridge does not exist yet.
pub(super) fn free_id() -> Result<u8, LabError> {
    let links = run("ip", &["-o", "link", "show"])?;
    (1..=250u8)
        .find(|id| !links.contains(&format!(": chbr{id}:")) && !links.contains(&format!(": chbr{id}@")))
        .ok_or_else(|| LabError::Step {
            what: "choosing a lab network".into(),
            detail: "250 labs already exist".into(),
        })
}

pub(super) fn bridge_up(bridge: &str, cidr: &str) -> Result<(), LabError> {
    run("ip", &["link", "add", bridge, "type", "bridge"])?;
    run("ip", &["addr", "add", cidr, "dev", bridge])?;
    run("ip", &["link", "set", bridge, "up"]).map(|_| ())
}

pub(super) fn bridge_down(bridge: &str) -> Result<(), LabError> {
    if run("ip", &["link", "show", bridge]).is_ok() {
        run("ip", &["link", "del", bridge])?;
    }
    Ok(())
}

pub(super) fn host_up(host: &LabHost, bridge: &str, gateway: &str) -> Result<(), LabError> {
    run("ip", &["netns", "add", &host.netns])?;
    plug_into_bridge(&host.netns, &host.veth, "eth0", bridge)?;
    address_link(&host.netns, "eth0", &host.address, Some(gateway))
}

/// Joins the namespace `netns` to the bridge: a veth pair whose end here is `veth` (on the
/// bridge) and whose end in the namespace is named `inside`.
fn plug_into_bridge(netns: &str, veth: &str, inside: &str, bridge: &str) -> Result<(), LabError> {
    run("ip", &["link", "add", veth, "type", "veth", "peer", "name", inside, "netns", netns])?;
    run("ip", &["link", "set", veth, "master", bridge, "up"]).map(|_| ())
}

/// Gives `link` of the namespace `netns` its `address` (in a /24) and brings it up with the
/// loopback; with a `gateway`, the namespace's default route goes through it.
fn address_link(netns: &str, link: &str, address: &str, gateway: Option<&str>) -> Result<(), LabError> {
    run("ip", &["-n", netns, "addr", "add", &format!("{address}/24"), "dev", link])?;
    run("ip", &["-n", netns, "link", "set", link, "up"])?;
    run("ip", &["-n", netns, "link", "set", "lo", "up"])?;
    if let Some(gateway) = gateway {
        run("ip", &["-n", netns, "route", "add", "default", "via", gateway])?;
    }
    Ok(())
}

pub(super) fn host_down(host: &LabHost) -> Result<(), LabError> {
    remove_namespace(&host.netns, &host.veth)
}

/// Removes the namespace `netns` and the link `veth` that joined it to the bridge.
fn remove_namespace(netns: &str, veth: &str) -> Result<(), LabError> {
    let namespaces = run("ip", &["netns", "list"])?;
    if namespaces.lines().any(|l| l.split_whitespace().next() == Some(netns)) {
        run("ip", &["netns", "del", netns])?;
    }
    // Deleting the namespace deletes its end of the pair, and so the pair, but the kernel
    // may finish that a moment later: a pair that vanished meanwhile is gone, as wanted.
    if run("ip", &["link", "show", veth]).is_ok()
        && let Err(e) = run("ip", &["link", "del", veth])
        && run("ip", &["link", "show", veth]).is_ok()
    {
        return Err(e);
    }
    Ok(())
}

pub(super) fn link_down(veth: &str) -> Result<(), LabError> {
    run("ip", &["link", "set", veth, "down"]).map(|_| ())
}

/// A home host behind its household router: the router's namespace on the bridge (its
/// `wan`), the home's network between the router (`lan`) and the host (`eth0`).
pub(super) fn home_up(host: &LabHost, router: &HomeRouter, bridge: &str, gateway: &str) -> Result<(), LabError> {
    let box_ns = router.netns.as_str();
    run("ip", &["netns", "add", box_ns])?;
    plug_into_bridge(box_ns, &router.veth, "wan", bridge)?;
    address_link(box_ns, "wan", &router.wan_address, Some(gateway))?;
    run("ip", &["netns", "add", &host.netns])?;
    run("ip", &["-n", box_ns, "link", "add", "lan", "type", "veth", "peer", "name", "eth0", "netns", &host.netns])?;
    address_link(box_ns, "lan", &router.lan_address, None)?;
    run("ip", &["netns", "exec", box_ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])?;
    let rules = std::env::temp_dir().join(format!("{box_ns}.nft"));
    super::process::write(&rules, HOME_ROUTER_RULES, 0o600)?;
    let loaded = run("ip", &["netns", "exec", box_ns, "nft", "-f", &rules.display().to_string()]);
    let _ = std::fs::remove_file(&rules);
    loaded?;
    address_link(&host.netns, "eth0", &host.address, Some(&router.lan_address))
}

/// Removes a household router (its namespace, and so its links).
pub(super) fn home_down(router: &HomeRouter) -> Result<(), LabError> {
    remove_namespace(&router.netns, &router.veth)
}
