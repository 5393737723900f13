//! Embeds the recipes (`recipes/NAME/recipe.yml` and `recipes/NAME/templates/`) and the
//! charter site's templates (`templates/site/`) into the binary so an installed `chaton`
//! works alone.
//!
//! Generates `$OUT_DIR/embedded.rs`: a sorted table of (relative path, file text) pairs,
//! read by `src/recipe/catalogue.rs`. Sorted so builds are reproducible.
//!
//! Also `$OUT_DIR/engine_digest.rs`: the SHA-256 of every file under `src/` (paths and
//! contents, sorted), the engine part of the digest a verification level is proved for: a
//! level stands only for the code that proved it (`src/recipe/verification.rs`).

use sha2::{Digest as _, Sha256};
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
    // A recipe's folder also holds what proves it (`proof.yml`), for the test suite only.
    files.retain(|f| f.starts_with("templates") || f.ends_with("recipe.yml") || f.iter().any(|c| c == "templates"));
    files.sort();
    let mut code = String::from("/// Built-in recipe and template files: (path relative to the crate, text).\n");
    code.push_str("pub static EMBEDDED: &[(&str, &str)] = &[\n");
    for rel in &files {
        let rel_str = rel.to_str().expect("paths are UTF-8").replace('\\', "/");
        let abs = root.join(rel);
        code.push_str(&format!("    ({rel_str:?}, include_str!({:?})),\n", abs.to_str().expect("utf-8")));
    }
    code.push_str("];\n");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    fs::write(out_dir.join("embedded.rs"), code).expect("write embedded.rs");

    println!("cargo:rerun-if-changed=src");
    let mut sources = Vec::new();
    collect(&root, &root.join("src"), &mut sources);
    sources.sort();
    let mut hasher = Sha256::new();
    for rel in &sources {
        let rel_str = rel.to_str().expect("paths are UTF-8").replace('\\', "/");
        let bytes = fs::read(root.join(rel)).expect("read a source file");
        hasher.update(format!("{rel_str}\0{}\0", bytes.len()).as_bytes());
        hasher.update(&bytes);
    }
    let digest: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    fs::write(
        out_dir.join("engine_digest.rs"),
        format!("/// SHA-256 of chaton's source files (`src/`), computed by build.rs.\npub const ENGINE_DIGEST: &str = {digest:?};\n"),
    )
    .expect("write engine_digest.rs");
}
