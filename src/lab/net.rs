//! The lab's network: a bridge with the host's address 10.231.ID.1, and per lab host a
//! network namespace joined to the bridge by a veth pair (its end renamed `eth0`).

use super::process::run;
use super::{LabError, LabHost};

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
    run("ip", &["link", "add", &host.veth, "type", "veth", "peer", "name", "eth0", "netns", &host.netns])?;
    run("ip", &["link", "set", &host.veth, "master", bridge, "up"])?;
    run("ip", &["-n", &host.netns, "addr", "add", &format!("{}/24", host.address), "dev", "eth0"])?;
    run("ip", &["-n", &host.netns, "link", "set", "eth0", "up"])?;
    run("ip", &["-n", &host.netns, "link", "set", "lo", "up"])?;
    run("ip", &["-n", &host.netns, "route", "add", "default", "via", gateway]).map(|_| ())
}

pub(super) fn host_down(host: &LabHost) -> Result<(), LabError> {
    let namespaces = run("ip", &["netns", "list"])?;
    if namespaces.lines().any(|l| l.split_whitespace().next() == Some(host.netns.as_str())) {
        run("ip", &["netns", "del", &host.netns])?;
    }
    // Deleting the namespace deletes its end of the pair, and so the pair, but the kernel
    // may finish that a moment later: a pair that vanished meanwhile is gone, as wanted.
    if run("ip", &["link", "show", &host.veth]).is_ok()
        && let Err(e) = run("ip", &["link", "del", &host.veth])
        && run("ip", &["link", "show", &host.veth]).is_ok()
    {
        return Err(e);
    }
    Ok(())
}

pub(super) fn link_down(veth: &str) -> Result<(), LabError> {
    run("ip", &["link", "set", veth, "down"]).map(|_| ())
}
