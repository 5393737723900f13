//! The pure stages run in order: load the description, load the recipes it uses, check
//! them, validate the description, resolve the desired state. No I/O beyond reading the
//! description and local recipe files.

use std::path::Path;

use crate::description::{self, Description};
use crate::diagnostic::Diagnostic;
use crate::keys::Keys;
use crate::recipe::Catalogue;
use crate::recipe::check::check_recipe;
use crate::resolve::{self, DesiredState};

/// A description that passed every check, with its catalogue and warnings.
pub struct Checked {
    pub description: Description,
    pub catalogue: Catalogue,
    pub warnings: Vec<Diagnostic>,
}

/// Loads and validates; on failure returns every problem found (errors and warnings).
pub fn check(path: &Path, recipes_dir: Option<&Path>) -> Result<Checked, Vec<Diagnostic>> {
    check_read(description::load_for_check(path)?, recipes_dir)
}

/// `check` for a description's `text` not yet written to `path`.
pub fn check_text(path: &Path, text: String, recipes_dir: Option<&Path>) -> Result<Checked, Vec<Diagnostic>> {
    check_read(description::load_text_for_check(path, text)?, recipes_dir)
}

fn check_read(
    (description, mut found, taken_out): (Description, Vec<Diagnostic>, Vec<String>),
    recipes_dir: Option<&Path>,
) -> Result<Checked, Vec<Diagnostic>> {
    let mut catalogue = Catalogue::builtin()?;
    if recipes_dir.is_none() {
        let problems = crate::validate::recipes_dir(&description);
        if !problems.is_empty() {
            return Err(problems);
        }
    }
    let local = recipes_dir
        .map(Path::to_path_buf)
        .or_else(|| description.hoster.recipes_dir.as_ref().map(|d| description.dir.join(d)));
    if let Some(dir) = local {
        catalogue = catalogue.with_local(&dir)?;
    }
    found.extend(catalogue.recipes().flat_map(|r| check_recipe(r, &catalogue)));
    // What the reading already reported and took out is not reported again as missing.
    let already = |d: &Diagnostic| {
        d.field.as_deref().is_some_and(|f| taken_out.iter().any(|t| f == t || f.starts_with(&format!("{t}."))))
    };
    found.extend(crate::validate::validate(&description, &catalogue).into_iter().filter(|d| !already(d)));
    // One file at a time, top to bottom (stable: unplaced problems keep their order).
    found.sort_by_key(|d| (d.source.as_ref().map(|s| s.name.clone()), d.span.map(|s| s.start)));
    if found.iter().any(Diagnostic::is_error) {
        return Err(found);
    }
    Ok(Checked { description, catalogue, warnings: found })
}

/// Resolves the desired state; `state_dir` is chaton's folder on the servers.
/// The desired state of every server. `keys` come from `keys`.
pub fn desired(checked: &Checked, state_dir: &str, keys: &Keys) -> Result<DesiredState, Vec<Diagnostic>> {
    resolve::resolve(&checked.description, &checked.catalogue, state_dir, keys)
}

/// Where the keys a resolution needs (backups, VPNs) come from.
#[derive(Debug, Clone, Copy)]
pub enum KeysFrom<'a> {
    /// `secrets/` next to the description: read, and made when missing.
    Kept,
    /// Stand-ins with real shapes, for work that must write nothing (`check`, an offline
    /// plan, scripts that only read the servers).
    StandIns,
    /// Read and made in this folder instead of next to the description: a scratch copy of
    /// `secrets/` (a plan that writes nothing there), or stand-ins for `chaton keys fetch`
    /// to find where each key sits in the servers' files.
    Folder(&'a Path),
}

/// The keys the description needs, from where `from` says.
pub fn keys(checked: &Checked, from: KeysFrom) -> Result<Keys, crate::keys::KeysError> {
    let senders = resolve::backup::senders(&checked.description, &checked.catalogue);
    let vpns = resolve::vpn::needs(&checked.description, &checked.catalogue);
    let tunnel_ends = resolve::relay::tunnel_ends(&checked.description);
    match from {
        KeysFrom::Kept => Keys::load_or_create(&checked.description.dir, &senders, &vpns)?
            .with_tunnels(Some(&checked.description.dir), &tunnel_ends),
        KeysFrom::StandIns => Keys::offline(&senders, &vpns).with_tunnels(None, &tunnel_ends),
        KeysFrom::Folder(dir) => Keys::load_or_create(dir, &senders, &vpns)?.with_tunnels(Some(dir), &tunnel_ends),
    }
}
