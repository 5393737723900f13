//! Remote commands as values: a program, its arguments, environment and standard input.
//!
//! Resources produce these; nothing builds a shell string by hand. `shell` is the one place
//! that turns them into shell text.

use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

/// One command to run on a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Command {
    pub argv: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdin: Option<Input>,
    /// Whether the command changes the server (validators and guards do not).
    pub mutating: bool,
}

impl Command {
    /// A command that changes the server.
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self { argv: argv.into_iter().map(Into::into).collect(), env: Vec::new(), stdin: None, mutating: true }
    }

    /// A command that only reads (a validator such as `sshd -t`).
    pub fn read_only<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self { mutating: false, ..Self::new(argv) }
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn stdin(mut self, bytes: Vec<u8>) -> Self {
        self.stdin = Some(Input(bytes));
        self
    }
}

/// Bytes fed to a command's standard input (file contents). Serialized as a size and digest
/// only: contents may be secret, and plans are saved and shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Input(pub Vec<u8>);

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Input({} bytes)", self.0.len())
    }
}

impl Serialize for Input {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Input", 2)?;
        s.serialize_field("bytes", &self.0.len())?;
        s.serialize_field("sha256", &sha256_hex(&self.0))?;
        s.end()
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
