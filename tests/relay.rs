//! A server at home, behind a household's router (NAT, no port forwarded), as a new
//! hoster's first server often is: what the lab gives to prove chaton's relay for it.

mod support;

use std::process::Command;

use chaton::description::model::Distribution;
use chaton::lab::HostSpec;
use support::lab::{LAB, lab_up_hosts, nothing_left_behind, ssh_ok, ssh_status};

fn spec(name: &str, distribution: Distribution, home: bool) -> HostSpec {
    HostSpec { name: name.to_owned(), distribution, names: Vec::new(), home }
}

/// Logs in as root with the lab's key and the host's own key pinned, from where `netns`
/// says (`None`: this machine): whether it got in.
fn logs_in(state: &chaton::lab::LabState, netns: Option<&str>, host: &str) -> (bool, String) {
    let lab_host = state.host(host).unwrap();
    let known = state.dir.join(format!("known-{host}"));
    std::fs::write(&known, format!("{} {}\n", lab_host.address, lab_host.host_key)).unwrap();
    let mut command = match netns {
        Some(netns) => {
            let mut inside = Command::new("ip");
            inside.args(["netns", "exec", netns, "ssh"]);
            inside
        }
        None => Command::new("ssh"),
    };
    let out = command
        .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "StrictHostKeyChecking=yes", "-o"])
        .arg(format!("UserKnownHostsFile={}", known.display()))
        .arg("-i")
        .arg(&state.key)
        .arg(format!("root@{}", lab_host.address))
        .arg("hostname")
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
#[ignore = "needs root and the lab's packages: run by .ci/run with --ignored"]
fn a_home_host_reaches_out_through_its_router_and_nothing_reaches_in() {
    let _one = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let guard = lab_up_hosts(
        dir.path(),
        vec![spec("vps", Distribution::Debian12, false), spec("home", Distribution::Debian13, true)],
    );
    let state = guard.state.clone();
    let home = state.host("home").unwrap().clone();
    let vps = state.host("vps").unwrap().clone();
    let router = home.home.clone().expect("the home host has a router");
    assert_eq!(home.address, chaton::lab::HOME_HOST);

    // Nothing reaches in: not this machine, not a server on the internet side, not even at
    // the router's own address.
    let (got_in, said) = logs_in(&state, None, "home");
    assert!(!got_in, "this machine reached the home host: {said}");
    let knock = format!("timeout 5 bash -c 'exec 3<>/dev/tcp/{}/22' && echo open || echo closed", router.wan_address);
    assert_eq!(ssh_ok(&state, "vps", &knock).trim(), "closed", "the router forwards a port");
    let knock = format!("timeout 5 bash -c 'exec 3<>/dev/tcp/{}/22' && echo open || echo closed", home.address);
    assert_eq!(ssh_ok(&state, "vps", &knock).trim(), "closed", "the home network is routed from outside");

    // On the home's network (a volunteer's laptop at a workshop), the host answers.
    let (got_in, said) = logs_in(&state, Some(&router.netns), "home");
    assert!(got_in && said.trim() == "home", "{said}");

    // And it reaches out: to a server on the internet side, which sees the router's address,
    // and to Debian's mirror through the lab's proxy.
    let banner = format!("timeout 5 bash -c 'exec 3<>/dev/tcp/{}/22; head -c 4 <&3'", vps.address);
    assert_eq!(ssh_ok(&state, "home", &banner), "SSH-");
    let hold = format!(
        "setsid -f timeout 8 bash -c 'exec 3<>/dev/tcp/{}/22; sleep 6' </dev/null >/dev/null 2>&1",
        vps.address
    );
    ssh_ok(&state, "home", &hold);
    let seen = ssh_ok(&state, "vps", "sleep 1; ss -Htn state established '( sport = :22 )'");
    assert!(seen.contains(&router.wan_address), "the server does not see the router's address:\n{seen}");
    assert!(!seen.contains(chaton::lab::HOME_HOST), "{seen}");
    let (code, out, err) = ssh_status(&state, "home", "apt-get update -q");
    assert_eq!(code, 0, "apt from home:\n{out}{err}");

    drop(guard);
    nothing_left_behind(&state);
}
