//! Keys chaton makes and keeps on the control machine, because they must outlive a server:
//! each server's backup passphrase (without it, a dead server's backups cannot be read) and
//! the SSH key it uses to reach another server's backup repository (its public half goes to
//! that other server).
//!
//! They live in `secrets/SERVER/` next to the description: folders 0700, files 0600,
//! created on first need, never printed. The hoster keeps a copy somewhere safe, away from
//! the servers; `.gitignore` keeps them out of the description's repository.
//!
//! Generated secrets that a single server needs (database passwords) are made on that
//! server instead (`resource::secret`): they never travel.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// The folder, next to the description.
pub const FOLDER: &str = "secrets";

/// A secret value: never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(String);

impl SecretText {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(…)")
    }
}

/// One server's backup keys.
#[derive(Debug, Clone)]
pub struct BackupKeys {
    pub passphrase: SecretText,
    pub ssh_private_key: SecretText,
    /// `ssh-ed25519 AAAA... chaton-backup@SERVER`
    pub ssh_public_key: String,
}

/// The keys of every server that sends backups.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    pub backup: BTreeMap<String, BackupKeys>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("{path}: {detail}")]
    Io { path: String, detail: String },
    #[error("ssh-keygen could not make a key ({0}); install the Debian package openssh-client")]
    Keygen(String),
    #[error("{path} must be readable by you only (mode 0600, folder 0700); it is {mode:o}")]
    TooOpen { path: String, mode: u32 },
}

fn io(path: &Path, e: impl std::fmt::Display) -> KeysError {
    KeysError::Io { path: path.display().to_string(), detail: e.to_string() }
}

impl Keys {
    /// Stand-ins for offline work (`plan --offline`, `render`, `check`), which must not
    /// create anything: the files they would go into are sensitive, never shown anyway.
    pub fn offline(servers: &[String]) -> Self {
        let stand_in = |what: &str| SecretText(format!("({what} made by `chaton apply`)"));
        let backup = servers
            .iter()
            .map(|server| {
                let keys = BackupKeys {
                    passphrase: stand_in("passphrase"),
                    ssh_private_key: stand_in("private key"),
                    ssh_public_key: format!("ssh-ed25519 (made by chaton apply) chaton-backup@{server}"),
                };
                (server.clone(), keys)
            })
            .collect();
        Self { backup }
    }

    /// Reads the keys of `servers` from `dir/secrets/`, making those missing.
    pub fn load_or_create(dir: &Path, servers: &[String]) -> Result<Self, KeysError> {
        let mut backup = BTreeMap::new();
        for server in servers {
            let folder = dir.join(FOLDER).join(server);
            private_folder(&dir.join(FOLDER))?;
            private_folder(&folder)?;
            let passphrase = folder.join("backup-passphrase");
            if !passphrase.exists() {
                write_private(&passphrase, &random_text(40)?)?;
            }
            let key = folder.join("backup-ssh-key");
            if !key.exists() {
                make_ssh_key(&key, &format!("chaton-backup@{server}"))?;
            }
            let public = read(&key.with_extension("pub"), false)?;
            backup.insert(
                server.clone(),
                BackupKeys {
                    passphrase: SecretText(read(&passphrase, true)?.trim().to_owned()),
                    ssh_private_key: SecretText(read(&key, true)?),
                    ssh_public_key: public.trim().to_owned(),
                },
            );
        }
        Ok(Self { backup })
    }
}

fn private_folder(path: &Path) -> Result<(), KeysError> {
    if !path.exists() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path).map_err(|e| io(path, e))?;
    }
    let mode = std::fs::metadata(path).map_err(|e| io(path, e))?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeysError::TooOpen { path: path.display().to_string(), mode });
    }
    Ok(())
}

fn write_private(path: &Path, text: &str) -> Result<(), KeysError> {
    use std::io::Write as _;
    // Written to a new file created 0600, then renamed: never readable by others, never half.
    let tmp: PathBuf = path.with_extension("new");
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(|e| io(&tmp, e))?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}

fn read(path: &Path, private: bool) -> Result<String, KeysError> {
    if private {
        let mode = std::fs::metadata(path).map_err(|e| io(path, e))?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeysError::TooOpen { path: path.display().to_string(), mode });
        }
    }
    std::fs::read_to_string(path).map_err(|e| io(path, e))
}

/// `length` letters and digits from the system's random source.
fn random_text(length: usize) -> Result<String, KeysError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let source = Path::new("/dev/urandom");
    let mut random = std::fs::File::open(source).map_err(|e| io(source, e))?;
    let mut out = String::with_capacity(length);
    let mut byte = [0u8; 1];
    while out.len() < length {
        random.read_exact(&mut byte).map_err(|e| io(source, e))?;
        // 248 = 4 × 62: taking bytes below it keeps every character equally likely.
        if byte[0] < 248 {
            out.push(char::from(ALPHABET[usize::from(byte[0]) % ALPHABET.len()]));
        }
    }
    Ok(out)
}

fn make_ssh_key(path: &Path, comment: &str) -> Result<(), KeysError> {
    let output = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| KeysError::Keygen(e.to_string()))?;
    if !output.status.success() {
        return Err(KeysError::Keygen(String::from_utf8_lossy(&output.stderr).trim().to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_made_once_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let servers = vec!["a".to_owned()];
        let first = Keys::load_or_create(dir.path(), &servers).unwrap();
        let again = Keys::load_or_create(dir.path(), &servers).unwrap();
        let (one, two) = (&first.backup["a"], &again.backup["a"]);
        assert_eq!(one.passphrase, two.passphrase);
        assert_eq!(one.passphrase.expose().len(), 40);
        assert!(one.passphrase.expose().chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(one.ssh_public_key.starts_with("ssh-ed25519 ") && one.ssh_public_key.ends_with("chaton-backup@a"));
        for file in ["backup-passphrase", "backup-ssh-key"] {
            let mode = std::fs::metadata(dir.path().join("secrets/a").join(file)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
        assert!(!format!("{first:?}").contains(one.passphrase.expose()), "Debug shows the passphrase");
        // A folder others can read is refused rather than used.
        std::fs::set_permissions(dir.path().join("secrets/a"), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(matches!(Keys::load_or_create(dir.path(), &servers), Err(KeysError::TooOpen { .. })));
    }
}
