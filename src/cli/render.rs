//! `chaton render`: every file chaton would write, one folder per server, so reviewers and
//! CI can diff configurations. Sensitive files are written as a placeholder, never their
//! content.

use std::path::Path;

use crate::error::Error;
use crate::resolve::DesiredState;
use crate::resource::Resource;

/// Marks a folder as written by `chaton render`, so a re-render may replace it.
const MARKER: &str = ".chaton-render";

/// Writes the files; returns how many.
pub(super) fn write(desired: &DesiredState, out: &Path) -> Result<usize, Error> {
    let fail = |what: &Path, e: std::io::Error| Error::Output(format!("cannot write {}: {e}", what.display()));
    let mut count = 0;
    for server in &desired.servers {
        let dir = out.join(&server.name);
        if dir.exists() {
            if !dir.join(MARKER).exists() {
                return Err(Error::Output(format!(
                    "{} exists and was not written by `chaton render`; choose another --out folder",
                    dir.display()
                )));
            }
            // A previous render: start clean so removed files do not linger.
            std::fs::remove_dir_all(&dir).map_err(|e| fail(&dir, e))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| fail(&dir, e))?;
        std::fs::write(dir.join(MARKER), "").map_err(|e| fail(&dir, e))?;
        for desired in &server.resources {
            let Resource::File(file) = &desired.resource else {
                continue;
            };
            let target = dir.join(file.path.trim_start_matches('/'));
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| fail(parent, e))?;
            }
            let content: &[u8] = if file.sensitive { b"(sensitive content not rendered)\n" } else { &file.content };
            std::fs::write(&target, content).map_err(|e| fail(&target, e))?;
            count += 1;
        }
    }
    Ok(count)
}
