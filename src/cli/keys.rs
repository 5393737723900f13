//! `chaton keys fetch`: the keys kept next to the description (`secrets/`: backup
//! passphrases and SSH keys, VPN server keys) fetched back from the servers that hold them,
//! for a description cloned without its `secrets/` folder. Only missing keys are written,
//! 0600 in 0700 folders; keys that never were on a server (a VPN peer's private key) are
//! named as lost.
//!
//! Where each key sits in which server file comes from the desired state, resolved with
//! stand-in keys made in a scratch folder: the file is the key (a passphrase), or the key
//! ends a line that starts the same way (`PrivateKey = `).

use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::remote::{self, ConnectionArgs};
use crate::error::{Error, exit};
use crate::keys;
use crate::pipeline;
use crate::resolve::KeyInFile;
use crate::shell::quote;

#[derive(Debug, clap::Subcommand)]
pub(super) enum KeysCommand {
    /// Fetch back from the servers the keys missing next to the description (backup
    /// passphrases and SSH keys, VPN server keys), written 0600 into `secrets/`.
    Fetch {
        /// The description (hoster.yml).
        file: PathBuf,
        #[command(flatten)]
        connection: ConnectionArgs,
    },
}

/// A key to fetch: from which file of which server, to where here.
struct Wanted<'a> {
    server: String,
    found: &'a KeyInFile,
    local: PathBuf,
}

pub(super) fn run(command: KeysCommand) -> Result<u8, Error> {
    let KeysCommand::Fetch { file, connection } = command;
    let checked = pipeline::check(&file, None)?;
    let scratch = tempfile::tempdir().map_err(|e| Error::Output(format!("cannot make a scratch folder: {e}")))?;
    let (_, desired) = super::resolved(&checked, connection.state_dir(), pipeline::KeysFrom::Folder(scratch.path()))?;
    let home = &checked.description.dir;

    // Every key missing here, whether or not the server holds it (that the script tells).
    let mut wanted = Vec::new();
    for server in &desired.servers {
        for found in &server.kept_keys {
            let Ok(relative) = found.key.local.strip_prefix(scratch.path()) else { continue };
            let local = home.join(relative);
            if local.exists() || wanted.iter().any(|w: &Wanted| w.local == local) {
                continue;
            }
            wanted.push(Wanted { server: server.name.clone(), found, local });
        }
    }
    if wanted.is_empty() {
        eprintln!("every key the description needs is already next to it");
        return Ok(exit::OK);
    }

    // One script for every server: each prints the files it has, base64, one a line.
    let mut script = String::from("set -u\n");
    for (i, w) in wanted.iter().enumerate() {
        let path = quote(&w.found.path);
        script.push_str(&format!(
            "if [ -r {path} ]; then printf 'key\\t{i}\\t'; base64 -w0 -- {path}; printf '\\n'; fi\n"
        ));
    }
    let servers: Vec<String> = desired.servers.iter().map(|s| s.name.clone()).collect();
    let (reports, _) = remote::operate(&checked, &desired, &servers, &script, &connection, false)?;

    let mut failed = false;
    for (i, w) in wanted.iter().enumerate() {
        let output = reports.iter().find(|r| r.server == w.server).and_then(|r| r.result.as_ref().ok());
        let prefix = format!("key\t{i}\t");
        let Some(encoded) = output.and_then(|o| o.output.iter().find_map(|l| l.strip_prefix(&prefix))) else {
            // The server has no such file: nothing to lose, the next apply makes the key.
            eprintln!(
                "{}: {} is on neither side yet ({} is not on the server): apply makes it",
                w.server, w.found.key.what, w.found.path
            );
            continue;
        };
        if !w.found.key.on_server {
            eprintln!(
                "{}: {} is not on the server (only its public half is, in {}): put your copy of {} back, or hand out a new configuration with `chaton apply --replace-keys`",
                w.server,
                w.found.key.what,
                w.found.path,
                w.local.display()
            );
            failed = true;
            continue;
        }
        let content = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        let key = content.as_deref().and_then(|text| key_in(text, w.found.line_start.as_deref()));
        match key {
            Some(key) => match write(&w.local, &key) {
                Ok(()) => eprintln!(
                    "{}: {} fetched from {} into {} (0600)",
                    w.server,
                    w.found.key.what,
                    w.found.path,
                    w.local.display()
                ),
                Err(e) => {
                    eprintln!("{}: {}: {e}", w.server, w.local.display());
                    failed = true;
                }
            },
            None => {
                eprintln!("{}: {} was not found in {} on the server", w.server, w.found.key.what, w.found.path);
                failed = true;
            }
        }
    }
    Ok(if failed { exit::ERROR } else { exit::OK })
}

/// The key in a server file's `text`: the whole file, or what follows `line_start` on the
/// line that starts with it.
fn key_in(text: &str, line_start: Option<&str>) -> Option<String> {
    let key = match line_start {
        None => text.to_owned(),
        Some(start) => text.lines().find_map(|l| l.strip_prefix(start))?.trim().to_owned() + "\n",
    };
    (!key.trim().is_empty()).then_some(key)
}

/// Writes a fetched key next to the description, with what goes beside it (an SSH key's
/// public half).
fn write(local: &Path, key: &str) -> Result<(), String> {
    if let Some(folder) = local.parent() {
        keys::private_folder(folder).map_err(|e| e.to_string())?;
    }
    keys::write_private(local, key).map_err(|e| e.to_string())?;
    if key.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----") {
        let out = std::process::Command::new("ssh-keygen")
            .arg("-y")
            .arg("-f")
            .arg(local)
            .output()
            .map_err(|e| format!("ssh-keygen: {e}"))?;
        if !out.status.success() {
            return Err(format!("not an SSH private key: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        std::fs::write(local.with_extension("pub"), &out.stdout).map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_whole_or_at_the_end_of_their_line() {
        assert_eq!(key_in("s3cret\n", None).as_deref(), Some("s3cret\n"));
        let conf = "[Interface]\nAddress = 10.66.0.1/24\nPrivateKey = abc=\nListenPort = 51820\n";
        assert_eq!(key_in(conf, Some("PrivateKey = ")).as_deref(), Some("abc=\n"));
        assert_eq!(key_in(conf, Some("Missing = ")), None);
        assert_eq!(key_in("\n", None), None);
    }
}
