//! Base images: a minimal Debian with systemd and sshd, built once per release with
//! debootstrap and cached. Host keys are removed from the base: each host gets its own.

use std::path::{Path, PathBuf};

use super::LabError;
use super::process::run;
use crate::description::model::Distribution;

const MIRROR: &str = "http://deb.debian.org/debian";
const PACKAGES: &str = "openssh-server,systemd,systemd-sysv,dbus,iproute2,ca-certificates";

/// The cached base of `distribution`, built first if needed.
pub fn ensure(cache: &Path, distribution: Distribution, logs: &Path) -> Result<PathBuf, LabError> {
    let codename = distribution.codename();
    let ready = cache.join(format!("{codename}.ready"));
    let root = cache.join(codename);
    if ready.exists() && root.is_dir() {
        return Ok(root);
    }
    let fail = |what: &str, e: std::io::Error| LabError::Step { what: what.into(), detail: e.to_string() };
    std::fs::create_dir_all(cache).map_err(|e| fail("creating the cache folder", e))?;
    std::fs::create_dir_all(logs).map_err(|e| fail("creating the log folder", e))?;
    let building = cache.join(format!("{codename}.building"));
    if building.exists() {
        std::fs::remove_dir_all(&building).map_err(|e| fail("removing an unfinished base", e))?;
    }
    run(
        "debootstrap",
        &["--variant=minbase", &format!("--include={PACKAGES}"), codename, &building.display().to_string(), MIRROR],
    )?;
    // Each host generates its own host keys.
    for entry in std::fs::read_dir(building.join("etc/ssh")).map_err(|e| fail("reading etc/ssh", e))?.flatten() {
        if entry.file_name().to_string_lossy().starts_with("ssh_host_") {
            std::fs::remove_file(entry.path()).map_err(|e| fail("removing a host key", e))?;
        }
    }
    let security = match distribution {
        Distribution::Debian12 | Distribution::Debian13 => {
            format!("deb http://deb.debian.org/debian-security {codename}-security main")
        }
    };
    std::fs::write(
        building.join("etc/apt/sources.list"),
        format!("deb {MIRROR} {codename} main\ndeb {MIRROR} {codename}-updates main\n{security}\n"),
    )
    .map_err(|e| fail("writing sources.list", e))?;
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(|e| fail("removing an old base", e))?;
    }
    std::fs::rename(&building, &root).map_err(|e| fail("moving the base in place", e))?;
    std::fs::write(&ready, "").map_err(|e| fail("marking the base ready", e))?;
    Ok(root)
}
