//! What proves a recipe: `recipes/NAME/proof.yml`, beside its `recipe.yml`. The end-to-end
//! runner (`tests/proofs.rs`) reads every one: it puts the services of each on a lab server
//! of every Debian release, converges them, applies again (nothing may change), verifies,
//! runs the setup on the servers, then the real clients from outside, and records the
//! levels proved. A new recipe proves itself with its folder alone.
//!
//! In every string, `{host}` is the lab server's name (`d12`, `d13`), `{address}` its
//! address, `{ca}` a file holding the lab's certificate authority (what the services'
//! certificates chain to), `{folder}` the recipe's folder (its client scripts), and
//! `{password}` a password made for this run (never written in the repository, never given
//! to chaton), `{run}` another value made for this run (one a client looks for in what the
//! server gives back), `{repo}` the repository's root (clients several recipes share, under
//! `tests/`), and `{secrets}` the `secrets/` folder chaton keeps next to the lab's
//! description (a VPN peer's configuration). The clients resolve the services' domains to
//! their servers, as a visitor's resolver would.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

use crate::diagnostic::Diagnostic;

/// The file name of a proof in a recipe's folder.
pub const FILE: &str = "proof.yml";

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// Services to add to the lab's description, as in a description's `services:` (one set
    /// per lab server, `{host}` naming it). At least one uses the recipe.
    pub services: Vec<serde_json::Value>,
    /// Shell commands run as root on each server after the first apply: what an admin does
    /// by hand there (making the accounts the clients log in with).
    #[serde(default)]
    pub setup: Vec<String>,
    /// Real clients, run on the test machine: from outside the server, through its firewall.
    pub clients: Vec<Client>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// What it shows, said as a sentence (`two accounts exchange a message`).
    pub name: String,
    /// Debian packages the client needs on the test machine (installed when missing).
    #[serde(default)]
    pub packages: Vec<String>,
    /// The command (argv). It must exit with `exit`...
    pub run: Vec<String>,
    /// ...0 unless said (a client that must be refused, a wrong password, says 1)...
    #[serde(default)]
    pub exit: i32,
    /// ...and print this, on either of its outputs (placeholders filled).
    pub expect: String,
}

/// A recipe's proof, with where it was read.
#[derive(Debug, Clone)]
pub struct Found {
    pub recipe: String,
    pub folder: PathBuf,
    pub proof: Proof,
}

/// Every proof under `recipes` (a folder of recipe folders), by recipe name; a proof that
/// does not read is an error at its position.
pub fn all(recipes: &Path) -> Result<Vec<Found>, Vec<Diagnostic>> {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    let mut folders: Vec<PathBuf> = std::fs::read_dir(recipes)
        .map(|entries| entries.flatten().map(|e| e.path()).filter(|p| p.join(FILE).is_file()).collect())
        .unwrap_or_default();
    folders.sort();
    for folder in folders {
        let recipe = folder.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let read = crate::yaml::read_source(&folder.join(FILE))
            .and_then(|source| crate::yaml::parse::<Proof>(&source).map_err(|d| *d));
        match read {
            Ok(proof) if proof.clients.is_empty() => problems.push(Diagnostic::error(format!(
                "{}: a proof needs at least one client that answers from outside",
                folder.join(FILE).display()
            ))),
            Ok(proof) => found.push(Found { recipe, folder, proof }),
            Err(d) => problems.push(d),
        }
    }
    if problems.is_empty() { Ok(found) } else { Err(problems) }
}

/// `text` with the placeholders of a proof replaced.
pub fn fill(text: &str, values: &[(&str, &str)]) -> String {
    let mut out = text.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_built_in_proof_reads_and_names_its_recipe() {
        let recipes = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes");
        let proofs = super::all(&recipes).unwrap_or_else(|d| panic!("{d:?}"));
        assert!(!proofs.is_empty());
        for found in proofs {
            let uses = found.proof.services.iter().any(|s| s["recipe"] == found.recipe.as_str());
            assert!(uses, "{}: no service of the proof uses the recipe", found.recipe);
        }
    }

    #[test]
    fn placeholders_are_filled() {
        assert_eq!(super::fill("chat.{host}.lab.test {host}", &[("host", "d12")]), "chat.d12.lab.test d12");
        assert_eq!(super::fill("{unknown}", &[("host", "d12")]), "{unknown}");
    }
}
