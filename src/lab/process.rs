//! Local processes of the lab: commands run to completion, the host roots prepared before
//! boot, `systemd-nspawn` and the apt proxy started in the background, and stopped again.

use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{LabError, LabHost};

/// Background processes this process started, so stopping one also reaps it (an exited
/// child stays a zombie until its parent waits for it).
static CHILDREN: std::sync::Mutex<Vec<std::process::Child>> = std::sync::Mutex::new(Vec::new());

pub(super) fn keep(child: std::process::Child) -> u32 {
    let pid = child.id();
    CHILDREN.lock().expect("children lock").push(child);
    pid
}

fn reap(pid: u32) {
    let mut children = CHILDREN.lock().expect("children lock");
    if let Some(i) = children.iter().position(|c| c.id() == pid) {
        let mut child = children.remove(i);
        let _ = child.wait();
    }
}

/// Runs a program to completion; its error output goes into the error.
pub(super) fn run(program: &str, args: &[&str]) -> Result<String, LabError> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LabError::Step { what: format!("starting {program}"), detail: e.to_string() })?;
    if !output.status.success() {
        return Err(LabError::Step {
            what: format!("{program} {}", args.join(" ")),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

pub(super) fn write(path: &Path, text: &str, mode: u32) -> Result<(), LabError> {
    use std::os::unix::fs::PermissionsExt as _;
    let fail =
        |e: std::io::Error| LabError::Step { what: format!("writing {}", path.display()), detail: e.to_string() };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    std::fs::write(path, text).map_err(fail)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(fail)
}

/// Mounts the host's overlay and gives it its own identity: fresh SSH host keys, the lab's
/// key for root, apt through the proxy. Returns the host's ed25519 public key.
pub(super) fn prepare_root(host: &LabHost, base: &Path, public_key: &str, proxy: &str) -> Result<String, LabError> {
    let (upper, work, root) = (host.overlay.join("upper"), host.overlay.join("work"), host.overlay.join("root"));
    for dir in [&upper, &work, &root] {
        std::fs::create_dir_all(dir)
            .map_err(|e| LabError::Step { what: format!("creating {}", dir.display()), detail: e.to_string() })?;
    }
    let options = format!("lowerdir={},upperdir={},workdir={}", base.display(), upper.display(), work.display());
    run("mount", &["-t", "overlay", "overlay", "-o", &options, &root.display().to_string()])?;
    run("ssh-keygen", &["-A", "-f", &root.display().to_string()])?;
    write(&root.join("root/.ssh/authorized_keys"), public_key, 0o600)?;
    // Its own name, resolvable without DNS (sudo looks it up on every call).
    write(&root.join("etc/hostname"), &format!("{}\n", host.name), 0o644)?;
    write(
        &root.join("etc/hosts"),
        &format!("127.0.0.1\tlocalhost\n127.0.1.1\t{}\n::1\tlocalhost ip6-localhost ip6-loopback\n", host.name),
        0o644,
    )?;
    // No DNS server: the names the lab knows are in /etc/hosts, and any other name fails at
    // once (nothing listens on the loopback's port 53) instead of after a resolver's
    // timeouts; software that looks up the internet at every turn (Nextcloud's background
    // jobs) would wait 20 s a name. The servers have no route out anyway.
    let resolv = root.join("etc/resolv.conf");
    let _ = std::fs::remove_file(&resolv);
    write(
        &resolv,
        "# The chaton lab: no DNS; known names are in /etc/hosts.\nnameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
        0o644,
    )?;
    write(
        &root.join("etc/apt/apt.conf.d/01chaton-lab-proxy"),
        &format!(
            "// The lab has no route out: apt goes through the proxy on the bridge.\nAcquire::http::Proxy \"http://{proxy}:3142\";\n"
        ),
        0o644,
    )?;
    let key = std::fs::read_to_string(root.join("etc/ssh/ssh_host_ed25519_key.pub"))
        .map_err(|e| LabError::Step { what: "reading the host key".into(), detail: e.to_string() })?;
    let mut parts = key.split_whitespace();
    Ok(format!("{} {}", parts.next().unwrap_or_default(), parts.next().unwrap_or_default()))
}

/// The cgroup hierarchies systemd uses (hybrid: `systemd` and `unified`; or a pure v2 root).
fn cgroup_roots() -> Vec<std::path::PathBuf> {
    ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .iter()
        .map(std::path::PathBuf::from)
        .filter(|root| root.join("cgroup.procs").exists())
        .collect()
}

/// The host's own cgroup in each hierarchy. With `--keep-unit`, nspawn makes its machine's
/// cgroups (`payload`, `supervisor`) under its own: hosts started from one cgroup would
/// share them, and two hosts starting the same unit at once would tear each other's down
/// (exit status 219/CGROUP).
fn host_cgroups(host: &LabHost) -> Vec<std::path::PathBuf> {
    cgroup_roots().into_iter().map(|root| root.join(format!("chaton-lab-{}", host.netns))).collect()
}

/// Removes the host's cgroups once its processes are gone, deepest first.
pub(super) fn remove_cgroups(host: &LabHost) {
    fn remove(dir: &Path) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    remove(&entry.path());
                }
            }
        }
        let _ = std::fs::remove_dir(dir);
    }
    for dir in host_cgroups(host) {
        remove(&dir);
    }
}

/// Boots the host with systemd-nspawn in the background; returns its pid.
pub(super) fn boot(host: &LabHost, logs: &Path) -> Result<u32, LabError> {
    let mut procs_files = Vec::new();
    for dir in host_cgroups(host) {
        if std::fs::create_dir_all(&dir).is_ok() {
            procs_files.push(
                std::ffi::CString::new(dir.join("cgroup.procs").as_os_str().as_encoded_bytes())
                    .expect("no NUL in a path"),
            );
        }
    }
    let log = std::fs::File::create(logs.join(format!("{}.console.log", host.name)))
        .map_err(|e| LabError::Step { what: "creating the console log".into(), detail: e.to_string() })?;
    let mut command = Command::new("systemd-nspawn");
    command
        .arg("--quiet")
        .arg("-D")
        .arg(host.overlay.join("root"))
        .arg("-M")
        .arg(&host.name)
        .arg(format!("--hostname={}", host.name))
        .arg("--boot")
        // PID 1 of this machine may not be systemd: no machine registration, no scope unit.
        .arg("--register=no")
        .arg("--keep-unit")
        .arg(format!("--network-namespace-path=/run/netns/{}", host.netns))
        // The host's own resolv.conf (written by `prepare_root`), not this machine's.
        .arg("--resolv-conf=off")
        .arg("--bind=/dev/net/tun")
        // The firewall recipes need nftables inside the host.
        .arg("--capability=CAP_NET_ADMIN")
        // The host's own network settings (/proc/sys/net: a VPN's forwarding) are its to
        // change: it has its own network namespace.
        .env("SYSTEMD_NSPAWN_API_VFS_WRITABLE", "network")
        .arg("--console=passive")
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| LabError::Step { what: "console log".into(), detail: e.to_string() })?)
        .stderr(log)
        // Its own process group: a Ctrl-C in the terminal that ran `lab up` leaves it alone.
        .process_group(0);
    // SAFETY: between fork and exec only async-signal-safe calls: open, write, close.
    unsafe {
        command.pre_exec(move || {
            for file in &procs_files {
                let fd = libc::open(file.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd >= 0 {
                    // "0" moves the writing process (the child, about to exec nspawn).
                    let _ = libc::write(fd, b"0".as_ptr().cast(), 1);
                    libc::close(fd);
                }
            }
            Ok(())
        });
    }
    let child = command
        .spawn()
        .map_err(|e| LabError::Step { what: "starting systemd-nspawn".into(), detail: e.to_string() })?;
    Ok(keep(child))
}

/// Waits until the host's sshd answers with its banner: from this machine, or for a home
/// host from its home's network (its router's namespace), the only place that reaches it.
pub(super) fn wait_for_ssh(host: &LabHost) -> Result<(), LabError> {
    let address = host.address.clone();
    let netns = host.home.as_ref().map(|router| router.netns.clone());
    // A thread of its own: joining a namespace changes the calling thread alone.
    std::thread::spawn(move || {
        if let Some(netns) = &netns {
            enter_netns(netns)?;
        }
        wait_for_banner(&address)
    })
    .join()
    .unwrap_or_else(|_| Err(LabError::Step { what: "waiting for sshd".into(), detail: "the thread panicked".into() }))
}

/// Moves the calling thread into the network namespace `name` (`ip netns` names it).
pub(super) fn enter_netns(name: &str) -> Result<(), LabError> {
    let path = format!("/run/netns/{name}");
    let file = std::fs::File::open(&path)
        .map_err(|e| LabError::Step { what: format!("opening {path}"), detail: e.to_string() })?;
    // SAFETY: setns on a file descriptor we own, for this thread only.
    let done = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET) };
    if done != 0 {
        return Err(LabError::Step {
            what: format!("entering the network namespace {name}"),
            detail: std::io::Error::last_os_error().to_string(),
        });
    }
    Ok(())
}

fn wait_for_banner(address: &str) -> Result<(), LabError> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(mut stream) = std::net::TcpStream::connect_timeout(
            &format!("{address}:22").parse().expect("address"),
            Duration::from_secs(2),
        ) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut banner = [0u8; 8];
            if stream.read_exact(&mut banner).is_ok() && banner.starts_with(b"SSH-") {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(LabError::Step {
                what: format!("waiting for sshd on {address}"),
                detail: "no answer within 90 s".into(),
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn alive(pid: u32) -> bool {
    let mut children = CHILDREN.lock().expect("children lock");
    if let Some(child) = children.iter_mut().find(|c| c.id() == pid) {
        return matches!(child.try_wait(), Ok(None));
    }
    drop(children);
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.split_whitespace().nth(2) == Some("Z"))
}

/// Asks a process to stop (SIGTERM: nspawn shuts its machine down), then kills it.
pub(super) fn stop(pid: u32, grace: Duration) {
    let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).stderr(Stdio::null()).status();
    let deadline = Instant::now() + grace;
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if alive(pid) {
        let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).stderr(Stdio::null()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    reap(pid);
}

/// Unmounts if mounted; lazily when still busy.
pub(super) fn unmount(path: &Path) -> Result<(), LabError> {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let target = path.display().to_string();
    if !mounts.lines().any(|l| l.split_whitespace().nth(1) == Some(target.as_str())) {
        return Ok(());
    }
    run("umount", &[&target]).or_else(|_| run("umount", &["-l", &target])).map(|_| ())
}

/// Starts the HTTP proxy apt uses inside the lab, listening on the bridge; returns its pid.
///
/// tinyproxy forwards through the system resolver. apt-cacher-ng would cache, but its own
/// DNS client (c-ares) could not resolve the Debian mirror on the machines this was built
/// on while the system resolver could, so the lab does not depend on it.
pub(super) fn start_proxy(dir: &Path, address: &str, id: u8) -> Result<u32, LabError> {
    let config = dir.join("tinyproxy.conf");
    let subnet = format!("10.231.{id}.0/24");
    write(
        &config,
        &format!(
            "Port 3142\nListen {address}\nTimeout 600\nAllow {subnet}\nMaxClients 200\nLogFile \"{}\"\nLogLevel Warning\n",
            dir.join("logs/proxy.log").display()
        ),
        0o644,
    )?;
    let child = Command::new("tinyproxy")
        .arg("-d")
        .arg("-c")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| LabError::Step { what: "starting tinyproxy".into(), detail: e.to_string() })?;
    let pid = keep(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(format!("{address}:3142")).is_err() {
        if Instant::now() > deadline {
            return Err(LabError::Step { what: "starting tinyproxy".into(), detail: "it does not listen".into() });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(pid)
}
