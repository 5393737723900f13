//! The top-level error: what went wrong in any stage, and the exit code it means.

use crate::diagnostic::Diagnostic;

/// Exit codes, as documented in `chaton --help`.
pub(crate) mod exit {
    /// Success; with `--detailed-exitcode`, success and nothing to change.
    pub(crate) const OK: u8 = 0;
    /// Invalid input or a failure.
    pub(crate) const ERROR: u8 = 1;
    /// With `--detailed-exitcode`: success, and the plan has changes.
    pub(crate) const CHANGES: u8 = 2;
    /// The command line itself is wrong (an unknown flag, a missing argument): not 2, which
    /// a CI script reads as "changes pending" (64 is EX_USAGE of sysexits.h).
    pub(crate) const USAGE: u8 = 64;
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// Problems in the user's files (description, recipes, templates).
    #[error("{} problem(s) found", .0.len())]
    Invalid(Vec<Diagnostic>),
    /// Writing output failed.
    #[error("{0}")]
    Output(String),
}

impl Error {
    pub(crate) fn exit_code(&self) -> u8 {
        exit::ERROR
    }
}

impl From<Vec<Diagnostic>> for Error {
    fn from(d: Vec<Diagnostic>) -> Self {
        Error::Invalid(d)
    }
}

impl From<Box<Diagnostic>> for Error {
    fn from(d: Box<Diagnostic>) -> Self {
        Error::Invalid(vec![*d])
    }
}

impl From<crate::keys::KeysError> for Error {
    fn from(e: crate::keys::KeysError) -> Self {
        Error::Output(format!("backup keys: {e}"))
    }
}
