//! A server at home, behind a household's router (NAT, no port forwarded), as a new
//! hoster's first server often is: what the lab gives to prove chaton's relay for it.

mod support;

use std::process::Command;

use chaton::description::model::Distribution;
use chaton::lab::HostSpec;
use support::lab::{LAB, in_netns, lab_up_hosts, nothing_left_behind, ssh_ok, ssh_status};

fn spec(name: &str, distribution: Distribution, home: bool) -> HostSpec {
    HostSpec { name: name.to_owned(), distribution, names: Vec::new(), home }
}

/// The home server's website and calendars, which visitors reach at the relay's address.
const HOME_SITE: &str = "www.home.relay.test";
const HOME_CALENDARS: &str = "cal.home.relay.test";

/// A lab of a rented server (`vps`, Debian 12) and a server at home (`home`, Debian 13);
/// the lab's DNS gives the home server's site to the relay, as the hoster's would.
fn vps_and_home(dir: &std::path::Path) -> support::lab::Guard {
    let mut vps = spec("vps", Distribution::Debian12, false);
    vps.names.extend([HOME_SITE.to_owned(), HOME_CALENDARS.to_owned()]);
    lab_up_hosts(dir, vec![vps, spec("home", Distribution::Debian13, true)])
}

/// The home server's website and calendars, as the description's `services:` begins.
fn site_and_calendars_at_home() -> String {
    format!(
        "services:\n  - name: site-home\n    recipe: website\n    server: home\n    domain: {HOME_SITE}\n    access:\n      registration: none\n  - name: cal-home\n    recipe: radicale\n    server: home\n    domain: {HOME_CALENDARS}\n"
    )
}

/// `vps_and_home` with `services` (the description's `services:` line and what follows it)
/// in its description: the lab's guard and state, the home's router, the description.
fn vps_and_home_serving(
    dir: &std::path::Path,
    services: &str,
) -> (support::lab::Guard, chaton::lab::LabState, chaton::lab::HomeRouter, std::path::PathBuf) {
    let guard = vps_and_home(dir);
    let state = guard.state.clone();
    let router = state.host("home").unwrap().home.clone().unwrap();
    let description = chaton::lab::write_description(&state).unwrap();
    let text = std::fs::read_to_string(&description).unwrap();
    assert!(text.contains("    relay: vps\n"));
    std::fs::write(&description, text.replacen("services:\n", services, 1)).unwrap();
    (guard, state, router, description)
}

/// Logs in as root with the lab's key and the host's own key pinned, from where `netns`
/// says (`None`: this machine): whether it got in.
fn logs_in(state: &chaton::lab::LabState, netns: Option<&str>, host: &str) -> (bool, String) {
    let lab_host = state.host(host).unwrap();
    let known = state.dir.join(format!("known-{host}"));
    std::fs::write(&known, format!("{} {}\n", lab_host.address, lab_host.host_key)).unwrap();
    let out = in_netns(netns, "ssh")
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
    let guard = vps_and_home(dir.path());
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

/// chaton run from the home's own network (the household router's namespace), as from a
/// volunteer's laptop at a workshop.
fn chaton_at_home(router: &chaton::lab::HomeRouter, args: &[&str]) -> support::lab::Out {
    let out = in_netns(Some(&router.netns), assert_cmd::cargo::cargo_bin("chaton"))
        .args(args)
        .env_remove("SSH_AUTH_SOCK")
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    support::lab::Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The home server's first apply alone, from the home's network; its relay's apply starts
/// only once the home server has come to its certificates. Returns the home server's run
/// (after the relay's has ended, which must succeed) and whether the relay's was started.
fn home_then_relay(router: &chaton::lab::HomeRouter, file: &str) -> (support::lab::Out, bool) {
    let mut command = in_netns(Some(&router.netns), assert_cmd::cargo::cargo_bin("chaton"));
    command.args(["apply", file, "--server", "home"]);
    let (mut home, lines, reader) = support::lab::spawn_watching(command);
    // The sender goes when the home server's run ends: a run that failed before its
    // certificates ends the wait too.
    let started =
        support::lab::heard_line(&lines, "[home] handler: obtain certificates", std::time::Duration::from_secs(900));
    if started {
        let relay = chaton_at_home(router, &["apply", file, "--server", "vps"]);
        assert_eq!(relay.code, 0, "the relay's first apply:\n{}", relay.stderr);
    }
    let status = home.wait().unwrap();
    let stderr = reader.join().unwrap();
    (support::lab::Out { code: status.code().unwrap_or(-1), stdout: String::new(), stderr }, started)
}

#[test]
#[ignore = "needs root and the lab's packages: run by .ci/run with --ignored"]
fn a_home_server_behind_nat_is_reached_through_its_relays_tunnel_on_debian_12_and_13() {
    let _one = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    // A website, calendars and a VPN at home, served to visitors through the relay.
    let site = format!(
        "{}  - name: vpn-home\n    recipe: wireguard\n    server: home\n    params:\n      peers:\n        - name: member\n",
        site_and_calendars_at_home()
    );
    let (guard, state, router, description) = vps_and_home_serving(dir.path(), &site);
    let file = description.to_str().unwrap();

    // The plan says the tunnel is built on both ends.
    let plan = support::lab::chaton(&["plan", file, "--offline"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    for end in ["vps", "home"] {
        let part = plan.stdout.split(&format!("server {end} ")).nth(1).unwrap_or_default();
        assert!(part.contains("+ file /etc/wireguard/chaton-relay.conf  [relay]"), "{end}:\n{}", plan.stdout);
    }
    assert!(plan.stdout.contains("+ firewall_port 51822/udp  [relay]"), "{}", plan.stdout);
    // The relay passes the home VPN's port on; it opens none of its own for it.
    let relay_part = plan.stdout.split("server vps ").nth(1).unwrap_or_default().split("server home ").next().unwrap();
    assert!(!relay_part.contains("firewall_port 51820/udp"), "{}", plan.stdout);

    // The first apply, from the home's network: no tunnel yet, so chaton says it goes
    // directly, and builds the tunnel on both ends. The home server's alone first: when it
    // comes to its certificates, its relay has not even begun (the certificate authority
    // would find nothing there), so it waits until the relay's apply, started only then,
    // passes its visitors on.
    let (first, relay_started_after) = home_then_relay(&router, file);
    assert!(relay_started_after, "the home server's apply never came to its certificates:\n{}", first.stderr);
    assert_eq!(first.code, 0, "first apply at home:\n{}", first.stderr);
    assert!(
        first.stderr.contains("[home] connecting to root@192.168.1.10:22 directly, on its local network"),
        "{}",
        first.stderr
    );
    assert!(first.stderr.contains("[home] warning: that route does not answer"), "{}", first.stderr);
    // A tunnel key per end, kept next to the description, private.
    for end in ["vps", "home"] {
        let key = state.dir.join(format!("secrets/{end}/relay-tunnel.key"));
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600, "{end}");
        let private = std::fs::read_to_string(&key).unwrap();
        assert!(!first.stderr.contains(private.trim()) && !first.stdout.contains(private.trim()));
    }

    // A visitor from outside (this machine) reaches the home site at the relay's address,
    // with the certificate the home server obtained from the lab's CA through the relay,
    // and the home server logs the visitor's own address.
    ssh_ok(&state, "home", "printf 'served at home\\n' > /var/www/site-home/proof.html");
    let ca = state.dir.join("acme-trust.pem");
    std::fs::write(&ca, &state.acme.as_ref().unwrap().ca_certificate).unwrap();
    let vps_address = state.host("vps").unwrap().address.clone();
    let resolve = format!("{HOME_SITE}:443:{vps_address}");
    let page = Command::new("curl")
        .args(["--silent", "--show-error", "--fail", "--resolve", &resolve, "--cacert"])
        .arg(&ca)
        .arg(format!("https://{HOME_SITE}/proof.html"))
        .output()
        .unwrap();
    assert!(page.status.success(), "{}", String::from_utf8_lossy(&page.stderr));
    assert_eq!(String::from_utf8_lossy(&page.stdout), "served at home\n");
    let logged = ssh_ok(&state, "home", "tail -n 1 /var/log/nginx/site-home.access.log");
    assert!(logged.starts_with(&format!("{} ", state.bridge_address)), "not the visitor's address: {logged}");
    let resolve = format!("{HOME_SITE}:80:{vps_address}");
    let plain = Command::new("curl")
        .args(["--silent", "--output", "/dev/null", "--write-out", "%{http_code} %{redirect_url}", "--resolve"])
        .arg(&resolve)
        .arg(format!("http://{HOME_SITE}/proof.html"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&plain.stdout), format!("301 https://{HOME_SITE}/proof.html"));

    // A member's device joins the VPN at home from outside, with the configuration chaton
    // wrote for it: its endpoint is the relay, which passes the VPN's port on through the
    // tunnel; the home server answers through the tunnel, not through the household router.
    let member = state.dir.join("secrets/home/vpn-vpn-home/member.conf");
    let conf = std::fs::read_to_string(&member).unwrap();
    assert!(conf.contains(&format!("Endpoint = {vps_address}:51820")), "{conf}");
    let client_script = concat!(env!("CARGO_MANIFEST_DIR"), "/recipes/wireguard/proof-client.sh");
    let joined = Command::new("bash").arg(client_script).arg(&member).arg(&vps_address).output().unwrap();
    let said = String::from_utf8_lossy(&joined.stdout);
    assert!(
        joined.status.success() && said.contains("handshake done, the server answered through the tunnel"),
        "{said}{}",
        String::from_utf8_lossy(&joined.stderr)
    );
    // Its answers came back through the relay, not out through the household router; and
    // the home server saw the device's own address.
    assert!(said.contains(&format!("the server answered from {vps_address}:51820\n")), "{said}");
    let device = said.lines().find_map(|l| l.strip_prefix("device ")?.split_whitespace().next()).unwrap();
    let seen = ssh_ok(&state, "home", "wg show wg-vpn-home endpoints");
    assert!(seen.contains(&format!("\t{device}:")), "the home server saw {seen}, not the device {device}");

    // A member's CalDAV and CardDAV client (python3-caldav) makes an event and a contact on
    // the home server's calendars through the relay, and reads them back; the names resolve
    // to the relay, as the hoster's DNS would say.
    ssh_ok(&state, "home", "htpasswd -B -b /etc/radicale/users member 'a calendar through the relay'");
    let hosts = state.dir.join("visitor-hosts");
    std::fs::write(&hosts, format!("127.0.0.1 localhost\n{vps_address} {HOME_SITE} {HOME_CALENDARS}\n")).unwrap();
    let client = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/dav/client.py");
    let url = format!("https://{HOME_CALENDARS}/");
    let dav = support::lab::run_with_binds(
        &[(&hosts, "/etc/hosts")],
        &["/usr/bin/python3", client, &url, "member", "a calendar through the relay", ca.to_str().unwrap()],
    );
    let said = String::from_utf8_lossy(&dav.stdout);
    assert!(
        dav.status.success() && said.contains("address book: contact created and read back"),
        "{said}{}",
        String::from_utf8_lossy(&dav.stderr)
    );

    // From this machine, which has no route to the home's network: through the relay's
    // tunnel, both host keys checked; nothing left to change, on one channel per server.
    let again = support::lab::chaton(&["apply", file, "--json"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    // (With --json, the progress is JSON lines on the standard output.)
    assert!(
        again.stdout.contains("\"address\":\"root@10.77.0.2:22 through its relay vps, on their tunnel\""),
        "{}",
        again.stdout
    );
    assert!(!again.stdout.contains("that route does not answer"), "{}", again.stdout);
    if let Err(e) = support::lab::idempotence(&again.stdout) {
        let planned = support::lab::chaton(&["plan", file, "--diff"]);
        panic!("{e}:\n{}", planned.stdout);
    }
    let verify = support::lab::chaton(&["verify", file]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    assert!(verify.stderr.contains("answered through the relay tunnel of vps (this connection)"), "{}", verify.stderr);
    assert!(
        verify.stderr.contains(&format!("[home] ok   https://{HOME_SITE}/ answers 200: answered 200 over TLSv1.3")),
        "{}",
        verify.stderr
    );
    assert!(
        verify.stderr.contains("[vps] ok   `bash -c timeout 5 bash -c 'exec 3<>/dev/tcp/10.77.0.2/22'"),
        "{}",
        verify.stderr
    );

    // The tunnel cut at home: verify fails, and says which hop.
    ssh_ok(&state, "home", "systemctl stop wg-quick@chaton-relay");
    let cut = support::lab::chaton(&["verify", file]);
    assert_ne!(cut.code, 0, "{}", cut.stderr);
    assert!(cut.stderr.contains("[home] warning: that route does not answer"), "{}", cut.stderr);
    assert!(
        cut.stderr
            .lines()
            .any(|l| l.starts_with("[vps] FAIL") && l.contains("the relay tunnel between vps and home is down")),
        "{}",
        cut.stderr
    );
    assert!(cut.stderr.lines().any(|l| l.starts_with("[home] failed: ")), "{}", cut.stderr);
    eprintln!("{}", cut.stderr);
    // Put back by the next apply, from the home's network.
    let mended = chaton_at_home(&router, &["apply", file]);
    assert_eq!(mended.code, 0, "{}", mended.stderr);
    let verify = support::lab::chaton(&["verify", file]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);

    // The home end started while its relay is away (a first apply of both at once, a relay
    // rebooting) for longer than WireGuard's first attempts (90 s): when the relay is back,
    // the home end's keepalive brings the tunnel back by itself, with no apply.
    ssh_ok(&state, "vps", "systemctl stop wg-quick@chaton-relay");
    ssh_ok(&state, "home", "systemctl restart wg-quick@chaton-relay");
    std::thread::sleep(std::time::Duration::from_secs(100));
    ssh_ok(&state, "vps", "systemctl start wg-quick@chaton-relay");
    let through_tunnel = "timeout 3 bash -c 'exec 3<>/dev/tcp/10.77.0.2/22'";
    let back = (0..25).find(|_| {
        std::thread::sleep(std::time::Duration::from_secs(3));
        support::lab::ssh_status(&state, "vps", through_tunnel).0 == 0
    });
    assert!(back.is_some(), "the tunnel did not come back within 75 s of the relay's return");

    // The VPN moves to its relay: the member's device reached it at the relay's address
    // before and does after, so its configuration stays good (its keys move with the
    // service); it joins again with the new copy, which differs only in its comment.
    let moved = support::lab::chaton(&["move", file, "vpn-home", "--to", "vps", "--yes"]);
    assert_eq!(moved.code, 0, "{}", moved.stderr);
    assert!(moved.stderr.contains("move: vpn-home now runs on vps."), "{}", moved.stderr);
    assert!(!moved.stderr.contains("its peers reach it at"), "{}", moved.stderr);
    let moved_conf = std::fs::read_to_string(state.dir.join("secrets/vps/vpn-vpn-home/member.conf")).unwrap();
    let without_comment = |text: &str| text.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n");
    assert_eq!(without_comment(&moved_conf), without_comment(&conf));
    let rejoined = Command::new("bash")
        .arg(client_script)
        .arg(state.dir.join("secrets/vps/vpn-vpn-home/member.conf"))
        .arg(&vps_address)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&rejoined.stdout);
    assert!(
        rejoined.status.success() && said.contains("handshake done, the server answered through the tunnel"),
        "{said}{}",
        String::from_utf8_lossy(&rejoined.stderr)
    );
    ssh_ok(&state, "vps", "wg show wg-vpn-home peers | grep -q .");
    let (code, _, _) = ssh_status(&state, "home", "ip link show wg-vpn-home");
    assert_ne!(code, 0, "the VPN's interface is still up at home");
    let (_, _, _) = support::lab::converged_idempotent_verified(file);

    support::lab::record(
        "a_home_server_behind_nat_is_reached_through_its_relays_tunnel_on_debian_12_and_13",
        None,
        &["the home end behind the lab's NAT"],
        &[
            ("relay", "debian-12", support::lab::CONVERGED),
            ("relay", "debian-13", support::lab::CONVERGED),
            ("web", "debian-12", support::lab::CONVERGED),
            ("web", "debian-13", support::lab::CONVERGED),
            ("radicale", "debian-13", support::lab::CONVERGED),
            ("wireguard", "debian-13", support::lab::CONVERGED),
        ],
    );
    drop(guard);
    nothing_left_behind(&state);
}

/// The shipped example without the services named in `left_out`.
fn example_without(left_out: &[&str]) -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/amipo/hoster.yml")).unwrap();
    let mut kept = String::new();
    let mut skipping = false;
    for line in text.split_inclusive('\n') {
        if let Some(name) = line.strip_prefix("  - name: ") {
            skipping = left_out.contains(&name.trim());
        } else if skipping && !line.starts_with(' ') && !line.starts_with('\n') {
            skipping = false;
        }
        if !skipping {
            kept.push_str(line);
        }
    }
    kept
}

/// The shipped example on the lab, as `chaton lab up --for` gives it to a workshop: loutre,
/// at home, is served and reached through pangolin. (Its cloud and pads are left out here:
/// tests/upstream.rs installs them from their real releases.)
#[test]
#[ignore = "needs root and the lab's packages: run by .ci/run with --ignored"]
fn the_examples_home_server_is_served_and_reached_through_pangolin() {
    let _one = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let description = dir.path().join("hoster.yml");
    let text = example_without(&["cloud", "pads"]);
    assert!(text.contains("    relay: pangolin\n") && !text.contains("recipe: nextcloud"), "{text}");
    std::fs::write(&description, text).unwrap();
    let lab_dir = dir.path().join("lab");
    let up = support::lab::chaton(&[
        "lab",
        "up",
        "--for",
        description.to_str().unwrap(),
        "--dir",
        lab_dir.to_str().unwrap(),
    ]);
    let state = chaton::lab::LabState::load(&lab_dir);
    let guard = state.as_ref().ok().map(|state| support::lab::Guard { state: state.clone() });
    assert_eq!(up.code, 0, "{}", up.stderr);
    let state = state.unwrap();
    let file = lab_dir.join("hoster.yml");
    let file = file.to_str().unwrap();

    // The first apply: no tunnel yet, so loutre is reached on its (lab) network; both at once.
    let loutre = state.host("loutre").unwrap().address.clone();
    let first = support::lab::chaton(&["apply", file]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first.stderr.contains(&format!("[loutre] connecting to root@{loutre}:22 directly, on its local network")),
        "{}",
        first.stderr
    );
    // Then through pangolin's tunnel: nothing to change, and verify passes, loutre's sites
    // answering at pangolin's address.
    let (_, second, verify) = support::lab::converged_idempotent_verified(file);
    assert!(second.stdout.contains("through its relay pangolin, on their tunnel"), "{}", second.stdout);
    for answered in [
        "[loutre] ok   port 22/tcp answers: answered through the relay tunnel of pangolin (this connection)",
        "[loutre] ok   https://wiki.amipo.example/ answers 200",
        "[loutre] ok   https://agenda.amipo.example/.web/ answers 200",
    ] {
        assert!(verify.stderr.contains(answered), "{answered}:\n{}", verify.stderr);
    }
    // A visitor at pangolin's address gets loutre's wiki, with loutre's certificate.
    ssh_ok(&state, "loutre", "printf 'written at home\\n' > /var/www/wiki/proof.html");
    let ca = state.dir.join("acme-trust.pem");
    std::fs::write(&ca, &state.acme.as_ref().unwrap().ca_certificate).unwrap();
    let pangolin = state.host("pangolin").unwrap().address.clone();
    let page = Command::new("curl")
        .args(["--silent", "--show-error", "--fail", "--resolve", &format!("wiki.amipo.example:443:{pangolin}")])
        .arg("--cacert")
        .arg(&ca)
        .arg("https://wiki.amipo.example/proof.html")
        .output()
        .unwrap();
    assert!(page.status.success(), "{}", String::from_utf8_lossy(&page.stderr));
    assert_eq!(String::from_utf8_lossy(&page.stdout), "written at home\n");

    drop(guard);
    nothing_left_behind(&state);
}

/// Runs `chaton move` with `args` and kills it (SIGKILL) `after` its progress says step
/// `step` began. Returns what it said, and whether it was killed (a step that ends the move
/// before the kill lets it finish).
fn move_killed_in_step(args: &[&str], step: usize, after: std::time::Duration) -> (String, bool) {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("chaton"));
    command.arg("move").args(args);
    let (mut run, lines, reader) = support::lab::spawn_watching(command);
    let killed = if support::lab::heard_line(&lines, &format!("move: ({step}/"), std::time::Duration::from_secs(600)) {
        std::thread::sleep(after);
        run.kill().is_ok() && run.try_wait().map(|s| s.is_none_or(|s| s.code().is_none())).unwrap_or(true)
    } else {
        false
    };
    let status = run.wait().unwrap();
    let said = reader.join().unwrap();
    (said, killed && status.code().is_none())
}

/// `chaton move`: the services of a server at home go to its relay, a rented server, with
/// their data, through a kill -9 in every step of the website's move; visitors and a real
/// CalDAV client find everything on the new server; the old one keeps the data until
/// `--purge`; the description and the charter pages say where the services run.
#[test]
#[ignore = "needs root and the lab's packages: run by .ci/run with --ignored"]
fn a_home_servers_services_move_to_its_relay_with_their_data_through_kills_at_every_step() {
    let _one = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (guard, state, router, description) = vps_and_home_serving(dir.path(), &site_and_calendars_at_home());
    let file = description.to_str().unwrap();
    // Both servers at once, from the home's network (the tunnel does not exist yet).
    let first = chaton_at_home(&router, &["apply", file]);
    assert_eq!(first.code, 0, "{}", first.stderr);

    // What visitors and members put there while it runs at home.
    ssh_ok(&state, "home", "printf 'made at home\\n' > /var/www/site-home/proof.html");
    ssh_ok(&state, "home", "htpasswd -B -b /etc/radicale/users member 'calendars that move'");
    let ca = state.dir.join("acme-trust.pem");
    std::fs::write(&ca, &state.acme.as_ref().unwrap().ca_certificate).unwrap();
    let vps_address = state.host("vps").unwrap().address.clone();
    let hosts = state.dir.join("visitor-hosts");
    std::fs::write(&hosts, format!("127.0.0.1 localhost\n{vps_address} {HOME_SITE} {HOME_CALENDARS}\n")).unwrap();
    let client = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/dav/client.py");
    let url = format!("https://{HOME_CALENDARS}/");
    let dav = |read: bool| {
        let mut argv = vec!["/usr/bin/python3", client];
        if read {
            argv.push("--read");
        }
        argv.extend([url.as_str(), "member", "calendars that move", ca.to_str().unwrap()]);
        let out = support::lab::run_with_binds(&[(&hosts, "/etc/hosts")], &argv);
        (
            out.status.success(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    };
    let (made, said) = dav(false);
    assert!(made && said.contains("address book: contact created and read back"), "{said}");
    let page = || {
        let out = Command::new("curl")
            .args(["--silent", "--show-error", "--fail", "--resolve", &format!("{HOME_SITE}:443:{vps_address}")])
            .arg("--cacert")
            .arg(&ca)
            .arg(format!("https://{HOME_SITE}/proof.html"))
            .output()
            .unwrap();
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    };
    assert_eq!(page(), "made at home\n");

    // Without --yes: the steps, and nothing changed.
    let shown = support::lab::chaton(&["move", file, "cal-home", "--to", "vps"]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    for step in ["1. stop     stop cal-home on home (radicale)", "converge apply vps with cal-home on vps; visitors of"]
    {
        assert!(shown.stderr.contains(step), "{step}:\n{}", shown.stderr);
    }
    assert!(shown.stderr.contains("nothing was changed; add --yes"), "{}", shown.stderr);
    assert!(!state.dir.join("moves").exists());
    assert!(std::fs::read_to_string(&description).unwrap().contains("    server: home\n    domain: www"));

    // The website's move, killed (kill -9) as each of its steps begins, in turn, and once in
    // the middle of its first apply (which the server goes on with alone); resumed each
    // time by the same command; then left to finish.
    let args = [file, "site-home", "--to", "vps", "--yes"];
    let steps = 9;
    let mut killed_in = Vec::new();
    for step in 1..=steps {
        let after = if step == 4 { 1500 } else { 0 };
        let (said, killed) = move_killed_in_step(&args, step, std::time::Duration::from_millis(after));
        if killed {
            killed_in.push(step);
        }
        // Each run goes on from the step the last one was killed in.
        if step > 1 {
            assert!(said.contains(&format!("move: ({}/{steps}) ", step - 1)), "{said}");
        }
        if step > 2 {
            assert!(said.contains("(done)"), "{said}");
        }
    }
    // The last step (describe) may end before the kill lands.
    assert!((1..steps).all(|s| killed_in.contains(&s)), "killed only in steps {killed_in:?}");
    let finished = support::lab::chaton(&["move", file, "site-home", "--to", "vps", "--yes"]);
    let finished_now = finished.code == 0 && finished.stderr.contains("move: site-home now runs on vps.");
    let already = finished.code != 0 && finished.stderr.contains("was already moved from home to vps");
    assert!(finished_now || already, "{}", finished.stderr);
    assert_eq!(page(), "made at home\n", "the page moved with the site");
    let text = std::fs::read_to_string(&description).unwrap();
    assert!(text.contains(&format!("    server: vps\n    domain: {HOME_SITE}")), "{text}");
    // Home serves nothing of it any more, and still holds its files.
    ssh_ok(&state, "home", "test ! -e /etc/nginx/chaton/sites/site-home.conf && test -f /var/www/site-home/proof.html");

    // A move of the calendars cut off as their data is put in place on vps, then rolled
    // back: they run at home again with their data, and the description is unchanged.
    let cal_args = [file, "cal-home", "--to", "vps", "--yes"];
    let (said, killed) = move_killed_in_step(&cal_args, 5, std::time::Duration::ZERO);
    assert!(killed && said.contains("move: (5/9) import: "), "{said}");
    let abandoned = support::lab::chaton(&["move", file, "cal-home", "--abandon"]);
    assert_eq!(abandoned.code, 0, "{}", abandoned.stderr);
    assert!(abandoned.stderr.contains("move: rolled back: cal-home runs on home"), "{}", abandoned.stderr);
    assert!(!state.dir.join("moves/cal-home").exists());
    let (read, said) = dav(true);
    assert!(read && said.contains("address book: contact read back"), "after the roll back: {said}");
    ssh_ok(&state, "home", "systemctl is-active radicale");
    assert!(
        std::fs::read_to_string(&description)
            .unwrap()
            .contains(&format!("    server: home\n    domain: {HOME_CALENDARS}"))
    );

    // The calendars' move, in one go: the member's event and contact answer on vps.
    let moved = support::lab::chaton(&[&["move"][..], &cal_args[..]].concat());
    assert_eq!(moved.code, 0, "{}", moved.stderr);
    eprintln!("{}", moved.stderr);
    let (read, said) = dav(true);
    assert!(
        read && said.contains("calendar: event read back") && said.contains("address book: contact read back"),
        "{said}"
    );
    let (code, _, _) = support::lab::ssh_status(&state, "home", "systemctl is-active radicale");
    assert_ne!(code, 0, "radicale still runs at home");
    ssh_ok(
        &state,
        "home",
        "test ! -e /etc/nginx/chaton/sites/cal-home.conf && test -d /var/lib/radicale/collections/collection-root/member",
    );
    ssh_ok(
        &state,
        "vps",
        "systemctl is-active radicale && test -d /var/lib/radicale/collections/collection-root/member",
    );

    // The next apply agrees: nothing to change anywhere; verify passes.
    let (_, _, verify) = support::lab::converged_idempotent_verified(file);
    assert!(verify.stderr.contains(&format!("[vps] ok   https://{HOME_CALENDARS}/")), "{}", verify.stderr);
    // The charter pages say where the services run now.
    let site = dir.path().join("site");
    let docs = support::lab::chaton(&["docs", file, "--out", site.to_str().unwrap()]);
    assert_eq!(docs.code, 0, "{}", docs.stderr);
    let services = std::fs::read_to_string(site.join("en/services.html")).unwrap();
    for name in ["site-home", "cal-home"] {
        let part = services.split(&format!(">{name}<")).nth(1).unwrap_or_default();
        let runs_on = part.split("Runs on</dt><dd>").nth(1).unwrap_or_default();
        assert!(runs_on.starts_with("vps "), "{name}: {services}");
    }

    // --purge: home's copy goes; a second purge has nothing to do.
    let purged = support::lab::chaton(&["move", file, "cal-home", "--purge"]);
    assert_eq!(purged.code, 0, "{}", purged.stderr);
    ssh_ok(&state, "home", "test ! -e /var/lib/radicale/collections && test ! -e /etc/radicale/users");
    let again = support::lab::chaton(&["move", file, "cal-home", "--purge"]);
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("no finished move of \"cal-home\""), "{}", again.stderr);

    drop(guard);
    nothing_left_behind(&state);
}
