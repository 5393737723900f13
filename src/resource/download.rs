//! Files fetched from a URL and checked against a pinned SHA-256 before they are used.
//!
//! The download goes to a temporary file; a checksum mismatch stops there (the command
//! fails), so a tampered or truncated archive never reaches its final path.

use serde::Serialize;
use serde_json::json;

use super::{Action, Change, ResourceId, change, temporary_path};
use crate::command::Command;
use crate::facts::{HostFacts, PathState};
use crate::vocab::values::FileMode;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Download {
    pub url: String,
    pub sha256: String,
    pub path: String,
    pub owner: String,
    pub group: String,
    pub mode: FileMode,
}

impl Download {
    pub fn plan(&self, facts: &HostFacts) -> Option<Change> {
        let id = ResourceId { kind: "download".into(), name: self.path.clone() };
        let after = json!({ "sha256": self.sha256, "url": self.url });
        let (action, before, reason) = match facts.path(&self.path) {
            PathState::File { sha256, owner, group, mode, .. } if *sha256 == self.sha256 => {
                if *owner == self.owner && *group == self.group && *mode == self.mode {
                    return None;
                }
                let mut reasons = Vec::new();
                let mut commands = Vec::new();
                super::fix_metadata(
                    &self.path,
                    (owner, group, *mode),
                    (&self.owner, &self.group, self.mode),
                    &mut reasons,
                    &mut commands,
                );
                return Some(change(id, Action::Update, None, Some(after), reasons, commands));
            }
            PathState::File { sha256, .. } => {
                (Action::Update, Some(json!({ "sha256": sha256 })), "checksum differs from the pinned one".to_owned())
            }
            PathState::Missing => (Action::Create, None, format!("{} does not exist", self.path)),
            _ => (Action::Update, None, format!("{} is not a file", self.path)),
        };
        let tmp = temporary_path(&self.path);
        let commands = vec![
            Command::new([
                "curl",
                "--fail",
                "--silent",
                "--show-error",
                "--location",
                "--proto",
                "=https",
                "--output",
                &tmp,
                "--",
                &self.url,
            ]),
            // sha256sum reads "DIGEST  FILE" lines on stdin; it fails on a mismatch.
            Command::read_only(["sha256sum", "--check", "--strict", "--quiet", "-"])
                .stdin(format!("{}  {}\n", self.sha256, tmp).into_bytes()),
            Command::new(["chown", &format!("{}:{}", self.owner, self.group), "--", &tmp]),
            Command::new(["chmod", &self.mode.to_string(), "--", &tmp]),
            Command::new(["mv", "--force", "--no-target-directory", &tmp, &self.path]),
        ];
        let mut c = change(id, action, before, Some(after), vec![reason], commands);
        c.cleanup = vec![tmp];
        Some(c)
    }
}
