//! Embeds `recipes/` and `templates/` into the binary so an installed `chaton` works alone.
//!
//! Generates `$OUT_DIR/embedded.rs`: a sorted table of (relative path, file text) pairs,
//! read by `src/recipe/catalogue.rs`. Sorted so builds are reproducible.

use std::fs;
use std::path::{Path, PathBuf};

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out);
        } else {
            out.push(path.strip_prefix(root).expect("under root").to_path_buf());
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let mut files = Vec::new();
    for top in ["recipes", "templates"] {
        println!("cargo:rerun-if-changed={top}");
        collect(&root, &root.join(top), &mut files);
    }
    files.sort();
    let mut code = String::from("/// Built-in recipe and template files: (path relative to the crate, text).\n");
    code.push_str("pub static EMBEDDED: &[(&str, &str)] = &[\n");
    for rel in &files {
        let rel_str = rel.to_str().expect("paths are UTF-8").replace('\\', "/");
        let abs = root.join(rel);
        code.push_str(&format!("    ({rel_str:?}, include_str!({:?})),\n", abs.to_str().expect("utf-8")));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("embedded.rs");
    fs::write(out, code).expect("write embedded.rs");
}
