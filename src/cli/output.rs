//! Printing diagnostics, errors and JSON; writing files atomically.

use std::io::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::diagnostic::{Diagnostic, DiagnosticJson};
use crate::error::Error;

pub(super) fn print_diagnostics(diagnostics: &[Diagnostic], color: bool) {
    let mut stderr = std::io::stderr().lock();
    for d in diagnostics {
        let _ = writeln!(stderr, "{}\n", d.render_in(color, super::lang()));
    }
}

pub(super) fn print_error(error: &Error, color: bool) {
    match error {
        Error::Invalid(diagnostics) => {
            print_diagnostics(diagnostics, color);
            let errors = diagnostics.iter().filter(|d| d.is_error()).count();
            let warnings = diagnostics.len() - errors;
            let mut summary = format!("{errors} error(s)");
            if warnings > 0 {
                summary.push_str(&format!(", {warnings} warning(s)"));
            }
            eprintln!("{}", crate::i18n::translate(super::lang(), &format!("{summary}: nothing was changed")));
        }
        other => eprintln!("error: {}", crate::i18n::translate(super::lang(), &other.to_string())),
    }
}

pub(super) fn print_json<T: Serialize>(value: &T) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Output(e.to_string()))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}").map_err(|e| Error::Output(format!("cannot write to stdout: {e}")))
}

#[derive(Serialize)]
struct CheckJson<'a> {
    valid: bool,
    diagnostics: Vec<DiagnosticJson<'a>>,
}

pub(super) fn print_check_json(valid: bool, diagnostics: &[Diagnostic]) -> Result<(), Error> {
    print_json(&CheckJson { valid, diagnostics: diagnostics.iter().map(DiagnosticJson::from).collect() })
}

/// Writes JSON to `path` atomically (a temporary file in the same folder, then a rename),
/// so a reader never sees half a plan.
pub(super) fn write_json_file<T: Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Output(e.to_string()))?;
    write_atomically(path, text.as_bytes())
}

pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let fail = |e: std::io::Error| Error::Output(format!("cannot write {}: {e}", path.display()));
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}
