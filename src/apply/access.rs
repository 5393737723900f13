//! The access guard on the server: what keeps a run from locking chaton (and the admins) out
//! through the files that decide access (the SSH drop-in, the firewall), however the run ends.
//!
//! A run that touches them (`plan::AccessGuard`) first keeps their *last checked* copies in
//! `STATE/access/known-good/` and marks `STATE/access/unchecked`; copies an earlier run left
//! unchecked are kept as they are, since the files on disk were never proven. Then:
//!
//! - the engine tries a new login after the apply; when it works, `confirm_script` drops the
//!   copies and the mark; when it fails, or the apply itself failed, `restore_script` (kept
//!   on the server as `STATE/access/restore`) puts the copies back and reloads them;
//! - when chaton is gone before that (killed, the link lost), a watchdog timer on the server
//!   runs the same restore `WATCHDOG_SECONDS` after the run stopped, unless a run confirmed
//!   first; it waits for the run's lock, so it never cuts into an apply;
//! - when the server reboots before either, a boot unit puts the copies back before sshd and
//!   the firewall start: a file written but never checked is not what the server boots with.
//!
//! The next run also sees the mark (a fact) and proves a new login after itself, so a reload
//! the journal still owes is never taken on trust.

use std::fmt::Write as _;

use base64::Engine as _;

use super::DEFAULT_STATE_DIR;
use crate::plan::AccessGuard;
use crate::shell::{quote, render_with_suffix};

/// How long after a run stopped the server puts the checked copies back by itself, unless
/// `--access-watchdog` says otherwise.
pub const WATCHDOG_SECONDS: u32 = 600;

/// The transient timer (and service) of the watchdog, made by `systemd-run`.
pub const WATCHDOG_UNIT: &str = "chaton-access-watchdog";

/// The unit that puts the checked copies back at boot.
pub const BOOT_UNIT: &str = "chaton-access-boot.service";

fn boot_unit(state_dir: &str) -> String {
    format!(
        "# Written by chaton: puts back the last checked SSH and firewall files at boot when a run\n\
         # changed them and ended before a new login proved them.\n\
         [Unit]\n\
         Description=chaton access guard: last checked SSH and firewall files\n\
         DefaultDependencies=no\n\
         RequiresMountsFor={state_dir}\n\
         After=local-fs.target\n\
         Before=ssh.service nftables.service sysinit.target\n\
         ConditionPathExists={state_dir}/access/unchecked\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         ExecStart=/bin/sh {state_dir}/access/restore --boot\n\
         \n\
         [Install]\n\
         WantedBy=sysinit.target\n"
    )
}

/// The name a guarded file's copy has under `known-good/`: the path never travels as a file
/// name.
fn copy_name(path: &str) -> String {
    crate::command::sha256_hex(path.as_bytes())[..16].to_owned()
}

/// Shell lines for the top of an apply script (after the lock, with `$S` set): keep the
/// checked copies of the guarded files this run does not write, write the restore script,
/// mark the files unchecked, arm the watchdog. Defines `arm_access_watchdog`, which the
/// script calls again at its end. The copy of a file the run writes is taken just before it
/// is written (`keep_copy`): a package installed earlier in the same run may have put its
/// own default there (Debian's `nftables.conf`), and that default, not "no file", is what a
/// restore must go back to, since the package's service loads it.
pub fn prologue(access: &AccessGuard, written: &[&str], state_dir: &str, watchdog_seconds: u32) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "A=\"$S/access\"");
    let _ = writeln!(
        s,
        "if [ ! -e \"$A/unchecked\" ]; then rm -rf \"$A\" && mkdir -m 0700 \"$A\" \"$A/known-good\" || {FAIL}; fi"
    );
    for path in access.files.iter().filter(|p| !written.contains(&p.as_str())) {
        s.push_str(&keep_copy(path));
    }
    let restore = base64::engine::general_purpose::STANDARD.encode(restore_script(access, state_dir));
    let _ = writeln!(
        s,
        "printf '%s' '{restore}' | base64 -d > \"$A/restore.new\" && mv -f \"$A/restore.new\" \"$A/restore\" && : > \"$A/unchecked\" || {FAIL}"
    );
    s.push_str(&watchdog(state_dir, watchdog_seconds));
    let _ = writeln!(s, "arm_access_watchdog");
    s
}

const FAIL: &str = "{ printf 'CHATON\\tfailed\\t0\\t%s\\n' 1; exit 1; }";

/// The line that keeps a guarded file's last checked copy (or that it had none), unless a
/// copy is already kept: that one is from a run never checked, and stays the one to go back
/// to.
pub fn keep_copy(path: &str) -> String {
    let (p, k) = (quote(path), copy_name(path));
    format!(
        "if [ ! -e \"$A/known-good/{k}.path\" ]; then {{ if [ -e {p} ]; then cp -p -- {p} \"$A/known-good/{k}\"; fi && printf '%s' {p} > \"$A/known-good/{k}.path\"; }} || {FAIL}; fi\n"
    )
}

/// The watchdog and boot unit are machine-wide, so only a run with the standard state folder
/// arms them (another `--remote-state-dir` is a test's, or a second chaton's on one machine),
/// and only where systemd runs and the script is root (as it is through sudo).
fn watchdog(state_dir: &str, seconds: u32) -> String {
    if state_dir != DEFAULT_STATE_DIR {
        return "arm_access_watchdog() { :; }\n".to_owned();
    }
    let unit = boot_unit(state_dir);
    let unit_b64 = base64::engine::general_purpose::STANDARD.encode(&unit);
    let restore_path = format!("{state_dir}/access/restore");
    let restore = quote(&restore_path);
    format!(
        "arm_access_watchdog() {{\n\
         \x20 [ \"$(id -u)\" = 0 ] && [ -d /run/systemd/system ] || return 0\n\
         \x20 systemctl stop {WATCHDOG_UNIT}.timer >/dev/null 2>&1\n\
         \x20 systemctl reset-failed {WATCHDOG_UNIT}.service >/dev/null 2>&1\n\
         \x20 systemd-run --quiet --unit={WATCHDOG_UNIT} --on-active={seconds} --timer-property=AccuracySec=1s /bin/sh {restore} >/dev/null 2>&1 \\\n\
         \x20   || printf 'CHATON\\twarning\\t%s\\n' 'no watchdog could be armed for the SSH and firewall files (systemd-run failed)'\n\
         \x20 u=/etc/systemd/system/{BOOT_UNIT}\n\
         \x20 if ! printf '%s' '{unit_b64}' | base64 -d | cmp -s - \"$u\"; then\n\
         \x20   printf '%s' '{unit_b64}' | base64 -d > \"$u.chaton-new\" && mv -f \"$u.chaton-new\" \"$u\" && systemctl enable --quiet {BOOT_UNIT} >/dev/null 2>&1 \\\n\
         \x20     || printf 'CHATON\\twarning\\t%s\\n' 'the boot guard of the SSH and firewall files could not be installed'\n\
         \x20 fi\n\
         }}\n"
    )
}

/// `STATE/access/restore`: puts the checked copies back (atomically), reloads them unless
/// called at boot (`--boot`, before the services start), and clears the mark. Waits for the
/// run lock, so it never runs while a run applies.
pub fn restore_script(access: &AccessGuard, state_dir: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Written by chaton: puts back the last checked SSH and firewall files, and reloads them.");
    let _ = writeln!(s, "set -u\nexport LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let _ = writeln!(s, "S={}\nA=\"$S/access\"", quote(state_dir));
    let _ = writeln!(s, "exec 9>>\"$S/lock\"\nflock -w 900 9 || exit 75");
    let _ = writeln!(s, "[ -e \"$A/unchecked\" ] || exit 0");
    let _ = writeln!(s, "status=0");
    s.push_str(concat!(
        "for p in \"$A\"/known-good/*.path; do\n",
        "  [ -e \"$p\" ] || continue\n",
        "  k=\"${p%.path}\"; target=$(cat \"$p\") || { status=1; continue; }\n",
        "  if [ -e \"$k\" ]; then cp -p -- \"$k\" \"$target.chaton-restore\" && mv -f -- \"$target.chaton-restore\" \"$target\" || status=1\n",
        "  else rm -f -- \"$target\" || status=1; fi\n",
        "done\n",
        "[ \"$status\" = 0 ] || exit 1\n",
        "if [ \"${1:-}\" != --boot ]; then\n",
    ));
    // Exit 3 says the files are back but a reload failed, so the message can tell which.
    for handler in &access.reloads {
        let _ = writeln!(s, "  {}", render_with_suffix(&handler.command, " || status=3"));
    }
    s.push_str("fi\nrm -rf \"$A\"\n");
    let _ = writeln!(s, "systemctl stop {WATCHDOG_UNIT}.timer >/dev/null 2>&1");
    s.push_str("exit \"$status\"\n");
    s
}

/// What putting the last checked files back achieved, as the restore script's exit status
/// and output say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restore {
    /// The files are back and their services reloaded them.
    Reloaded,
    /// The files are back, but a reload failed (its output): the old settings wait on disk.
    NotReloaded(String),
    /// The files could not be put back (the output, or why the script did not run).
    NotPutBack(String),
}

impl Restore {
    pub fn from_exit(exit: i32, output: &str) -> Restore {
        let said = output.trim().lines().rev().take(6).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>();
        match exit {
            0 => Restore::Reloaded,
            3 => Restore::NotReloaded(said.join("\n")),
            _ => Restore::NotPutBack(said.join("\n")),
        }
    }

    /// The end of the message of a run whose new login failed.
    pub fn after_lost_login(&self, files: &str) -> String {
        match self {
            Restore::Reloaded => {
                format!("the last checked {files} were put back and reloaded: chaton can still log in")
            }
            Restore::NotReloaded(said) => format!(
                "the last checked {files} were put back, but reloading them failed, so the settings that locked chaton out may still be active: use the provider's console\n{said}"
            ),
            Restore::NotPutBack(said) => format!(
                "the last checked {files} could NOT be put back: use the provider's console (the server puts them back by itself after the access watchdog's delay, {WATCHDOG_HINT}, and at boot)\n{said}"
            ),
        }
    }

    /// The end of the message of a run that failed after touching access.
    pub fn after_failed_apply(&self, files: &str) -> String {
        match self {
            Restore::Reloaded => format!(
                "the last checked {files} were put back and reloaded, so nothing unproven stays active or waits for the next boot."
            ),
            Restore::NotReloaded(said) => format!(
                "the last checked {files} were put back, but reloading them failed; the next apply checks access again.\n{said}"
            ),
            Restore::NotPutBack(said) => format!(
                "the last checked {files} could NOT be put back now: the server does it by itself after the access watchdog's delay ({WATCHDOG_HINT}), and at boot.\n{said}"
            ),
        }
    }
}

const WATCHDOG_HINT: &str = "10 minutes unless --access-watchdog says otherwise";

/// Sent over the open session when the new login failed or the apply did: runs the restore
/// script the apply left on the server.
pub fn rollback_script(state_dir: &str) -> String {
    format!(
        "set -u\nexport LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n\
         r={}/access/restore\n[ -e \"$r\" ] || exit 0\nexec /bin/sh \"$r\"\n",
        quote(state_dir)
    )
}

/// Sent after a new login worked: the files on disk are the checked ones now.
pub fn confirm_script(state_dir: &str) -> String {
    format!(
        "set -u\nexport LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n\
         S={}\nexec 9>>\"$S/lock\"\nflock -w 60 9 || exit 75\n\
         if [ -d /run/systemd/system ]; then systemctl stop {WATCHDOG_UNIT}.timer >/dev/null 2>&1; fi\n\
         rm -rf \"$S/access\"\n",
        quote(state_dir)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;
    use crate::resolve::Handler;
    use std::process::Command as Process;

    fn guard(files: &[&str], reload: &str) -> AccessGuard {
        AccessGuard {
            files: files.iter().map(|f| (*f).to_owned()).collect(),
            reloads: vec![Handler {
                name: "reload".into(),
                command: Command::new(["sh", "-c", "echo reloaded >> \"$0\"", reload]),
            }],
            reasons: vec!["test".into()],
        }
    }

    fn sh(script: &str) -> std::process::Output {
        let mut child = Process::new("sh")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    /// The copies, the mark and the restore in a real shell: a file that existed comes back,
    /// one that did not is removed, a second unchecked run keeps the first run's copies, and
    /// the reload runs once after the files are back.
    #[test]
    fn restore_puts_back_the_last_checked_files_even_after_a_second_unchecked_run() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        let (kept, new, log) = (dir.path().join("sshd.conf"), dir.path().join("new file"), dir.path().join("log"));
        std::fs::write(&kept, "checked\n").unwrap();
        let access = guard(&[kept.to_str().unwrap(), new.to_str().unwrap()], log.to_str().unwrap());
        let state_dir = state.to_str().unwrap();
        let run = |content: &str| {
            let script = format!(
                "S={}\n{}printf '%s' {} > {}\nprintf '%s' x > {}\n",
                quote(state_dir),
                prologue(&access, &[], state_dir, 600),
                quote(content),
                quote(kept.to_str().unwrap()),
                quote(new.to_str().unwrap())
            );
            let out = sh(&script);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        };
        run("unchecked 1\n");
        run("unchecked 2\n");
        assert!(state.join("access/unchecked").exists());
        let out = sh(&rollback_script(state_dir));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read_to_string(&kept).unwrap(), "checked\n");
        assert!(!new.exists(), "a file that was not there before is removed");
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "reloaded\n");
        assert!(!state.join("access").exists());

        // Confirmed: the files on disk become the checked ones.
        run("proved\n");
        assert!(sh(&confirm_script(state_dir)).status.success());
        assert!(!state.join("access").exists());
        run("unproved\n");
        assert!(sh(&rollback_script(state_dir)).status.success());
        assert_eq!(std::fs::read_to_string(&kept).unwrap(), "proved\n");
    }

    /// A package installed earlier in the run puts its default file where a guarded file goes
    /// (nftables on a fresh server): the copy taken just before chaton writes it is that
    /// default, which its service can load again; and a reload that fails says so (exit 3).
    #[test]
    fn a_guarded_file_a_package_created_during_the_run_goes_back_to_the_packages_default() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        let (conf, log) = (dir.path().join("nftables.conf"), dir.path().join("log"));
        let conf_path = conf.to_str().unwrap();
        let mut access = guard(&[conf_path], log.to_str().unwrap());
        let state_dir = state.to_str().unwrap();
        let script = format!(
            "S={}
{}printf 'package default' > {p}
{}printf 'chaton rules' > {p}
",
            quote(state_dir),
            prologue(&access, &[conf_path], state_dir, 600),
            keep_copy(conf_path),
            p = quote(conf_path),
        );
        assert!(sh(&script).status.success());
        let out = sh(&rollback_script(state_dir));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), "package default");

        access.reloads[0].command = Command::new(["false"]);
        let script = format!(
            "S={}
{}{}printf 'chaton rules' > {}
",
            quote(state_dir),
            prologue(&access, &[conf_path], state_dir, 600),
            keep_copy(conf_path),
            quote(conf_path)
        );
        assert!(sh(&script).status.success());
        let out = sh(&rollback_script(state_dir));
        assert_eq!(out.status.code(), Some(3), "a failed reload is told apart from files not put back");
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), "package default");
        let said = Restore::from_exit(3, "Job for nftables.service failed.");
        assert!(said.after_failed_apply("f").contains("were put back, but reloading them failed"));
        assert!(Restore::from_exit(1, "").after_lost_login("f").contains("could NOT be put back"));
    }

    #[test]
    fn the_watchdog_is_armed_only_for_the_standard_state_folder() {
        let access = guard(&["/etc/ssh/sshd_config.d/chaton.conf"], "/dev/null");
        assert!(prologue(&access, &[], DEFAULT_STATE_DIR, 600).contains("systemd-run"));
        assert!(!prologue(&access, &[], "/tmp/state", 600).contains("systemd-run"));
        assert!(boot_unit(DEFAULT_STATE_DIR).contains("Before=ssh.service nftables.service"));
    }
}
