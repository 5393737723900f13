//! The bad-input corpus: every file under `tests/corpus/bad/` (and a few generated ones:
//! binary, not UTF-8, 50 MB) must give exit code 1, a message with `file:line:col`, no
//! panic, in under a second. The messages are snapshot-tested.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;

struct Outcome {
    code: Option<i32>,
    stderr: String,
    elapsed: Duration,
}

fn check(path: &Path) -> Outcome {
    let start = Instant::now();
    let output = Command::cargo_bin("chaton")
        .unwrap()
        .args(["check", "--color", "never"])
        .arg(path)
        .env_remove("NO_COLOR")
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    Outcome {
        code: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// The assertions every bad input must pass.
fn assert_rejected(path: &Path, outcome: &Outcome) {
    let name = path.display();
    assert_eq!(outcome.code, Some(1), "{name}: exit code\n{}", outcome.stderr);
    assert!(!outcome.stderr.contains("panicked"), "{name}: panic\n{}", outcome.stderr);
    let has_position = outcome.stderr.lines().any(|l| {
        l.trim_start().starts_with("--> ")
            && l.rsplit(':').take(2).all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()))
    });
    assert!(has_position, "{name}: no file:line:col in\n{}", outcome.stderr);
    // Bounded, not timed: a bomb or a huge file must not hang the check (speed is measured
    // by the benchmark, and tests run side by side).
    assert!(outcome.elapsed < Duration::from_secs(10), "{name}: took {:?}", outcome.elapsed);
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/bad");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

#[test]
fn corpus_has_at_least_thirty_cases() {
    assert!(corpus().len() >= 30, "only {} cases", corpus().len());
}

#[test]
fn every_corpus_file_is_rejected_with_a_position() {
    for path in corpus() {
        let outcome = check(&path);
        assert_rejected(&path, &outcome);
        // Paths in snapshots are relative to the crate, as a user would type them.
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/");
        let stderr = outcome.stderr.replace(root, "");
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        insta::with_settings!({ snapshot_path => "snapshots/bad_input", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(name, stderr);
        });
    }
}

#[test]
fn the_valid_corpus_file_passes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/valid.yml");
    let outcome = check(&path);
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
}

#[test]
fn generated_bad_files_are_rejected_with_a_position() {
    let dir = tempfile::tempdir().unwrap();
    let valid = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/valid.yml")).unwrap();

    let binary = dir.path().join("binary.yml");
    std::fs::write(&binary, b"organisation:\n  name: \x00\x01\x02\xff\xfe\x7fELF").unwrap();

    let latin1 = dir.path().join("latin1.yml");
    std::fs::write(&latin1, b"organisation:\n  name: caf\xe9\n").unwrap();

    // 50 MB: a valid description followed by an enormous comment.
    let huge = dir.path().join("huge.yml");
    let mut text = valid.clone();
    text.push_str(&format!("# {}\n", "x".repeat(50 * 1024 * 1024)));
    std::fs::write(&huge, text).unwrap();

    // 50 MB of many short lines.
    let long = dir.path().join("long.yml");
    std::fs::write(&long, valid.repeat(50 * 1024 * 1024 / valid.len() + 1)).unwrap();

    for path in [&binary, &latin1, &huge, &long] {
        let outcome = check(path);
        assert_rejected(path, &outcome);
    }
    let huge_outcome = check(&huge);
    assert!(huge_outcome.stderr.contains("larger than 4 MiB"), "{}", huge_outcome.stderr);
    assert!(check(&latin1).stderr.contains("save it again as UTF-8"));
}

#[test]
fn json_diagnostics_carry_line_and_column() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/bad/unknown-recipe.yml");
    let output = Command::cargo_bin("chaton").unwrap().args(["check", "--json"]).arg(&path).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["valid"], false);
    let d = &json["diagnostics"][0];
    assert_eq!(d["line"], 29);
    assert_eq!(d["column"], 13);
    assert_eq!(d["field"], "services[0].recipe");
    assert_eq!(d["help"][0], "did you mean \"website\"?");
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let output = Command::cargo_bin("chaton").unwrap().args(["check", "/nonexistent/hoster.yml"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read \"/nonexistent/hoster.yml\": no such file"), "{stderr}");
}

/// Newcomers' most frequent errors come in French with `LANG=fr_…` (or `--lang fr`).
#[test]
fn description_errors_speak_french_when_asked() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/bad");
    for name in [
        "unknown-recipe",
        "unknown-key-organisation",
        "boolean-yes",
        "bare-octal-mode",
        "missing-organisation-fields",
        "malformed-tab-indent",
        "malformed-tab-deep",
        "malformed-bad-indent",
        "malformed-colon-in-value",
        "malformed-missing-colon",
        "malformed-unclosed-quote",
        "malformed-unclosed-flow",
        "localized-unknown-language",
    ] {
        let output = Command::cargo_bin("chaton")
            .unwrap()
            .args(["check", "--color", "never"])
            .arg(corpus.join(format!("{name}.yml")))
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env("LANG", "fr_FR.UTF-8")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1));
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/");
        let stderr = String::from_utf8_lossy(&output.stderr).replace(root, "");
        insta::with_settings!({ snapshot_path => "snapshots/bad_input_fr", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(name, stderr);
        });
    }
    // --lang wins over the environment.
    let output = Command::cargo_bin("chaton")
        .unwrap()
        .args(["check", "--lang", "en"])
        .arg(corpus.join("unknown-recipe.yml"))
        .env("LANG", "fr_FR.UTF-8")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown recipe"));
}
