//! For unit tests of the shell scripts chaton sends to servers: a scratch folder whose
//! `bin/` holds stand-in programs (a pretend `apt-get`, `runuser`, `systemctl` that write
//! down how they were called), and a run of a script with that folder first in `PATH`.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

pub(crate) struct StandIns {
    scratch: tempfile::TempDir,
}

impl StandIns {
    pub(crate) fn new() -> Self {
        let scratch = tempfile::tempdir().unwrap();
        std::fs::create_dir(scratch.path().join("bin")).unwrap();
        StandIns { scratch }
    }

    /// A path in the scratch folder, for the stand-ins' notes and the script's files.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.scratch.path().join(name)
    }

    /// A program `name` that runs `body` with sh.
    pub(crate) fn program(&self, name: &str, body: &str) {
        let path = self.scratch.path().join("bin").join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// `sh -c script`, where the stand-ins come before the real programs.
    pub(crate) fn run(&self, script: &str) -> Output {
        self.run_with_args(script, &[])
    }

    /// `sh -c script sh ARGS…`.
    pub(crate) fn run_with_args(&self, script: &str, args: &[&str]) -> Output {
        let path = format!("{}:{}", self.scratch.path().join("bin").display(), std::env::var("PATH").unwrap());
        Command::new("sh").arg("-c").arg(script).arg("sh").args(args).env("PATH", path).output().unwrap()
    }
}
