//! A volunteer's first hour, as a fresh non-root user at a terminal (a pseudo-terminal,
//! util-linux `script`, for every command): chaton put where `sudo` finds it, `chaton init`
//! answered question by question, a description with five mistakes of five kinds all
//! reported by one `chaton check` at their line and column, then their own description
//! practised on the lab (`sudo chaton lab up --for`), applied, verified, and their charter
//! pages built.
//!
//! The user is made for the test (with sudo, as a workshop laptop has) and removed after.
//! Building chaton with cargo is the one step not taken as that user: the toolchain
//! belongs to the machine's build account; the user installs the binary it built.
//!
//! Needs root, sudo and the lab's packages; `.ci/run` runs it with `--ignored`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

mod support;

const USER: &str = "chaton-newcomer";

/// The test's user, removed with its home and its sudo rule however the test ends.
struct Newcomer {
    home: PathBuf,
}

impl Newcomer {
    fn create() -> Self {
        Self::remove_leftovers();
        let home = PathBuf::from(format!("/home/{USER}"));
        let made = Command::new("useradd")
            .args(["--create-home", "--shell", "/bin/bash", "--home-dir"])
            .arg(&home)
            .arg(USER)
            .status()
            .unwrap();
        assert!(made.success(), "useradd failed");
        std::fs::write(format!("/etc/sudoers.d/{USER}"), format!("{USER} ALL=(ALL:ALL) NOPASSWD: ALL\n")).unwrap();
        Self { home }
    }

    fn remove_leftovers() {
        let lab = PathBuf::from(format!("/home/{USER}/workshop/lab"));
        if let Ok(state) = chaton::lab::LabState::load(&lab) {
            let _ = chaton::lab::down(&state);
        }
        let _ = Command::new("userdel").args(["--remove", USER]).stderr(Stdio::null()).status();
        let _ = std::fs::remove_file(format!("/etc/sudoers.d/{USER}"));
    }
}

impl Drop for Newcomer {
    fn drop(&mut self) {
        Self::remove_leftovers();
    }
}

/// What a command printed on the terminal, and how it ended.
struct Session {
    screen: String,
    ok: bool,
}

/// Runs `command` as the newcomer, in a login shell, in a pseudo-terminal, answering its
/// questions as they come.
fn as_newcomer(command: &str, answers: &[&str]) -> Session {
    let login = format!("su - {USER} -c {}", shell_quote(command));
    let (screen, status) = support::terminal::typed(&login, &[], answers, Duration::from_secs(60));
    Session { screen, ok: status.success() }
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

fn must(session: Session, what: &str) -> String {
    assert!(session.ok, "{what} failed:\n{}", session.screen);
    session.screen
}

/// (line, column) of the first `needle` in `text`, 1-based, the column at its `at`-th char.
fn position(text: &str, needle: &str, at: usize) -> (usize, usize) {
    let offset = text.find(needle).unwrap_or_else(|| panic!("{needle:?} not in the file"));
    let line = text[..offset].matches('\n').count() + 1;
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    (line, text[start..offset].chars().count() + at + 1)
}

#[test]
#[ignore = "needs root, sudo and the lab's packages: run by .ci/run with --ignored"]
fn a_newcomer_goes_from_install_to_their_own_pages_served_on_the_lab() {
    let newcomer = Newcomer::create();
    let home = newcomer.home.clone();
    let chown = |path: &Path| {
        assert!(Command::new("chown").args(["-R", &format!("{USER}:{USER}")]).arg(path).status().unwrap().success());
    };

    // Install: the binary built from this source, put where sudo finds it, as the README
    // says; and the newcomer's own SSH key, which init offers.
    let built = home.join("chaton");
    std::fs::copy(assert_cmd::cargo::cargo_bin("chaton"), &built).unwrap();
    chown(&built);
    must(as_newcomer("sudo install -m 0755 ~/chaton /usr/local/bin/chaton && chaton --version", &[]), "install");
    must(
        as_newcomer("mkdir -p ~/.ssh && ssh-keygen -q -t ed25519 -N '' -C camille@laptop -f ~/.ssh/id_ed25519", &[]),
        "ssh-keygen",
    );

    // init, every question answered at the terminal (the key as offered: 1).
    let answers = [
        "Les Chatons du Quartier",
        "chatons.example",
        "",
        "association",
        "3 place du Marché, 69004 Lyon",
        "Camille Martin",
        "",
        "1",
        "192.0.2.10",
        "root",
        "Tetaneutral.net",
        "11 rue Duclos, 31000 Toulouse",
        "+33 5 00 00 00 00",
        "website",
    ];
    let screen = must(as_newcomer("chaton init ~/workshop", &answers), "chaton init");
    assert!(screen.contains("1) ") && screen.contains("id_ed25519.pub camille@laptop"), "{screen}");
    let file = home.join("workshop/hoster.yml");
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains("camille@laptop") && written.contains("    login: camille\n"), "{written}");
    must(as_newcomer("cd ~/workshop && chaton check hoster.yml", &[]), "check of init's file");

    // Five mistakes of five kinds, all in one run, each at its place.
    let mistaken = written
        .replacen("      country: FR\n", "      contry: FR\n", 1) // a misspelt key
        .replacen("    control: vps\n", "    control: vsp\n", 1) // a value not in the list
        .replacen("    recipe: website\n", "    recipe: webiste\n", 1) // an unknown recipe
        .replacen("    email: \"contact@chatons.example\"\n", "    email: \"contact chatons.example\"\n", 1) // a format
        .replacen("    ssh_user: root\n", "    ssh_user: camile\n", 1); // a reference to nobody
    std::fs::write(home.join("workshop/mistakes.yml"), &mistaken).unwrap();
    chown(&home.join("workshop/mistakes.yml"));
    let checked = as_newcomer("cd ~/workshop && chaton check --color never mistakes.yml", &[]);
    assert!(!checked.ok, "five mistakes passed:\n{}", checked.screen);
    assert!(checked.screen.contains("5 error(s)"), "{}", checked.screen);
    for (needle, at, says) in [
        ("contry: FR", 0, "unknown key \"contry\""),
        ("control: vsp", 9, "unknown value \"vsp\""),
        ("recipe: webiste", 8, "unknown recipe \"webiste\""),
        ("email: \"contact chatons.example\"", 7, "is not an email address"),
        ("ssh_user: camile", 10, "is not the login of any admin"),
    ] {
        let (line, column) = position(&mistaken, needle, at);
        let place = format!("mistakes.yml:{line}:{column}");
        assert!(checked.screen.contains(&place), "{says} not reported at {place}:\n{}", checked.screen);
        assert!(checked.screen.contains(says), "{says:?} not said:\n{}", checked.screen);
    }

    // Their own description on the lab: booted, applied twice (the second changes
    // nothing), verified, and their pages built.
    let lab = must(as_newcomer("cd ~/workshop && sudo chaton lab up --for hoster.yml --dir lab", &[]), "lab up --for");
    assert!(lab.contains("lab: server1 (Debian 12 (bookworm)) at") && lab.contains("lab ready."), "{lab}");
    must(as_newcomer("cd ~/workshop && sudo chaton apply lab/hoster.yml", &[]), "apply");
    let again = must(as_newcomer("cd ~/workshop && sudo chaton apply lab/hoster.yml", &[]), "second apply");
    assert!(again.contains("no changes"), "{again}");
    let verified = must(as_newcomer("cd ~/workshop && sudo chaton verify lab/hoster.yml", &[]), "verify");
    assert!(verified.contains("verified,") && verified.contains("check(s) passed"), "{verified}");
    let docs = as_newcomer("cd ~/workshop && chaton docs hoster.yml --out site --check", &[]);
    // Left for them: the terms of use, which they have not reviewed yet.
    assert!(docs.screen.contains("1 required charter item(s) missing"), "{}", docs.screen);
    assert!(docs.screen.contains("MISSING The terms of use were read and adapted"), "{}", docs.screen);
    let home_page = std::fs::read_to_string(home.join("workshop/site/fr/index.html")).unwrap();
    assert!(home_page.contains("Les Chatons du Quartier propose des services libres"), "{home_page}");
    must(as_newcomer("cd ~/workshop && sudo chaton lab down --dir lab", &[]), "lab down");
}
