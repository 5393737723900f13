//! The recipe catalogue: built-in recipes and templates embedded in the binary, plus a local
//! folder that adds recipes or replaces built-in ones wholesale.
//!
//! A recipe is one folder: `recipes/NAME/recipe.yml`, its templates under
//! `recipes/NAME/templates/` (named `NAME/FILE` in the recipe and in Tera), and what proves it
//! (`recipes/NAME/proof.yml`, read by the test suite only). The charter site's templates are
//! `templates/site/`. A local folder has the same layout; the earlier one (`recipes/NAME.yml`
//! beside `templates/NAME/`) is still read. A local recipe's templates are looked up in the
//! local folder first, then built in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostic::{Diagnostic, quoted};
use crate::source::{SourceFile, Span};
use crate::yaml::locate::Locations;

use super::model::Recipe;

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
include!(concat!(env!("OUT_DIR"), "/engine_digest.rs"));

/// Where a recipe comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Builtin,
    Local(PathBuf),
}

/// A parsed recipe and the text it came from (for error positions).
#[derive(Debug)]
pub struct LoadedRecipe {
    pub recipe: Recipe,
    pub source: Arc<SourceFile>,
    pub locations: Locations,
    pub origin: Origin,
}

impl LoadedRecipe {
    /// The recipe's parameters: its defaults, overridden by those `set` (a service's
    /// `params`, or the description's `infrastructure` entry for a recipe set up per server).
    pub fn params_with(&self, set: &std::collections::BTreeMap<String, serde_json::Value>) -> serde_json::Value {
        let mut params = serde_json::Map::new();
        for (name, spec) in &self.recipe.params {
            if let Some(default) = &spec.default {
                params.insert(name.clone(), default.clone());
            }
        }
        for (name, value) in set {
            params.insert(name.clone(), value.clone());
        }
        serde_json::Value::Object(params)
    }

    /// A problem with `field` of this recipe, shown where it is written.
    pub fn error_at(&self, field: &str, message: impl Into<String>) -> Diagnostic {
        let span = self.locations.value(field).unwrap_or(Span::FILE_START);
        Diagnostic::error(message).at(&self.source, span).field(field.to_owned())
    }
}

#[derive(Debug, Default)]
pub struct Catalogue {
    recipes: BTreeMap<String, LoadedRecipe>,
    /// Template name (`base/sshd.conf`) to its text.
    templates: BTreeMap<String, Arc<SourceFile>>,
}

impl Catalogue {
    /// A digest of what a recipe is: its file and every template it names. A verification
    /// level recorded for another digest no longer speaks for the recipe.
    pub fn digest(&self, name: &str) -> Option<String> {
        let loaded = self.get(name)?;
        let mut text = loaded.source.text.clone();
        let mut names: Vec<&String> = loaded
            .recipe
            .resources
            .iter()
            .filter_map(|spec| match spec {
                super::model::ResourceSpec::File(f) => f.template.as_ref(),
                _ => None,
            })
            .collect();
        names.sort();
        names.dedup();
        for template in names {
            text.push_str(&format!("\n--- {template}\n"));
            text.push_str(self.template(template).map_or("", |t| t.text.as_str()));
        }
        Some(crate::command::sha256_hex(text.as_bytes()))
    }

    /// What a verification level of `name` is proved for: the recipe and its templates, the
    /// recipes every server of it also runs (the base, what it requires, and theirs), and
    /// chaton's own code (`ENGINE_DIGEST`). A change to any of them makes its levels stop
    /// standing until the suite proves them again.
    pub fn proof_digest(&self, name: &str) -> Option<String> {
        let mut names: Vec<String> = vec![name.to_owned()];
        let mut i = 0;
        while i < names.len() {
            let loaded = self.get(&names[i])?;
            for required in &loaded.recipe.requires {
                if !names.contains(required) {
                    names.push(required.clone());
                }
            }
            i += 1;
        }
        for base in self.recipes().filter(|l| l.recipe.kind == super::model::RecipeKind::Base) {
            if !names.contains(&base.recipe.name) {
                names.push(base.recipe.name.clone());
            }
        }
        let mut text = String::new();
        for recipe in &names {
            text.push_str(&format!("{recipe} {}\n", self.digest(recipe)?));
        }
        text.push_str(&format!("engine {ENGINE_DIGEST}\n"));
        Some(crate::command::sha256_hex(text.as_bytes()))
    }

    /// The recipes shipped inside the binary.
    pub fn builtin() -> Result<Self, Vec<Diagnostic>> {
        let mut catalogue = Catalogue::default();
        let mut problems = Vec::new();
        for (path, text) in EMBEDDED {
            let source = SourceFile::new(format!("<builtin>/{path}"), *text);
            match role(path) {
                Some(Role::Template(name)) => {
                    catalogue.templates.insert(name, source);
                }
                Some(Role::Recipe(name)) => match parse_recipe(source, path, &name, Origin::Builtin) {
                    Ok(r) => {
                        catalogue.recipes.insert(r.recipe.name.clone(), r);
                    }
                    Err(d) => problems.push(*d),
                },
                None => {}
            }
        }
        if problems.is_empty() { Ok(catalogue) } else { Err(problems) }
    }

    /// Adds the recipes and templates of a local folder; a local recipe replaces the
    /// built-in one of the same name.
    pub fn with_local(mut self, dir: &Path) -> Result<Self, Vec<Diagnostic>> {
        let mut problems = Vec::new();
        if !dir.is_dir() {
            return Err(vec![
                Diagnostic::error(format!("recipes folder {} does not exist", quoted(&dir.display().to_string())))
                    .help(format!("`recipes_dir` and `--recipes` name a folder holding {LAYOUT}")),
            ]);
        }
        let mut files = Vec::new();
        collect_files(&dir.join("recipes"), &mut files);
        collect_files(&dir.join("templates"), &mut files);
        for file in files {
            let Ok(rel) = file.strip_prefix(dir) else { continue };
            let rel = rel.to_string_lossy().replace('\\', "/");
            let Some(role) = role(&rel) else {
                let yaml = rel.ends_with(".yml") || rel.ends_with(".yaml");
                if yaml && rel.starts_with("recipes/") && !rel.ends_with("/proof.yml") {
                    problems.push(
                        Diagnostic::error(format!(
                            "{} is not where a recipe is read",
                            quoted(&file.display().to_string())
                        ))
                        .help(format!("a recipes folder holds {LAYOUT}")),
                    );
                }
                continue;
            };
            let source = match crate::yaml::read_source(&file) {
                Ok(source) => source,
                Err(d) => {
                    problems.push(d);
                    continue;
                }
            };
            match role {
                Role::Template(name) => {
                    self.templates.insert(name, source);
                }
                Role::Recipe(name) => match parse_recipe(source, &rel, &name, Origin::Local(dir.to_path_buf())) {
                    Ok(r) => {
                        self.recipes.insert(r.recipe.name.clone(), r);
                    }
                    Err(d) => problems.push(*d),
                },
            }
        }
        if problems.is_empty() { Ok(self) } else { Err(problems) }
    }

    pub fn get(&self, name: &str) -> Option<&LoadedRecipe> {
        self.recipes.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.recipes.keys().map(String::as_str)
    }

    pub fn recipes(&self) -> impl Iterator<Item = &LoadedRecipe> {
        self.recipes.values()
    }

    pub fn template(&self, name: &str) -> Option<&Arc<SourceFile>> {
        self.templates.get(name)
    }

    /// Templates whose name starts with `prefix` (`site/`), local ones replacing built-in.
    pub fn templates_under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a Arc<SourceFile>)> {
        self.templates.iter().filter(move |(name, _)| name.starts_with(prefix)).map(|(n, s)| (n.as_str(), s))
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// What a recipes folder holds, as said to whoever names one.
pub const LAYOUT: &str = "`recipes/NAME/recipe.yml` and `recipes/NAME/templates/...`";

/// What a file of a recipes folder is, from its path relative to the folder.
#[derive(Debug, PartialEq, Eq)]
enum Role {
    /// The recipe of this name.
    Recipe(String),
    /// A template, by the name recipes and Tera give it (`web/vhost.conf`, `site/page.html`).
    Template(String),
}

fn role(path: &str) -> Option<Role> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["recipes", name, "recipe.yml"] => Some(Role::Recipe((*name).to_owned())),
        ["recipes", name, "templates", rest @ ..] if !rest.is_empty() => {
            Some(Role::Template(format!("{name}/{}", rest.join("/"))))
        }
        // The earlier layout of a local folder: `recipes/NAME.yml`, `templates/NAME/...`.
        ["recipes", file] => {
            let name = file.strip_suffix(".yml").or_else(|| file.strip_suffix(".yaml"))?;
            Some(Role::Recipe(name.to_owned()))
        }
        // The charter site's templates, and those of the earlier layout.
        ["templates", rest @ ..] if rest.len() >= 2 => Some(Role::Template(rest.join("/"))),
        _ => None,
    }
}

fn parse_recipe(
    source: Arc<SourceFile>,
    path: &str,
    expected: &str,
    origin: Origin,
) -> Result<LoadedRecipe, Box<Diagnostic>> {
    let recipe: Recipe = crate::yaml::parse(&source)?;
    let locations = Locations::index(&source.text);
    if recipe.name != expected {
        let span = locations.value("name").unwrap_or(Span::FILE_START);
        return Err(Box::new(
            Diagnostic::error(format!("recipe is named {} but its file is {}", quoted(&recipe.name), quoted(path)))
                .at(&source, span)
                .field("name")
                .help("a recipe's name and its folder's name must match"),
        ));
    }
    Ok(LoadedRecipe { recipe, source, locations, origin })
}

#[cfg(test)]
mod tests {
    use super::{Role, role};

    #[test]
    fn files_of_a_recipes_folder_are_told_apart_by_their_path() {
        let recipe = |n: &str| Some(Role::Recipe(n.to_owned()));
        let template = |n: &str| Some(Role::Template(n.to_owned()));
        assert_eq!(role("recipes/web/recipe.yml"), recipe("web"));
        assert_eq!(role("recipes/web/templates/vhost.conf"), template("web/vhost.conf"));
        assert_eq!(role("recipes/site/templates/pages/a.html"), template("site/pages/a.html"));
        assert_eq!(role("templates/site/style.css"), template("site/style.css"));
        assert_eq!(role("recipes/notes.yml"), recipe("notes"));
        assert_eq!(role("recipes/notes.yaml"), recipe("notes"));
        assert_eq!(role("templates/notes/a.conf"), template("notes/a.conf"));
        // What proves a recipe, notes beside it, and stray files are not recipes.
        assert_eq!(role("recipes/web/proof.yml"), None);
        assert_eq!(role("recipes/web/README.md"), None);
        assert_eq!(role("recipes/README.md"), None);
        assert_eq!(role("recipes/web/templates"), None);
        assert_eq!(role("templates/loose.conf"), None);
    }
}
