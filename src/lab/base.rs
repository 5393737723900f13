//! Base images: a minimal Debian with systemd and sshd, built once per release with
//! debootstrap and cached. Host keys are removed from the base: each host gets its own.

use std::path::{Path, PathBuf};

use super::LabError;
use super::process::run;
use crate::vocab::Distribution;

const MIRROR: &str = "http://deb.debian.org/debian";
const PACKAGES: &str = "openssh-server,systemd,systemd-sysv,dbus,iproute2,ca-certificates";

/// Whether the cached base of `distribution` is there.
pub(super) fn is_ready(cache: &Path, distribution: Distribution) -> bool {
    let codename = distribution.codename();
    cache.join(format!("{codename}.ready")).exists() && cache.join(codename).is_dir()
}

/// The cached base of `distribution`, built first if needed. Builds of one release take
/// turns (a lock file beside the base): a second `lab up` on a cold cache waits for the
/// first one's build instead of deleting it half-way.
pub(super) fn ensure(cache: &Path, distribution: Distribution, logs: &Path) -> Result<PathBuf, LabError> {
    let codename = distribution.codename();
    let ready = cache.join(format!("{codename}.ready"));
    let root = cache.join(codename);
    if ready.exists() && root.is_dir() {
        return Ok(root);
    }
    let fail = |what: &str, e: std::io::Error| LabError::Step { what: what.into(), detail: e.to_string() };
    std::fs::create_dir_all(cache).map_err(|e| fail("creating the cache folder", e))?;
    std::fs::create_dir_all(logs).map_err(|e| fail("creating the log folder", e))?;
    let lock = std::fs::File::create(cache.join(format!("{codename}.lock")))
        .map_err(|e| fail("creating the base's lock file", e))?;
    // Released when `lock` is dropped, at the end of this function, or if the process dies.
    lock.lock().map_err(|e| fail("waiting for another build of the base", e))?;
    if ready.exists() && root.is_dir() {
        return Ok(root);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_build_waits_for_the_first_and_leaves_its_work_alone() {
        let cache = tempfile::tempdir().unwrap();
        let logs = cache.path().join("logs");
        // Another `lab up` is building bookworm: it holds the lock, its folder half full.
        let other = std::fs::File::create(cache.path().join("bookworm.lock")).unwrap();
        other.lock().unwrap();
        std::fs::create_dir_all(cache.path().join("bookworm.building/etc")).unwrap();
        let second = {
            let (cache, logs) = (cache.path().to_path_buf(), logs.clone());
            std::thread::spawn(move || ensure(&cache, Distribution::Debian12, &logs))
        };
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(!second.is_finished(), "the second build must wait for the lock");
        assert!(cache.path().join("bookworm.building/etc").is_dir(), "the first build's work is untouched");
        // The first build finishes.
        std::fs::rename(cache.path().join("bookworm.building"), cache.path().join("bookworm")).unwrap();
        std::fs::write(cache.path().join("bookworm.ready"), "").unwrap();
        drop(other);
        let root = second.join().unwrap().unwrap();
        assert_eq!(root, cache.path().join("bookworm"));
        assert!(root.join("etc").is_dir());
    }
}
