//! The shared vocabulary at the bottom of the pipeline: the small value types and rules
//! that the description, the recipes, the facts and the resources all speak (a file mode, a
//! Debian release, a port's protocol, a domain name), so that none of those stages has to
//! import another to name them. It imports nothing of chaton's (docs/ARCHITECTURE.md,
//! "Which module may import which").

pub mod suggest;
pub mod values;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use values::FileMode;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Distribution {
    #[default]
    #[serde(rename = "debian-12")]
    Debian12,
    #[serde(rename = "debian-13")]
    Debian13,
}

impl Distribution {
    pub fn codename(self) -> &'static str {
        match self {
            Distribution::Debian12 => "bookworm",
            Distribution::Debian13 => "trixie",
        }
    }

    /// As the description writes it (`debian-12`).
    pub fn name(self) -> &'static str {
        match self {
            Distribution::Debian12 => "debian-12",
            Distribution::Debian13 => "debian-13",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Distribution::Debian12 => "Debian 12 (bookworm)",
            Distribution::Debian13 => "Debian 13 (trixie)",
        }
    }

    /// The PHP the release ships (its packages and paths are named after it).
    pub fn php(self) -> &'static str {
        match self {
            Distribution::Debian12 => "8.2",
            Distribution::Debian13 => "8.4",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Proto {
    Tcp,
    Udp,
}

impl std::fmt::Display for Proto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    #[default]
    Present,
    Absent,
}

/// The host pattern known_hosts uses for a port: `host` for 22, `[host]:port` otherwise.
pub fn host_pattern(host: &str, port: u16) -> String {
    if port == 22 { host.to_owned() } else { format!("[{host}]:{port}") }
}
