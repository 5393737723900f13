//! Small value types of the description and recipes, with their own parsing rules.
//!
//! Custom deserializers put a hint after `HINT_SEPARATOR` in their message; the loader
//! turns it into a `help:` line.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Separates a message from its hint in errors raised inside deserializers.
pub const HINT_SEPARATOR: &str = "; hint: ";

/// A Unix file mode, written as a quoted octal string in YAML (`"0640"`).
///
/// A bare number is refused: YAML reads `644` as decimal six hundred and forty-four and
/// `0644` as 644 too, which would silently produce a wrong mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileMode(pub u32);

impl FileMode {
    pub fn parse(text: &str) -> Result<Self, String> {
        let digits = text.strip_prefix("0o").unwrap_or(text);
        if digits.is_empty() || digits.len() > 4 || !digits.chars().all(|c| ('0'..='7').contains(&c)) {
            return Err(format!(
                "invalid file mode \"{}\": expected 3 or 4 octal digits{HINT_SEPARATOR}for example \"0644\" or \"0750\"",
                text.escape_debug()
            ));
        }
        let value = u32::from_str_radix(digits, 8).map_err(|e| e.to_string())?;
        Ok(Self(value))
    }
}

impl schemars::JsonSchema for FileMode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FileMode".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^(0o)?[0-7]{3,4}$",
            "description": "A Unix file mode as a quoted octal string, such as \"0644\""
        })
    }
}

impl fmt::Display for FileMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

impl Serialize for FileMode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for FileMode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ModeVisitor;
        impl Visitor<'_> for ModeVisitor {
            type Value = FileMode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a file mode as a quoted octal string such as \"0644\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FileMode, E> {
                FileMode::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FileMode, E> {
                Err(E::custom(format!(
                    "file mode written as a bare number ({v}): YAML reads it as a decimal number, not octal{HINT_SEPARATOR}quote it: mode: \"0{v}\""
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FileMode, E> {
                self.visit_u64(v.unsigned_abs())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<FileMode, E> {
                // The parser reads `0644` as a number too; say the same thing.
                if v.fract() == 0.0 && (0.0..=7777.0).contains(&v) {
                    self.visit_u64(v as u64)
                } else {
                    Err(E::custom(format!(
                        "{v} is not a file mode{HINT_SEPARATOR}write it quoted, such as mode: \"0644\""
                    )))
                }
            }
        }
        deserializer.deserialize_any(ModeVisitor)
    }
}

/// Country codes (ISO 3166-1 alpha-2) and English names, from Debian's iso-codes.
const COUNTRIES: &str = include_str!("countries.txt");

pub fn is_country_code(code: &str) -> bool {
    country_name(code).is_some()
}

/// The English name of a country code.
pub fn country_name(code: &str) -> Option<&'static str> {
    if code.len() != 2 {
        return None;
    }
    COUNTRIES.lines().find_map(|l| l.split_once('\t').filter(|(c, _)| *c == code).map(|(_, n)| n))
}

/// Whether `name` is a fully qualified DNS name a certificate could be issued for
/// (letters, digits and hyphens, at least two labels, no trailing dot).
pub fn is_domain_name(name: &str) -> bool {
    if name.len() > 253 || !name.contains('.') {
        return false;
    }
    name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    }) && !name.rsplit('.').next().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
}

/// Names of servers and services: they become file names, unit names and DNS-like labels.
pub fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

/// Unix user and group names as Debian's `adduser` accepts them by default.
pub fn is_unix_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// `YYYY-MM-DD` with a real calendar date.
pub fn is_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return false;
    }
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<u32>(), m.parse::<u32>(), d.parse::<u32>()) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// An OpenSSH public key line: `TYPE BASE64 [comment]` with a known key type.
pub fn is_ssh_public_key(line: &str) -> bool {
    const TYPES: &[&str] = &[
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    ];
    if line.contains(['\n', '\r']) {
        return false;
    }
    let mut parts = line.split_whitespace();
    let (Some(kind), Some(blob)) = (parts.next(), parts.next()) else {
        return false;
    };
    TYPES.contains(&kind) && blob_type(blob).as_deref() == Some(kind)
}

/// The key type a public key's data names (its first length-prefixed string), which must be
/// the label in front of it: a label pasted onto another key's data is not a key.
pub fn blob_type(blob: &str) -> Option<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(blob).ok()?;
    let length = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let name = bytes.get(4..4usize.checked_add(length)?)?;
    (bytes.len() > 4 + length).then(|| String::from_utf8(name.to_vec()).ok()).flatten()
}

/// Why `line` is not an OpenSSH public key, when the label and the data disagree: the one
/// mistake worth its own message (a key edited by hand, or two keys spliced).
pub fn ssh_key_label_mismatch(line: &str) -> Option<String> {
    let mut parts = line.split_whitespace();
    let (kind, blob) = (parts.next()?, parts.next()?);
    let named = blob_type(blob)?;
    (named != kind).then(|| format!("the key is labelled {kind} but its data is an {named} key"))
}

/// An email address, loosely: one `@`, something on each side, a dot in the domain.
/// The one rule for a path chaton writes, reads or backs up on a server: absolute, no `..`
/// component (it could climb out of where it is meant to be), no control character (a
/// newline or a NUL would make the server's tools read another path). Whether it may end
/// with `/` is the caller's: a file may not, a folder may.
pub fn is_safe_path(path: &str) -> bool {
    path.starts_with('/') && !path.split('/').any(|c| c == "..") && !path.chars().any(char::is_control)
}

pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty() && !domain.contains('@') && is_domain_name(&domain.to_ascii_lowercase())
}

/// An absolute `https://` or `http://` URL without spaces.
pub fn is_web_url(text: &str) -> bool {
    (text.starts_with("https://") || text.starts_with("http://"))
        && text.len() > "https://".len()
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_safe_path_is_absolute_without_climbing_or_control_characters() {
        for good in ["/", "/etc/motd", "/var/www/site/", "/srv/a b/c..d"] {
            assert!(is_safe_path(good), "{good}");
        }
        for bad in ["etc/motd", "", "/var/../etc/shadow", "/srv/..", "/etc/a\nb", "/etc/a\0", "/etc/\ttab"] {
            assert!(!is_safe_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn modes_parse_as_octal() {
        assert_eq!(FileMode::parse("0640").unwrap().0, 0o640);
        assert_eq!(FileMode::parse("755").unwrap().0, 0o755);
        assert!(FileMode::parse("0849").is_err());
        assert!(FileMode::parse("").is_err());
        assert!(FileMode::parse("01777x").is_err());
        assert_eq!(FileMode(0o640).to_string(), "0640");
    }

    #[test]
    fn domains() {
        assert!(is_domain_name("cloud.amipo.example"));
        assert!(!is_domain_name("localhost"));
        assert!(!is_domain_name("Bad_Name.example"));
        assert!(!is_domain_name("a..b"));
        assert!(!is_domain_name("-a.example"));
        assert!(!is_domain_name("10.0.0.1"));
    }

    #[test]
    fn countries_and_dates() {
        assert!(is_country_code("FR"));
        assert!(is_country_code("NO"));
        assert!(!is_country_code("XX"));
        assert!(!is_country_code("fr"));
        assert!(is_date("2024-02-29"));
        assert!(!is_date("2023-02-29"));
        assert!(!is_date("2023-13-01"));
    }

    #[test]
    fn identifiers_and_keys() {
        assert!(is_identifier("pangolin-2"));
        assert!(!is_identifier("Pangolin"));
        assert!(!is_identifier("a'; rm -rf / #"));
        assert!(is_unix_name("camille"));
        assert!(!is_unix_name("$(id)"));
        let ed25519 = "AAAAC3NzaC1lZDI1NTE5AAAAIFQ1te8WQtd17N1gYM7uwgtYnQfTBQAkJlQlRGZp+596";
        let ecdsa = "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBDCUV6pmqQDRiCL0ZjDc3wGz7dHWr9bCLljM5pSdGYq+PPpeDcBCqDdYMNRybIA+bIjaQ4BlltW51bQnAIJDcD4=";
        assert!(is_ssh_public_key(&format!("ssh-ed25519 {ed25519} camille@laptop")));
        assert!(is_ssh_public_key(&format!("ecdsa-sha2-nistp256 {ecdsa}")));
        assert!(!is_ssh_public_key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk camille@laptop"), "truncated");
        // A label pasted onto another key's data.
        assert!(!is_ssh_public_key(&format!("ssh-ed25519 {ecdsa}")));
        assert_eq!(
            ssh_key_label_mismatch(&format!("ssh-rsa {ed25519}")).as_deref(),
            Some("the key is labelled ssh-rsa but its data is an ssh-ed25519 key")
        );
        assert_eq!(ssh_key_label_mismatch(&format!("ssh-ed25519 {ed25519}")), None);
        assert!(!is_ssh_public_key("ssh-ed25519"));
        assert!(!is_ssh_public_key("ssh-dss AAAAB3NzaC1kc3MAAACBAP"));
    }
}
