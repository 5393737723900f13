//! Stage 1: the hoster description. `load` reads and types `hoster.yml`; `validate` checks
//! what types cannot (references, uniqueness, formats) and reports every problem at once.

pub mod locate;
pub mod model;
pub mod suggest;
pub mod types;
pub mod validate;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostic::Diagnostic;
use crate::source::SourceFile;
pub use locate::Locations;
pub use model::Hoster;

/// A parsed description, with what is needed to point back into its text.
#[derive(Debug)]
pub struct Description {
    pub hoster: Hoster,
    pub source: Arc<SourceFile>,
    pub locations: Locations,
    /// Folder of the description: relative paths in it (recipes_dir, logo) start here.
    pub dir: PathBuf,
}

/// Reads and parses a description file. Syntax and type errors stop at the first one,
/// with its position; semantic problems are `validate`'s.
pub fn load(path: &Path) -> Result<Description, Box<Diagnostic>> {
    let source = crate::yaml::read_source(path).map_err(Box::new)?;
    let hoster: Hoster = crate::yaml::parse(&source)?;
    let locations = Locations::index(&source.text);
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(Description { hoster, source, locations, dir })
}
