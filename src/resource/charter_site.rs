//! The charter website (`chaton docs`) as a recipe resource: `charter_site: {path}` stands for
//! the site's folders and files under `path`, which the web front then serves. It has no
//! kind of its own on the server: it converts into directories and files.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Conversion, Directory, File, Problem, Resource, Spec, checks};
use crate::vocab::values::FileMode;

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CharterSiteSpec {
    /// The folder the site goes into.
    pub path: String,
    #[serde(default = "super::root")]
    pub owner: String,
    #[serde(default = "super::root")]
    pub group: String,
    pub when: Option<String>,
    pub for_each: Option<String>,
    #[serde(default)]
    pub notify: Vec<String>,
}

impl Spec for CharterSiteSpec {
    const KIND: &'static str = "charter_site";

    fn describe(&self) -> String {
        format!("charter website in {}", self.path)
    }

    /// The folder tree: directories first, then every file (those notify).
    fn convert(self, conversion: &Conversion) -> Result<Vec<(Resource, Vec<String>)>, Problem> {
        checks::path(&self.path)?;
        checks::owner(&self.owner, &self.group)?;
        let files = (conversion.site_files)()?;
        let root = self.path.trim_end_matches('/');
        let mut folders: Vec<String> = vec![root.to_owned()];
        for path in files.keys() {
            if let Some((dir, _)) = path.rsplit_once('/') {
                let folder = format!("{root}/{dir}");
                if !folders.contains(&folder) {
                    folders.push(folder);
                }
            }
        }
        let mut out: Vec<(Resource, Vec<String>)> = folders
            .into_iter()
            .map(|path| {
                let d = Directory { path, owner: self.owner.clone(), group: self.group.clone(), mode: FileMode(0o755) };
                (Resource::Directory(d), Vec::new())
            })
            .collect();
        for (path, bytes) in files {
            let file = File {
                path: format!("{root}/{path}"),
                content: bytes.clone(),
                owner: self.owner.clone(),
                group: self.group.clone(),
                mode: FileMode(0o644),
                validate: None,
                sensitive: false,
                secrets: Vec::new(),
                guards_access: false,
            };
            out.push((Resource::File(file), self.notify.clone()));
        }
        Ok(out)
    }
}
