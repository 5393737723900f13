//! known_hosts read the way OpenSSH reads it: line by line, a line that cannot be read is
//! skipped and every other one kept. (libssh2 gave up on the whole file at its first bad
//! line, a truncated entry or one over 4 KB, and a changed key then counted as unknown.)
//! Hashed host names (`|1|salt|hash`), `[host]:port`, `*`/`?` wildcards, negated
//! patterns, `@revoked` and `@cert-authority` keep their meaning; CRLF line ends are read.
//!
//! The verdict is stricter than OpenSSH's on one point: a host with any recorded key other
//! than the one it presents is *changed*, whatever the key types, so `--accept-new` can
//! never add a second key beside a recorded one.

use base64::Engine as _;

/// What a known_hosts file says of a host and the key it presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A line for this host holds this very key.
    Match,
    /// Lines for this host hold other keys, none this one.
    Changed,
    /// An `@revoked` line holds this key: never accepted.
    Revoked,
    /// No line names this host.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    None,
    Revoked,
    CertAuthority,
}

/// One readable line.
#[derive(Debug, Clone)]
struct Entry {
    marker: Marker,
    hosts: String,
    key_type: String,
    blob: Vec<u8>,
}

/// The entries of a known_hosts text; unreadable lines are left out, as OpenSSH does.
fn parse(text: &str) -> Vec<Entry> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Entry> {
    let line = line.trim_end_matches('\r').trim_start();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut fields = line.split_whitespace();
    let mut first = fields.next()?;
    let marker = match first {
        "@revoked" => Marker::Revoked,
        "@cert-authority" => Marker::CertAuthority,
        m if m.starts_with('@') => return None,
        _ => Marker::None,
    };
    if marker != Marker::None {
        first = fields.next()?;
    }
    let key_type = fields.next()?;
    let blob = base64::engine::general_purpose::STANDARD.decode(fields.next()?).ok()?;
    // The key names its own type first (RFC 4253 §6.6); a truncated or mislabelled key is
    // not a key.
    if blob_type(&blob)? != key_type {
        return None;
    }
    Some(Entry { marker, hosts: first.to_owned(), key_type: key_type.to_owned(), blob })
}

/// The type name a public key blob starts with.
fn blob_type(blob: &[u8]) -> Option<&str> {
    let length = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    std::str::from_utf8(blob.get(4..4 + length)?).ok()
}

/// Whether a line's host field names `name` (`host`, or `[host]:port` off port 22).
fn names(hosts: &str, name: &str) -> bool {
    if let Some(hashed) = hosts.strip_prefix("|1|") {
        return hashed_names(hashed, name);
    }
    let mut matched = false;
    for pattern in hosts.split(',') {
        match pattern.strip_prefix('!') {
            // A negated pattern that matches rules the line out, whatever else matches.
            Some(negated) if glob(&negated.to_ascii_lowercase(), &name.to_ascii_lowercase()) => return false,
            Some(_) => {}
            None => matched |= glob(&pattern.to_ascii_lowercase(), &name.to_ascii_lowercase()),
        }
    }
    matched
}

/// `salt|hash`, both base64: HMAC-SHA1 of the name keyed with the salt.
fn hashed_names(hashed: &str, name: &str) -> bool {
    let Some((salt, hash)) = hashed.split_once('|') else { return false };
    let engine = base64::engine::general_purpose::STANDARD;
    let (Ok(salt), Ok(hash)) = (engine.decode(salt), engine.decode(hash)) else { return false };
    let Ok(key) = openssl::pkey::PKey::hmac(&salt) else { return false };
    let Ok(mut signer) = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha1(), &key) else {
        return false;
    };
    signer.update(name.as_bytes()).is_ok() && signer.sign_to_vec().is_ok_and(|mac| openssl::memcmp::eq(&mac, &hash))
}

/// OpenSSH's wildcards: `*` any run of characters, `?` any one.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if let Some((star, from)) = backtrack {
            pi = star + 1;
            ti = from + 1;
            backtrack = Some((star, from + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// What `text` (a known_hosts file) says of `name` presenting `key_type` `blob`.
pub fn check(text: &str, name: &str, key_type: &str, blob: &[u8]) -> Verdict {
    let entries = parse(text);
    let for_host = || entries.iter().filter(|e| names(&e.hosts, name));
    if for_host().any(|e| e.marker == Marker::Revoked && e.key_type == key_type && e.blob == blob) {
        return Verdict::Revoked;
    }
    let plain: Vec<&Entry> = for_host().filter(|e| e.marker == Marker::None).collect();
    if plain.iter().any(|e| e.key_type == key_type && e.blob == blob) {
        Verdict::Match
    } else if plain.is_empty() {
        Verdict::Unknown
    } else {
        Verdict::Changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ed25519 public key blob with the given 32 key bytes.
    fn key(byte: u8) -> Vec<u8> {
        let mut blob = vec![0, 0, 0, 11];
        blob.extend_from_slice(b"ssh-ed25519");
        blob.extend_from_slice(&[0, 0, 0, 32]);
        blob.extend_from_slice(&[byte; 32]);
        blob
    }

    fn line(hosts: &str, byte: u8) -> String {
        format!("{hosts} ssh-ed25519 {}\n", base64::engine::general_purpose::STANDARD.encode(key(byte)))
    }

    #[test]
    fn a_bad_line_is_skipped_and_the_others_still_count() {
        let truncated = &line("example.org", 1)[..40];
        let long = format!("other.example {}\n", "A".repeat(8000));
        let garbage = "\u{1b}[31m not a key at all\n";
        let mislabelled = line("example.org", 9).replace("ssh-ed25519", "ssh-rsa");
        for bad in [truncated, &long, garbage, &mislabelled] {
            let text = format!("{bad}\n{}", line("example.org", 2));
            assert_eq!(check(&text, "example.org", "ssh-ed25519", &key(1)), Verdict::Changed, "{bad:?}");
            assert_eq!(check(&text, "example.org", "ssh-ed25519", &key(2)), Verdict::Match, "{bad:?}");
        }
    }

    #[test]
    fn ports_wildcards_negations_and_crlf() {
        let text = line("[10.0.0.5]:2222", 1).replace('\n', "\r\n") + &line("*.lab.test,!bad.lab.test", 2);
        assert_eq!(check(&text, "[10.0.0.5]:2222", "ssh-ed25519", &key(1)), Verdict::Match);
        assert_eq!(check(&text, "10.0.0.5", "ssh-ed25519", &key(1)), Verdict::Unknown);
        assert_eq!(check(&text, "d12.lab.test", "ssh-ed25519", &key(2)), Verdict::Match);
        assert_eq!(check(&text, "D12.LAB.TEST", "ssh-ed25519", &key(3)), Verdict::Changed);
        assert_eq!(check(&text, "bad.lab.test", "ssh-ed25519", &key(3)), Verdict::Unknown);
    }

    #[test]
    fn markers_keep_their_meaning() {
        let text = format!("@revoked {}@cert-authority {}", line("*", 1), line("ca.example", 2));
        assert_eq!(check(&text, "example.org", "ssh-ed25519", &key(1)), Verdict::Revoked);
        // A certificate authority's key is not a host key of that host.
        assert_eq!(check(&text, "ca.example", "ssh-ed25519", &key(3)), Verdict::Unknown);
        let text = format!("@revoked {}{}", line("*", 1), line("example.org", 1));
        assert_eq!(check(&text, "example.org", "ssh-ed25519", &key(1)), Verdict::Revoked);
        assert_eq!(check("@unknown-marker x ssh-ed25519 AAAA\n", "x", "ssh-ed25519", &key(1)), Verdict::Unknown);
    }

    #[test]
    fn hashed_names_as_ssh_keygen_writes_them() {
        // `ssh-keygen -H` of "example.org": salt and HMAC-SHA1 of the name.
        let salt = b"0123456789abcdefghij";
        let key_ = openssl::pkey::PKey::hmac(salt).unwrap();
        let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha1(), &key_).unwrap();
        signer.update(b"example.org").unwrap();
        let engine = base64::engine::general_purpose::STANDARD;
        let hashed = format!("|1|{}|{}", engine.encode(salt), engine.encode(signer.sign_to_vec().unwrap()));
        let text = line(&hashed, 1);
        assert_eq!(check(&text, "example.org", "ssh-ed25519", &key(1)), Verdict::Match);
        assert_eq!(check(&text, "example.org", "ssh-ed25519", &key(2)), Verdict::Changed);
        assert_eq!(check(&text, "example.net", "ssh-ed25519", &key(2)), Verdict::Unknown);
    }

    #[test]
    fn any_other_recorded_key_makes_it_changed_whatever_its_type() {
        let rsa = {
            let mut blob = vec![0, 0, 0, 7];
            blob.extend_from_slice(b"ssh-rsa");
            blob.extend_from_slice(&[0, 0, 0, 1, 1]);
            blob
        };
        let text = format!("example.org ssh-rsa {}\n", base64::engine::general_purpose::STANDARD.encode(&rsa));
        assert_eq!(check(&text, "example.org", "ssh-ed25519", &key(1)), Verdict::Changed);
        assert_eq!(check(&text, "example.org", "ssh-rsa", &rsa), Verdict::Match);
    }

    #[test]
    fn globs() {
        assert!(glob("*.example.org", "a.example.org"));
        assert!(glob("10.0.0.?", "10.0.0.7"));
        assert!(!glob("10.0.0.?", "10.0.0.17"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
    }
}
