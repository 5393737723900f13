//! The pipeline is one-way: each module of `src/` may use only the modules of the layers
//! below its own, as docs/ARCHITECTURE.md ("Which module may import which") tables them.
//! This reads every `crate::MODULE` path in the code (imports and inline paths alike,
//! comments aside) and fails on one the table forbids, so an import running back up the
//! pipeline, or a circle, cannot come in unnoticed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Bottom first. A module may use the modules of lower layers only, which also rules out
/// circles: the layer numbers order them.
const LAYERS: &[&[&str]] = &[
    // The shared vocabulary and the leaves that know nothing of chaton's stages.
    &["vocab", "i18n", "source", "command", "http", "keys", "stand_ins"],
    &["shell", "diagnostic"],
    &["yaml"],
    // What a server has, and the resource kinds: each kind's spec (what recipes write), its
    // conversion, the facts it wants and its plan. Recipes are written in them.
    &["facts"],
    &["resource"],
    // Stage 1: the two inputs, loaded independently.
    &["description", "recipe"],
    // Stage 2: the description checked against the recipes; the charter site, built from
    // both before resolve needs it.
    &["validate", "site"],
    // Stage 3: what is desired.
    &["resolve"],
    &["plan"],
    &["apply", "transport"],
    &["engine", "lab"],
    &["pipeline", "error"],
    // What the commands do beyond the pipeline (the backup operations, a service's move).
    &["backup", "moving"],
    &["cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file belongs to: `src/resolve/vpn.rs` is `resolve`, `src/yaml/mod.rs` is
/// `yaml`, `src/keys.rs` is `keys`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_owned()
}

/// Every `crate::NAME` in the code of `text`, with its line number; line comments (and so
/// doc comments) are left out, as they import nothing.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            // `$crate::` in a macro, or `chaton_crate::`: only a bare `crate::` counts.
            let before = rest[..i].chars().last();
            if !name.is_empty() && !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
                found.push((number + 1, name));
            }
            rest = after;
        }
    }
    found
}

#[test]
fn every_module_uses_only_the_layers_below_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 50, "the scan found only {} files under {}", files.len(), src.display());
    let mut forbidden = Vec::new();
    let mut edges: BTreeMap<(String, String), usize> = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(mine) = layer_of(&module) else {
            forbidden.push(format!("{}: module `{module}` is in no layer of the table", file.display()));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (line, used) in crate_paths(&text) {
            if used == module {
                continue;
            }
            *edges.entry((module.clone(), used.clone())).or_default() += 1;
            match layer_of(&used) {
                Some(theirs) if theirs < mine => {}
                Some(_) => forbidden.push(format!(
                    "{}:{line}: `{module}` uses `crate::{used}`, which is not below it",
                    file.strip_prefix(&src).unwrap().display()
                )),
                None => forbidden.push(format!(
                    "{}:{line}: `crate::{used}` is in no layer of the table",
                    file.strip_prefix(&src).unwrap().display()
                )),
            }
        }
    }
    assert!(!edges.is_empty(), "no `crate::` path found at all: the scan reads nothing");
    assert!(forbidden.is_empty(), "imports against the pipeline's direction:\n{}", forbidden.join("\n"));
}

/// The scanner itself: it must see imports and inline paths, and skip comments and
/// lookalikes, or the rule above could pass by reading nothing.
#[test]
fn the_scanner_finds_imports_and_inline_paths_but_not_comments() {
    let text = "use crate::resolve::Desired;\n\
                let x = crate::site::build(a); // crate::plan in a comment\n\
                /// [`crate::engine`] in a doc comment\n\
                macro: $crate::x and my_crate::y\n";
    let found: Vec<(usize, String)> = crate_paths(text);
    assert_eq!(found, vec![(1, "resolve".to_owned()), (2, "site".to_owned())]);
}
