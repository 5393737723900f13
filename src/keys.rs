//! Keys chaton makes and keeps on the control machine, because they must outlive a server
//! or be handed to someone: each server's backup passphrase (without it, a dead server's
//! backups cannot be read), the SSH key it uses to reach another server's backup repository
//! (its public half goes to that other server), and a VPN's keys (the server's public key
//! and each generated peer's configuration go to the people who connect).
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
pub(crate) const FOLDER: &str = "secrets";

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

/// The keys of every server that sends backups, and of every VPN.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    pub backup: BTreeMap<String, BackupKeys>,
    /// By (server, service).
    pub vpn: BTreeMap<(String, String), VpnKeys>,
    /// The relay tunnels' keys, by server: each end of a tunnel between a home server and
    /// its relay (`Keys::with_tunnels`).
    pub tunnel: BTreeMap<String, TunnelKeys>,
    /// Every key above as a server holds it, with the file it is kept in here: so that a key
    /// made on this run never silently replaces the one a server already holds (a
    /// description cloned without its `secrets/`), and so a lost one can be fetched back.
    pub kept: Vec<KeptKey>,
}

/// A key kept next to the description, as it reaches a server.
#[derive(Debug, Clone)]
pub struct KeptKey {
    pub server: String,
    /// What it is, for people: "the backup passphrase".
    pub what: String,
    /// What replacing it on the server breaks.
    pub breaks: &'static str,
    /// The file it is kept in, next to the description.
    pub local: PathBuf,
    /// The text the server's files hold of it: the key itself, or for a VPN peer whose
    /// private key never leaves this machine, its public key.
    pub value: SecretText,
    /// Made by this run: no server has ever had it.
    pub made_now: bool,
    /// The server holds the key itself, so it can be fetched back from there.
    pub on_server: bool,
}

/// What chaton needs to know of a VPN service to make its keys and peer configurations.
#[derive(Debug, Clone)]
pub struct VpnNeed {
    pub server: String,
    pub service: String,
    /// The tunnel network; the server takes its first address.
    pub network: (std::net::Ipv4Addr, u8),
    /// (name, public key if the peer made its own).
    pub peers: Vec<(String, Option<String>)>,
    /// Where peers reach the server (`host:port`), for their configurations.
    pub endpoint: String,
    /// Networks peers send through the tunnel (`0.0.0.0/0` for a full tunnel).
    pub allowed_ips: String,
    pub dns: Option<String>,
}

/// One end of a relay tunnel: its WireGuard key pair.
#[derive(Debug, Clone)]
pub struct TunnelKeys {
    pub private_key: SecretText,
    pub public_key: String,
}

#[derive(Debug, Clone)]
pub struct VpnKeys {
    pub private_key: SecretText,
    pub public_key: String,
    /// `10.66.0.1/24`
    pub address: String,
    pub peers: Vec<VpnPeer>,
}

#[derive(Debug, Clone)]
pub struct VpnPeer {
    pub name: String,
    pub public_key: String,
    /// `10.66.0.2`
    pub address: String,
    /// The configuration chaton wrote for the peer (when it made the peer's keys).
    pub configuration: Option<PathBuf>,
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

/// What offline work shows in place of a key `chaton apply` makes (`Keys::offline`).
fn stand_in(what: &str) -> SecretText {
    SecretText(format!("({what} made by `chaton apply`)"))
}
const STAND_IN_PUBLIC_KEY: &str = "(made by chaton apply)";

fn io(path: &Path, e: impl std::fmt::Display) -> KeysError {
    KeysError::Io { path: path.display().to_string(), detail: e.to_string() }
}

impl Keys {
    /// Stand-ins for offline work (`plan --offline`, `render`, `check`), which must not
    /// create anything: the files they would go into are sensitive, never shown anyway.
    pub fn offline(servers: &[String], vpns: &[VpnNeed]) -> Self {
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
        let vpn = vpns
            .iter()
            .map(|need| {
                let peers = need
                    .peers
                    .iter()
                    .zip(allocate(need.network, &BTreeMap::new(), &need.peers))
                    .map(|((name, key), address)| VpnPeer {
                        name: name.clone(),
                        public_key: key.clone().unwrap_or_else(|| STAND_IN_PUBLIC_KEY.into()),
                        address,
                        configuration: None,
                    })
                    .collect();
                let keys = VpnKeys {
                    private_key: stand_in("private key"),
                    public_key: STAND_IN_PUBLIC_KEY.into(),
                    address: server_address(need.network),
                    peers,
                };
                ((need.server.clone(), need.service.clone()), keys)
            })
            .collect();
        Self { backup, vpn, tunnel: BTreeMap::new(), kept: Vec::new() }
    }

    /// Reads the keys of `servers` and `vpns` from `dir/secrets/`, making those missing, and
    /// writes the configuration of each VPN peer whose keys chaton made.
    pub fn load_or_create(dir: &Path, servers: &[String], vpns: &[VpnNeed]) -> Result<Self, KeysError> {
        let mut backup = BTreeMap::new();
        let mut kept = Vec::new();
        for server in servers {
            let folder = dir.join(FOLDER).join(server);
            private_folder(&dir.join(FOLDER))?;
            private_folder(&folder)?;
            let passphrase = folder.join("backup-passphrase");
            let passphrase_made = !passphrase.exists();
            if passphrase_made {
                write_private(&passphrase, &random_text(40)?)?;
            }
            let key = folder.join("backup-ssh-key");
            let key_made = !key.exists();
            if key_made {
                make_ssh_key(&key, &format!("chaton-backup@{server}"))?;
            }
            let public = read(&key.with_extension("pub"), false)?;
            let keys = BackupKeys {
                passphrase: SecretText(read(&passphrase, true)?.trim().to_owned()),
                ssh_private_key: SecretText(read(&key, true)?),
                ssh_public_key: public.trim().to_owned(),
            };
            let breaks = "every backup it made so far could no longer be read";
            kept.push(KeptKey {
                server: server.clone(),
                what: "the backup passphrase".into(),
                breaks,
                local: passphrase,
                value: keys.passphrase.clone(),
                made_now: passphrase_made,
                on_server: true,
            });
            kept.push(KeptKey {
                server: server.clone(),
                what: "the backup SSH key".into(),
                breaks: "its backups on other servers could no longer be reached",
                local: key,
                value: keys.ssh_private_key.clone(),
                made_now: key_made,
                on_server: true,
            });
            backup.insert(server.clone(), keys);
        }
        let mut vpn = BTreeMap::new();
        for need in vpns {
            vpn.insert((need.server.clone(), need.service.clone()), vpn_keys(dir, need, &mut kept)?);
        }
        Ok(Self { backup, vpn, tunnel: BTreeMap::new(), kept })
    }

    /// Adds the keys of the relay tunnels' `ends` (every home server with a relay, and every
    /// relay): read from `dir/secrets/SERVER/relay-tunnel.key`, made there when missing;
    /// stand-ins without `dir` (offline work creates nothing).
    pub fn with_tunnels(mut self, dir: Option<&Path>, ends: &[String]) -> Result<Self, KeysError> {
        for server in ends {
            let keys = match dir {
                None => TunnelKeys { private_key: stand_in("private key"), public_key: STAND_IN_PUBLIC_KEY.into() },
                Some(dir) => {
                    private_folder(&dir.join(FOLDER))?;
                    private_folder(&dir.join(FOLDER).join(server))?;
                    let (private_key, public_key) = server_x25519_pair(
                        dir.join(FOLDER).join(server).join("relay-tunnel.key"),
                        server,
                        "the key of its relay tunnel".into(),
                        "the tunnel to or from it would stop until both ends are applied again",
                        &mut self.kept,
                    )?;
                    TunnelKeys { private_key, public_key }
                }
            };
            self.tunnel.insert(server.clone(), keys);
        }
        Ok(self)
    }

    /// Forgets those of `kept` this run made (files next to the description): after a
    /// server refused them, so that the next run does not take them for the server's own.
    pub fn remove_made_now<'a>(kept: impl IntoIterator<Item = &'a KeptKey>) {
        for key in kept.into_iter().filter(|k| k.made_now) {
            // With what was made beside it: an SSH key's public half, a peer's configuration.
            for path in [key.local.clone(), key.local.with_extension("pub"), key.local.with_extension("conf")] {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// A scratch copy of the keys kept next to the description (`dir/secrets/`), modes kept,
/// for a run that must write nothing there (`chaton plan`): keys it has to make are made
/// in the copy, and go with it.
pub(crate) fn scratch_copy(dir: &Path) -> Result<tempfile::TempDir, KeysError> {
    let scratch = tempfile::tempdir().map_err(|e| io(Path::new("a scratch folder"), e))?;
    let from = dir.join(FOLDER);
    if from.is_dir() {
        copy_tree(&from, &scratch.path().join(FOLDER))?;
    }
    Ok(scratch)
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), KeysError> {
    private_folder(to)?;
    for entry in std::fs::read_dir(from).map_err(|e| io(from, e))? {
        let path = entry.map_err(|e| io(from, e))?.path();
        let target = to.join(path.file_name().unwrap_or_default());
        if path.is_dir() {
            copy_tree(&path, &target)?;
        } else if path.is_file() {
            std::fs::copy(&path, &target).map_err(|e| io(&path, e))?;
        }
    }
    Ok(())
}

/// The server's address in the tunnel: the network's first, with the prefix.
fn server_address((network, prefix): (std::net::Ipv4Addr, u8)) -> String {
    format!("{}/{prefix}", std::net::Ipv4Addr::from(u32::from(network) + 1))
}

/// Each peer's address: the one it had (kept in `known`), else the lowest free one from the
/// network's second address on. Stable: adding or removing a peer moves no other.
fn allocate(
    (network, prefix): (std::net::Ipv4Addr, u8),
    known: &BTreeMap<String, String>,
    peers: &[(String, Option<String>)],
) -> Vec<String> {
    let first = u32::from(network) + 2;
    let last = u32::from(network) + (1u32 << (32 - u32::from(prefix))) - 2;
    let mut taken: Vec<String> = peers.iter().filter_map(|(name, _)| known.get(name).cloned()).collect();
    peers
        .iter()
        .map(|(name, _)| {
            if let Some(address) = known.get(name) {
                return address.clone();
            }
            let free = (first..=last)
                .map(|n| std::net::Ipv4Addr::from(n).to_string())
                .find(|a| !taken.contains(a))
                .unwrap_or_default();
            taken.push(free.clone());
            free
        })
        .collect()
}

fn vpn_keys(dir: &Path, need: &VpnNeed, kept: &mut Vec<KeptKey>) -> Result<VpnKeys, KeysError> {
    let folder = dir.join(FOLDER).join(&need.server).join(format!("vpn-{}", need.service));
    private_folder(&dir.join(FOLDER))?;
    private_folder(&dir.join(FOLDER).join(&need.server))?;
    private_folder(&folder)?;
    let (private_key, public_key) = server_x25519_pair(
        folder.join("server.key"),
        &need.server,
        format!("the private key of the VPN {}", need.service),
        "every peer configuration handed out so far would stop working",
        kept,
    )?;
    // Addresses given once are kept: a peer's configuration never goes stale.
    let book = folder.join("addresses.json");
    let known: BTreeMap<String, String> = match std::fs::read_to_string(&book) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| io(&book, e))?,
        Err(_) => BTreeMap::new(),
    };
    let addresses = allocate(need.network, &known, &need.peers);
    if addresses.iter().any(String::is_empty) {
        return Err(io(&book, "the VPN network has no free address left for every peer"));
    }
    let current: BTreeMap<String, String> =
        need.peers.iter().map(|(n, _)| n.clone()).zip(addresses.iter().cloned()).collect();
    if current != known {
        write_private(&book, &serde_json::to_string_pretty(&current).map_err(|e| io(&book, e))?)?;
    }
    let mut peers = Vec::new();
    for ((name, given), address) in need.peers.iter().zip(addresses) {
        let (public, configuration) = match given {
            Some(key) => (key.clone(), None),
            None => {
                let key = folder.join(format!("{name}.key"));
                let made_now = !key.exists();
                let (private, public) = x25519_pair(&key)?;
                kept.push(KeptKey {
                    server: need.server.clone(),
                    what: format!("the key of {name}, a peer of the VPN {}", need.service),
                    breaks: "the configuration handed to this peer would stop working",
                    local: key,
                    value: SecretText(public.clone()),
                    made_now,
                    on_server: false,
                });
                let path = folder.join(format!("{name}.conf"));
                let text = peer_configuration(need, name, &public_key, &private, &address);
                if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                    write_private(&path, &text)?;
                }
                (public, Some(path))
            }
        };
        peers.push(VpnPeer { name: name.clone(), public_key: public, address, configuration });
    }
    Ok(VpnKeys { private_key, public_key, address: server_address(need.network), peers })
}

fn peer_configuration(need: &VpnNeed, peer: &str, server_public: &str, private: &SecretText, address: &str) -> String {
    let dns = need.dns.as_ref().map(|d| format!("DNS = {d}\n")).unwrap_or_default();
    format!(
        "# WireGuard configuration for the peer \"{peer}\" of {service} ({server}), made by chaton.\n# Hand it over privately: it holds the peer's private key.\n[Interface]\nPrivateKey = {private}\nAddress = {address}/32\n{dns}\n[Peer]\nPublicKey = {server_public}\nEndpoint = {endpoint}\nAllowedIPs = {allowed}\nPersistentKeepalive = 25\n",
        service = need.service,
        server = need.server,
        private = private.expose(),
        endpoint = need.endpoint,
        allowed = need.allowed_ips,
    )
}

/// A WireGuard key pair a server holds, kept in `path` (made there when missing) and
/// recorded in `kept` with what it is and what replacing it breaks.
fn server_x25519_pair(
    path: PathBuf,
    server: &str,
    what: String,
    breaks: &'static str,
    kept: &mut Vec<KeptKey>,
) -> Result<(SecretText, String), KeysError> {
    let made_now = !path.exists();
    let (private_key, public_key) = x25519_pair(&path)?;
    kept.push(KeptKey {
        server: server.to_owned(),
        what,
        breaks,
        local: path,
        value: private_key.clone(),
        made_now,
        on_server: true,
    });
    Ok((private_key, public_key))
}

/// An X25519 key pair in WireGuard's base64 form, the private half kept in `path` (made
/// there, 0600, when missing).
fn x25519_pair(path: &Path) -> Result<(SecretText, String), KeysError> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    if !path.exists() {
        let key = openssl::pkey::PKey::generate_x25519().map_err(|e| io(path, e))?;
        let raw = key.raw_private_key().map_err(|e| io(path, e))?;
        write_private(path, &format!("{}\n", b64.encode(raw)))?;
    }
    let private = read(path, true)?.trim().to_owned();
    let raw = b64.decode(&private).map_err(|e| io(path, e))?;
    let key =
        openssl::pkey::PKey::private_key_from_raw_bytes(&raw, openssl::pkey::Id::X25519).map_err(|e| io(path, e))?;
    let public = b64.encode(key.raw_public_key().map_err(|e| io(path, e))?);
    Ok((SecretText(private), public))
}

/// A folder readable by its owner only (made 0700 with its parents when missing).
pub(crate) fn private_folder(path: &Path) -> Result<(), KeysError> {
    if !path.exists() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path).map_err(|e| io(path, e))?;
    }
    let mode = std::fs::metadata(path).map_err(|e| io(path, e))?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeysError::TooOpen { path: path.display().to_string(), mode });
    }
    Ok(())
}

/// Writes `text` to `path`, 0600, whole or not at all.
pub(crate) fn write_private(path: &Path, text: &str) -> Result<(), KeysError> {
    use std::io::Write as _;
    // Written to a new file created 0600, then renamed: never readable by others, never half.
    let tmp: PathBuf = path.with_extension("new");
    // Left by a run that was killed halfway: never read, safe to drop.
    let _ = std::fs::remove_file(&tmp);
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
        let first = Keys::load_or_create(dir.path(), &servers, &[]).unwrap();
        let again = Keys::load_or_create(dir.path(), &servers, &[]).unwrap();
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
        assert!(matches!(Keys::load_or_create(dir.path(), &servers, &[]), Err(KeysError::TooOpen { .. })));
    }

    #[test]
    fn wireguard_public_keys_are_x25519_of_the_private_ones() {
        use base64::Engine as _;
        // RFC 7748, section 6.1: Alice's key pair.
        let hex = |h: &str| {
            (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect::<Vec<u8>>()
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alice.key");
        write_private(&path, &b64.encode(hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")))
            .unwrap();
        let (_, public) = x25519_pair(&path).unwrap();
        assert_eq!(public, b64.encode(hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")));
    }

    fn need(peers: &[&str]) -> VpnNeed {
        VpnNeed {
            server: "s".into(),
            service: "vpn".into(),
            network: ("10.66.0.0".parse().unwrap(), 24),
            peers: peers.iter().map(|p| ((*p).to_owned(), None)).collect(),
            endpoint: "vpn.example:51820".into(),
            allowed_ips: "10.66.0.0/24".into(),
            dns: None,
        }
    }

    #[test]
    fn peers_keep_their_addresses_and_get_a_private_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::load_or_create(dir.path(), &[], &[need(&["ada", "bob", "cyd"])]).unwrap();
        let vpn = &keys.vpn[&("s".to_owned(), "vpn".to_owned())];
        assert_eq!(vpn.address, "10.66.0.1/24");
        let addresses: Vec<&str> = vpn.peers.iter().map(|p| p.address.as_str()).collect();
        assert_eq!(addresses, ["10.66.0.2", "10.66.0.3", "10.66.0.4"]);
        // bob leaves, dan comes: ada and cyd keep theirs, dan takes the free one.
        let keys = Keys::load_or_create(dir.path(), &[], &[need(&["ada", "cyd", "dan"])]).unwrap();
        let vpn = &keys.vpn[&("s".to_owned(), "vpn".to_owned())];
        let addresses: Vec<&str> = vpn.peers.iter().map(|p| p.address.as_str()).collect();
        assert_eq!(addresses, ["10.66.0.2", "10.66.0.4", "10.66.0.3"]);
        let conf = vpn.peers[0].configuration.as_ref().unwrap();
        assert_eq!(std::fs::metadata(conf).unwrap().permissions().mode() & 0o777, 0o600);
        let text = std::fs::read_to_string(conf).unwrap();
        assert!(text.contains("Address = 10.66.0.2/32") && text.contains(&format!("PublicKey = {}", vpn.public_key)));
        assert!(text.contains("Endpoint = vpn.example:51820"), "{text}");
    }
}
