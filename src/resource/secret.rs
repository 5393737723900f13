//! Generated secrets (database passwords, admin passwords, keys) that never leave the server.
//!
//! A secret is created once on the server, from its own random source, in
//! `STATE/secrets/SERVICE/NAME` (`/var/lib/chaton/secrets/...`, 0600 root, in 0700
//! folders), and kept across runs. Templates never see
//! its value: `{{ secrets.NAME }}` renders a placeholder (`@@chaton-secret:SERVICE/NAME@@`).
//! A file holding placeholders is filled in on the server (`fill_program`), and its facts
//! are the digest of the file with the values put back into placeholders
//! (`mask_program`), so the plan compares it with the rendered content without ever
//! knowing a value. Plans, diffs, JSON and logs only ever contain placeholders.

use serde::Serialize;
use serde_json::json;

use super::{Action, Change, Kind, Leaving, change};
use crate::command::Command;
use crate::facts::{FactQuery, HostFacts, PathState, Undescribed};

/// The placeholder a template gets for a secret.
pub fn placeholder(service: &str, name: &str) -> String {
    format!("@@chaton-secret:{service}/{name}@@")
}

/// The placeholders in `text`, as (placeholder, `SERVICE/NAME`), in order of appearance.
pub fn placeholders(text: &str) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("@@chaton-secret:") {
        let after = &rest[start + "@@chaton-secret:".len()..];
        let Some(end) = after.find("@@") else { break };
        let id = &after[..end];
        let whole = format!("@@chaton-secret:{id}@@");
        if !found.iter().any(|(p, _)| *p == whole) {
            found.push((whole, id.to_owned()));
        }
        rest = &after[end + 2..];
    }
    found
}

/// The file of secret `SERVICE/NAME` under chaton's state folder on the server.
pub fn path_of(state_dir: &str, id: &str) -> String {
    format!("{state_dir}/secrets/{id}")
}

/// awk, reading (file, placeholder) pairs from its arguments after INPUT and OUTPUT: copies
/// INPUT to OUTPUT with each placeholder replaced by the secret read from its file. Exits 2
/// (naming the file, never a value) when a secret is missing. Lines are rewritten whole, so
/// files holding secrets are text ending with a newline.
pub const FILL_PROGRAM: &str = r#"BEGIN {
  input = ARGV[1]; output = ARGV[2]; n = 0
  for (i = 3; i + 1 < ARGC; i += 2) {
    if ((getline value < ARGV[i]) <= 0) { print "chaton: secret file " ARGV[i] " is missing" > "/dev/stderr"; exit 2 }
    close(ARGV[i]); n++; from[n] = ARGV[i + 1]; to[n] = value
  }
  while ((getline line < input) > 0) {
    for (k = 1; k <= n; k++) {
      out = ""
      while ((j = index(line, from[k])) > 0) { out = out substr(line, 1, j - 1) to[k]; line = substr(line, j + length(from[k])) }
      line = out line
    }
    printf "%s\n", line > output
  }
  close(output)
  exit 0
}"#;

pub use crate::facts::gather::MASK_PROGRAM;

/// One generated secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Secret {
    /// `SERVICE/NAME`.
    pub id: String,
    /// Its file on the server.
    pub path: String,
}

impl Secret {
    pub fn path(&self) -> String {
        self.path.clone()
    }
}

impl Kind for Secret {
    const KIND: &'static str = "secret";

    fn key(&self) -> String {
        self.id.clone()
    }

    fn wants(&self, query: &mut FactQuery) {
        query.paths.insert(self.path());
    }

    fn plan(&self, facts: &HostFacts) -> Option<Change> {
        if matches!(facts.path(&self.path()), PathState::File { .. }) {
            // Created once, never compared, never replaced.
            return None;
        }
        let path = self.path();
        let service_dir = path.rsplit_once('/').map_or(String::new(), |(d, _)| d.to_owned());
        let secrets_dir = service_dir.rsplit_once('/').map_or(String::new(), |(d, _)| d.to_owned());
        // The value comes from the server's random source and goes straight to the file:
        // it never travels, and the script text holds only the path.
        let generate = "umask 077 && head -c 48 /dev/urandom | base64 -w0 | tr -d '/+=' | head -c 40 > \"$1.chaton-new\" && mv -f \"$1.chaton-new\" \"$1\"";
        Some(change(
            self.id(),
            Action::Create,
            None,
            Some(json!({ "path": path })),
            vec![format!("secret {} was never generated", self.id)],
            vec![
                Command::new(["install", "-d", "-m", "0700", "-o", "root", "-g", "root", &secrets_dir, &service_dir]),
                Command::new(["sh", "-c", generate, "sh", &path]),
            ],
        ))
    }

    fn recorded(&self) -> Vec<String> {
        vec![self.path.clone()]
    }

    const PROBE: &'static str = super::PATH_PROBE;

    fn leaving(thing: &Undescribed, _facts: &HostFacts) -> Leaving {
        super::keep_if_present(thing, "kept with the data it opens")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_placeholders() {
        let text = "a=@@chaton-secret:db/password@@ b=@@chaton-secret:db/password@@ c=@@chaton-secret:web/key@@";
        let found = placeholders(text);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].1, "db/password");
        assert_eq!(found[1].0, "@@chaton-secret:web/key@@");
    }

    fn awk(program: &str, args: &[&str]) -> (i32, String) {
        let out = std::process::Command::new("awk").arg(program).args(args).output().unwrap();
        (out.status.code().unwrap(), String::from_utf8_lossy(&out.stdout).into_owned())
    }

    #[test]
    fn fill_and_mask_are_inverse_with_a_real_awk() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s3cr3t&value\\1").unwrap();
        let ph = "@@chaton-secret:db/password@@";
        let masked = dir.path().join("masked");
        std::fs::write(&masked, format!("user = db\npassword = {ph}\nagain {ph} and {ph}.\n")).unwrap();
        let filled = dir.path().join("filled");
        let s = |p: &std::path::Path| p.display().to_string();
        assert_eq!(awk(FILL_PROGRAM, &[&s(&masked), &s(&filled), &s(&secret), ph]).0, 0);
        let text = std::fs::read_to_string(&filled).unwrap();
        assert_eq!(text, "user = db\npassword = s3cr3t&value\\1\nagain s3cr3t&value\\1 and s3cr3t&value\\1.\n");
        let (code, back) = awk(MASK_PROGRAM, &[&s(&filled), &s(&secret), ph]);
        assert_eq!(code, 0);
        assert_eq!(back, std::fs::read_to_string(&masked).unwrap());
        // A missing secret file stops the fill, naming the file only.
        let missing = dir.path().join("missing");
        assert_eq!(awk(FILL_PROGRAM, &[&s(&masked), &s(&filled), &s(&missing), ph]).0, 2);
    }
}
