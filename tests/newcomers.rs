//! What newcomers meet first: `chaton init` (flags, or questions in a real terminal, give
//! the same valid description), the JSON Schema for editors (an independent validator
//! accepts the example and rejects an unknown key), completions and the man page.

use std::path::Path;
use std::process::{Command, Stdio};

mod support;

fn chaton() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("chaton"));
    cmd.env("LC_ALL", "C");
    cmd
}

#[test]
fn init_writes_a_valid_description_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out = chaton()
        .args([
            "init",
            "--non-interactive",
            "--name",
            "Les Chatons d'Été",
            "--domain",
            "chatons.example",
            "--legal-form",
            "coop",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for file in ["hoster.yml", ".gitignore", "README.md"] {
        assert!(dir.path().join(file).exists(), "{file}");
    }
    let check = chaton().arg("check").arg(dir.path().join("hoster.yml")).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    // The charter self-check refuses what init could not know and left as placeholders,
    // naming each; once the hoster fills them in, it passes.
    let file = dir.path().join("hoster.yml");
    let docs = chaton().arg("docs").arg(&file).arg("--check").output().unwrap();
    let said = String::from_utf8_lossy(&docs.stdout);
    assert_eq!(docs.status.code(), Some(1), "{said}");
    for missing in [
        "no provider named for server1 (or `chaton init`'s \"Your provider\")",
        "set site.terms_reviewed: true",
        "no admin is described",
        "a backup destination's provider is `chaton init`'s \"Your provider\"",
    ] {
        assert!(said.contains(missing), "{missing:?} not in:\n{said}");
    }
    let filled = std::fs::read_to_string(&file)
        .unwrap()
        .replace("Your provider", "Tetaneutral.net")
        .replace("terms_reviewed: false", "terms_reviewed: true")
        .replace(
            "admins: []",
            "admins:\n  - name: Camille\n    login: camille\n    ssh_keys: [ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDy3GOHLgJxZLUpFyRindZU5ZO2G54Xe3zR0QNjHNRiu camille]\n    confidentiality_commitment: true",
        );
    std::fs::write(&file, filled).unwrap();
    let docs = chaton().arg("docs").arg(&file).arg("--check").output().unwrap();
    assert!(docs.status.success(), "{}", String::from_utf8_lossy(&docs.stdout));

    std::fs::write(dir.path().join("hoster.yml"), "# mine\n").unwrap();
    let again = chaton().args(["init", "--non-interactive"]).arg(dir.path()).output().unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(dir.path().join("hoster.yml")).unwrap(), "# mine\n");
}

/// Asked without a terminal (a pipe, a CI job) and without --non-interactive, init writes
/// no placeholder silently: it refuses, and says how to give the answers.
#[test]
fn init_without_a_terminal_refuses_instead_of_writing_placeholders() {
    let dir = tempfile::tempdir().unwrap();
    let out = chaton().arg("init").arg(dir.path()).stdin(Stdio::piped()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("standard input is not one: nothing was written"), "{said}");
    assert!(said.contains("--non-interactive"), "{said}");
    assert!(!dir.path().join("hoster.yml").exists());
}

/// An untouched `init` file (every default taken) is valid, and its self-check says
/// honestly what is still a placeholder instead of publishing it as true.
#[test]
fn the_self_check_of_an_untouched_init_file_names_its_placeholders() {
    let dir = tempfile::tempdir().unwrap();
    let out = chaton().args(["init", "--non-interactive"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let file = dir.path().join("hoster.yml");
    let check = chaton().arg("check").arg(&file).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    let docs = chaton().arg("docs").arg(&file).arg("--check").output().unwrap();
    let said = String::from_utf8_lossy(&docs.stdout);
    assert_eq!(docs.status.code(), Some(1), "{said}");
    assert!(
        said.contains("placeholders written by `chaton init`: organisation.name is \"My association\"; organisation.website is \"https://example.org\"; organisation.contact.email is \"contact@example.org\""),
        "{said}"
    );
}

#[test]
fn init_asked_in_a_real_terminal_writes_the_same_file_as_with_flags() {
    // A home with one SSH key, which init offers as the first admin's.
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".ssh")).unwrap();
    let key_file = home.path().join(".ssh/id_ed25519.pub");
    std::fs::write(
        &key_file,
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDy3GOHLgJxZLUpFyRindZU5ZO2G54Xe3zR0QNjHNRiu camille@laptop\n",
    )
    .unwrap();
    let flags = tempfile::tempdir().unwrap();
    let status = chaton()
        .args([
            "init",
            "--non-interactive",
            "--name",
            "AMIPO",
            "--domain",
            "amipo.example",
            "--email",
            "hello@amipo.example",
        ])
        .args([
            "--legal-form",
            "association",
            "--server-address",
            "pangolin",
            "--ssh-user",
            "camille",
            "--service",
            "website",
            "--address",
            "3 place du Capitole, 31000 Toulouse",
            "--admin-name",
            "Camille Martin",
            "--admin-key",
        ])
        .arg(&key_file)
        .args([
            "--provider",
            "Tetaneutral.net",
            "--provider-address",
            "11 rue Duclos, 31000 Toulouse",
            "--provider-phone",
            "+33 5 00 00 00 00",
        ])
        .arg(flags.path())
        .status()
        .unwrap();
    assert!(status.success());
    let written = std::fs::read_to_string(flags.path().join("hoster.yml")).unwrap();
    assert!(written.contains("    login: camille\n"), "{written}");
    assert!(written.contains("camille@laptop"), "{written}");

    // A pseudo-terminal (util-linux `script`), answers typed one line at a time; one
    // answer is wrong first and asked again.
    let asked = tempfile::tempdir().unwrap();
    let command = format!("{} init {}", assert_cmd::cargo::cargo_bin("chaton").display(), asked.path().display());
    // Organisation, a wrong domain then the right one, email, legal form (default), postal
    // address; the first admin (login and key as offered); the server, its provider; the
    // services.
    let answers = "AMIPO\nAmipo.Example!\namipo.example\nhello@amipo.example\n\n3 place du Capitole, 31000 Toulouse\nCamille Martin\n\n\npangolin\ncamille\nTetaneutral.net\n11 rue Duclos, 31000 Toulouse\n+33 5 00 00 00 00\nwebsite\n";
    let answers: Vec<&str> = answers.lines().collect();
    let (screen, status) =
        support::terminal::typed(&command, &[("HOME", home.path())], &answers, std::time::Duration::from_secs(30));
    assert!(status.success(), "{screen}");
    assert!(screen.contains("Name of your organisation [My association]:"), "{screen}");
    assert!(screen.contains("a domain looks like amipo.example"), "{screen}");
    assert!(screen.contains("1) ") && screen.contains("id_ed25519.pub camille@laptop"), "{screen}");
    assert!(screen.contains("Your login on the servers [camille]:"), "{screen}");
    assert_eq!(
        std::fs::read_to_string(asked.path().join("hoster.yml")).unwrap(),
        std::fs::read_to_string(flags.path().join("hoster.yml")).unwrap()
    );
}

#[test]
fn the_schema_accepts_the_example_and_rejects_an_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = chaton().arg("schema").output().unwrap();
    assert!(out.status.success());
    let schema = dir.path().join("schema.json");
    std::fs::write(&schema, &out.stdout).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["additionalProperties"], false);

    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/amipo/hoster.yml");
    let (ok, report) = support::validate_against_schema(&schema, &example);
    assert!(ok, "{report}");

    let bad = dir.path().join("bad.yml");
    let text = std::fs::read_to_string(&example)
        .unwrap()
        .replace("  geography: Lyon, France\n", "  geography: Lyon, France\n  geograhpy: typo\n");
    std::fs::write(&bad, text).unwrap();
    let (ok, report) = support::validate_against_schema(&schema, &bad);
    assert!(!ok && report.contains("geograhpy"), "{report}");
    // chaton itself agrees.
    assert_eq!(chaton().arg("check").arg(&bad).output().unwrap().status.code(), Some(1));
}

#[test]
fn completions_and_man_page_come_from_the_command_line_definitions() {
    for shell in ["bash", "zsh", "fish"] {
        let out = chaton().args(["completions", shell]).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("accept-new") && text.contains("detailed-exitcode"), "{shell}");
    }
    let out = chaton().arg("man").output().unwrap();
    assert!(out.status.success());
    let roff = String::from_utf8_lossy(&out.stdout);
    assert!(roff.starts_with(".ie") || roff.contains(".TH chaton"), "{roff}");
    assert!(roff.contains("Exit codes"));
}
