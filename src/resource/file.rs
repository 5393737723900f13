//! Files with exact content, owner, group and mode, replaced atomically.
//!
//! New content goes to a temporary file in the same directory (with owner and mode set as
//! it is created), is checked by the validator if there is one, then renamed over the old
//! file: a reader sees the old file or the new one, never half of it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    Action, Change, Conversion, Kind, Leaving, Problem, Resource, Spec, change, checks, fix_metadata, owner_args,
    temporary_path,
};
use crate::command::{Command, sha256_hex};
use crate::diagnostic::quoted;
use crate::facts::{FactQuery, HostFacts, PathState, Undescribed};
use crate::resource::secret;
use crate::vocab::values::FileMode;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct File {
    pub path: String,
    #[serde(skip)]
    pub content: Vec<u8>,
    pub owner: String,
    pub group: String,
    pub mode: FileMode,
    /// Validator run on the temporary file; `{path}` stands for it.
    pub validate: Option<Vec<String>>,
    /// Never show this file's content (it holds a secret).
    pub sensitive: bool,
    /// Generated secrets the content refers to, as (placeholder, secret file on the server):
    /// the file is filled in on the server (see `secret`).
    pub secrets: Vec<(String, String)>,
    /// Changing it could cut chaton's own access: kept for rollback (see `apply`).
    pub guards_access: bool,
}

impl File {
    pub fn sha256(&self) -> String {
        sha256_hex(&self.content)
    }

    fn compare(&self, facts: &HostFacts) -> Option<Change> {
        let id = self.id();
        let want = json!({ "sha256": self.sha256(), "owner": self.owner, "group": self.group, "mode": self.mode });
        match facts.path(&self.path) {
            PathState::File { sha256, owner, group, mode, text, .. } => {
                let before = json!({ "sha256": sha256, "owner": owner, "group": group, "mode": mode });
                let mut reasons = Vec::new();
                let mut commands = Vec::new();
                if *sha256 != self.sha256() {
                    reasons.push(self.what_differs(text.as_deref()));
                    commands = self.write_commands();
                } else {
                    fix_metadata(
                        &self.path,
                        (owner, group, *mode),
                        (&self.owner, &self.group, self.mode),
                        &mut reasons,
                        &mut commands,
                    );
                }
                if commands.is_empty() {
                    return None;
                }
                let mut c = change(id, Action::Update, Some(before), Some(want), reasons, commands);
                if *sha256 != self.sha256() {
                    c.diff = Some(self.diff(text.as_deref()));
                }
                Some(c)
            }
            PathState::Missing => {
                let mut c = change(
                    id,
                    Action::Create,
                    None,
                    Some(want),
                    vec![format!("{} does not exist", self.path)],
                    self.write_commands(),
                );
                c.diff = Some(self.diff(Some("")));
                Some(c)
            }
            other => {
                let reason = format!("{} is a {}, not a file", self.path, kind_name(other));
                Some(change(
                    id,
                    Action::Update,
                    Some(json!({ "type": kind_name(other) })),
                    Some(want),
                    vec![reason],
                    self.write_commands(),
                ))
            }
        }
    }

    /// Write to a temporary file, validate it, rename it into place.
    fn write_commands(&self) -> Vec<Command> {
        let tmp = temporary_path(&self.path);
        let mut commands = Vec::new();
        if self.secrets.is_empty() {
            let mut install = vec!["install".to_owned()];
            install.extend(owner_args(&self.owner, &self.group, self.mode));
            install.extend(["/dev/stdin".to_owned(), tmp.clone()]);
            commands.push(Command::new(install).stdin(self.content.clone()));
        } else {
            // The content with placeholders goes to a root-only file; the final temporary is
            // created empty with its owner and mode first, then filled on the server.
            let masked = masked_path(&tmp);
            commands.push(
                Command::new(["install", "-o", "root", "-g", "root", "-m", "0600", "/dev/stdin", &masked])
                    .stdin(self.content.clone()),
            );
            let mut create = vec!["install".to_owned()];
            create.extend(owner_args(&self.owner, &self.group, self.mode));
            create.extend(["/dev/null".to_owned(), tmp.clone()]);
            commands.push(Command::new(create));
            let mut fill = vec!["awk".to_owned(), secret::FILL_PROGRAM.to_owned(), masked.clone(), tmp.clone()];
            for (placeholder, file) in &self.secrets {
                fill.extend([file.clone(), placeholder.clone()]);
            }
            commands.push(Command::new(fill));
            commands.push(Command::new(["rm", "-f", "--", &masked]));
        }
        if let Some(validator) = &self.validate {
            let argv: Vec<String> = validator.iter().map(|a| a.replace("{path}", &tmp)).collect();
            commands.push(Command::read_only(argv));
        }
        commands.push(Command::new(["mv", "--force", "--no-target-directory", &tmp, &self.path]));
        if is_systemd_unit(&self.path) {
            // systemd reads unit files when told to: the units started further down the same
            // run, and the handlers that restart them, must see the new file.
            commands.push(Command::new(["systemctl", "daemon-reload"]));
        }
        commands
    }

    /// One sentence on the first difference (`content differs at line 3: `PasswordAuthentication
    /// yes` → `PasswordAuthentication no``), when the content may be shown.
    fn what_differs(&self, before: Option<&str>) -> String {
        let (Some(before), Ok(after), false) = (before, std::str::from_utf8(&self.content), self.sensitive) else {
            return "content differs".to_owned();
        };
        let (old, new): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
        let line = old.iter().zip(&new).position(|(a, b)| a != b).unwrap_or(old.len().min(new.len()));
        let short = |l: Option<&&str>| {
            let text = l.map_or("(nothing)", |t| t.trim());
            let text: String = text.chars().take(60).collect();
            crate::diagnostic::sanitize(&text)
        };
        format!("content differs at line {}: `{}` → `{}`", line + 1, short(old.get(line)), short(new.get(line)))
    }

    /// Unified diff from the current text; sensitive or binary contents are not shown.
    fn diff(&self, before: Option<&str>) -> String {
        if self.sensitive {
            return "(sensitive content not shown)".to_owned();
        }
        let Ok(after) = std::str::from_utf8(&self.content) else {
            return format!("(binary content, {} bytes)", self.content.len());
        };
        let Some(before) = before else {
            if !self.secrets.is_empty() {
                // Never read back: the file on the server holds the secrets' values.
                return format!("(holds secrets: previous content not read)\n{}", prefixed(after, "+"));
            }
            return "(previous content not available: binary or large file)".to_owned();
        };
        similar::TextDiff::from_lines(before, after)
            .unified_diff()
            .context_radius(3)
            .header(&format!("{} (on server)", self.path), &format!("{} (desired)", self.path))
            .to_string()
    }
}

/// A unit file systemd loads from the admin's folder.
fn is_systemd_unit(path: &str) -> bool {
    path.strip_prefix("/etc/systemd/system/").is_some_and(|name| !name.contains('/') && name.contains('.'))
}

fn masked_path(tmp: &str) -> String {
    format!("{tmp}.masked")
}

fn prefixed(text: &str, prefix: &str) -> String {
    text.lines().map(|l| format!("{prefix}{l}\n")).collect()
}

pub(crate) fn kind_name(state: &PathState) -> &'static str {
    match state {
        PathState::Missing => "missing path",
        PathState::File { .. } => "file",
        PathState::Directory { .. } => "directory",
        PathState::Symlink { .. } => "symbolic link",
        PathState::Other => "special file",
    }
}

impl Kind for File {
    const KIND: &'static str = "file";

    fn key(&self) -> String {
        self.path.clone()
    }

    fn wants(&self, query: &mut FactQuery) {
        query.paths.insert(self.path.clone());
        if !self.secrets.is_empty() {
            let pairs = self.secrets.iter().map(|(placeholder, file)| (file.clone(), placeholder.clone())).collect();
            query.masked.insert(self.path.clone(), pairs);
        } else if !self.sensitive {
            query.texts.insert(self.path.clone(), self.sha256());
        }
    }

    fn plan(&self, facts: &HostFacts) -> Option<Change> {
        let mut change = self.compare(facts)?;
        if self.guards_access && change.commands.iter().any(|c| c.argv.first().is_some_and(|p| p == "mv")) {
            change.guards_access = Some(self.path.clone());
        }
        if change.commands.iter().any(|c| c.stdin.is_some()) {
            let tmp = temporary_path(&self.path);
            change.cleanup = vec![tmp.clone()];
            if !self.secrets.is_empty() {
                change.cleanup.push(masked_path(&tmp));
            }
        }
        Some(change)
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
pub struct FileSpec {
    pub path: String,
    /// Inline content (a template)...
    pub content: Option<String>,
    /// ...or a template file: `NAME/FILE` is `recipes/NAME/templates/FILE`.
    pub template: Option<String>,
    #[serde(default = "super::root")]
    pub owner: String,
    #[serde(default = "super::root")]
    pub group: String,
    pub mode: FileMode,
    /// A command that checks the new content before it replaces the old; `{path}` is the
    /// temporary file (`["sshd", "-t", "-f", "{path}"]`).
    pub validate: Option<Vec<String>>,
    /// The content is sensitive: never shown in diffs.
    #[serde(default)]
    pub sensitive: bool,
    /// The file decides whether chaton can still log in (sshd, firewall): after a run
    /// that changed it, a fresh connection is tried, and the old file is put back if it fails.
    #[serde(default)]
    pub guards_access: bool,
    pub when: Option<String>,
    pub for_each: Option<String>,
    #[serde(default)]
    pub notify: Vec<String>,
}

impl Spec for FileSpec {
    const KIND: &'static str = <File as Kind>::KIND;

    fn describe(&self) -> String {
        self.path.clone()
    }

    fn convert(self, conversion: &Conversion) -> Result<Vec<(Resource, Vec<String>)>, Problem> {
        checks::path(&self.path)?;
        checks::owner(&self.owner, &self.group)?;
        let content = match (&self.content, &self.template) {
            (Some(content), _) => content.clone(),
            (None, Some(template)) => (conversion.render_file)(template).map_err(Problem::Template)?,
            (None, None) => {
                return Err(Problem::Message("a file needs `content` or `template`".into()));
            }
        };
        if let Some(v) = &self.validate {
            checks::argv(v)?;
        }
        // Placeholders of generated secrets: only this recipe's, and the file must end
        // with a newline (it is filled in line by line on the server).
        let mut secrets = Vec::new();
        for (placeholder, id) in secret::placeholders(&content) {
            if !conversion.secrets.contains(&placeholder) {
                return Err(Problem::Message(format!(
                    "{} names secret {}, which this recipe does not declare under `secrets`",
                    quoted(&self.path),
                    quoted(&id)
                )));
            }
            secrets.push((placeholder, secret::path_of(conversion.state_dir, &id)));
        }
        let mut content = content;
        if !secrets.is_empty() && !content.ends_with('\n') {
            content.push('\n');
        }
        let file = File {
            path: self.path,
            content: content.into_bytes(),
            owner: self.owner,
            group: self.group,
            mode: self.mode,
            validate: self.validate,
            sensitive: self.sensitive,
            secrets,
            guards_access: self.guards_access,
        };
        Ok(vec![(Resource::File(file), self.notify)])
    }
}
