//! Files fetched from a URL and checked against a pinned SHA-256 before they are used.
//!
//! The download goes to a temporary file; a checksum mismatch stops there (the command
//! fails), so a tampered or truncated archive never reaches its final path.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Action, Change, Conversion, Kind, Leaving, Problem, Resource, Spec, change, checks, temporary_path};
use crate::command::Command;
use crate::diagnostic::quoted;
use crate::facts::{FactQuery, HostFacts, PathState, Undescribed};
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

impl Kind for Download {
    const KIND: &'static str = "download";

    fn key(&self) -> String {
        self.path.clone()
    }

    fn wants(&self, query: &mut FactQuery) {
        query.paths.insert(self.path.clone());
    }

    fn plan(&self, facts: &HostFacts) -> Option<Change> {
        let id = self.id();
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

    fn written_path(&self) -> Option<&str> {
        Some(&self.path)
    }

    const PROBE: &'static str = super::PATH_PROBE;

    fn leaving(thing: &Undescribed, _facts: &HostFacts) -> Leaving {
        super::remove_path(thing)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DownloadSpec {
    pub url: String,
    /// Expected SHA-256 of the file, hex.
    pub sha256: String,
    pub path: String,
    #[serde(default = "super::root")]
    pub owner: String,
    #[serde(default = "super::root")]
    pub group: String,
    pub mode: FileMode,
    pub when: Option<String>,
    pub for_each: Option<String>,
    #[serde(default)]
    pub notify: Vec<String>,
}

impl Spec for DownloadSpec {
    const KIND: &'static str = <Download as Kind>::KIND;

    fn describe(&self) -> String {
        format!("{} from {}", self.path, self.url)
    }

    fn convert(self, _conversion: &Conversion) -> Result<Vec<(Resource, Vec<String>)>, Problem> {
        checks::path(&self.path)?;
        checks::owner(&self.owner, &self.group)?;
        if !self.url.starts_with("https://") || self.url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("download URL {} must be an https:// address", quoted(&self.url)).into());
        }
        if self.sha256.len() != 64 || !self.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(
                format!("checksum {} is not a SHA-256 (64 hexadecimal characters)", quoted(&self.sha256)).into()
            );
        }
        let download = Download {
            url: self.url,
            sha256: self.sha256.to_ascii_lowercase(),
            path: self.path,
            owner: self.owner,
            group: self.group,
            mode: self.mode,
        };
        Ok(vec![(Resource::Download(download), self.notify)])
    }
}
