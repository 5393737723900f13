//! The tutorial cannot rot: every shell block of `docs/tutorial/en.md` and `fr.md` runs,
//! in order, in one shell with a fresh HOME, against lab servers; every line under "You
//! should see" must be in the output of the block above it.
//!
//! Blocks marked ```` ```sh fails ```` show a command that must fail (a self-check that finds
//! something missing): the test requires it to.
//!
//! Blocks marked ```` ```sh vps ```` are meant for a rented server: before the first one,
//! the test does what the reader is told to do in prose (put the server's address in
//! `hoster.yml`, its SSH key in ~/.ssh, and point the domain at it), with the lab's first
//! host standing in, and the lab's certificate authority for Let's Encrypt (its DNS sends
//! every other name to the first host).
//!
//! Needs root and the lab's packages; `.ci/run` runs it with `--ignored`.

use std::path::Path;
use std::process::Command;

/// (info string, code) of each fenced block, in order.
fn blocks(markdown: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in markdown.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(info)) => current = Some((info.trim().to_owned(), String::new())),
            (Some(_), Some(_)) => out.push(current.take().expect("in a block")),
            (Some((_, code)), None) => {
                code.push_str(line);
                code.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

/// What the reader does by hand between the lab and the rented server.
const USE_LAB_AS_VPS: &str = r##"
chaton_tutorial_use_lab_as_vps() {
  address=$(python3 -c 'import json; print(json.load(open("lab/lab.json"))["hosts"][0]["address"])')
  mkdir -p ~/.ssh && cp lab/lab_key ~/.ssh/id_ed25519 && chmod 600 ~/.ssh/id_ed25519
  sed -i "s/^    address: .*/    address: $address/; s/^    control: vps/    control: vps\n    hypervisor: systemd-nspawn/" hoster.yml
  # The lab copy (JSON, after its comment lines) holds the lab's certificate authority.
  python3 - >> hoster.yml <<'PY'
import json
copy = json.loads("".join(l for l in open("lab/hoster.yml") if not l.startswith("#")))
web = copy["infrastructure"]["web"]
print("infrastructure:\n  web:\n    acme_directory: " + web["acme_directory"] + "\n    acme_ca_certificate: |")
for line in web["acme_ca_certificate"].splitlines():
    print("      " + line)
PY
  # A rented server is new; this stand-in already holds the backup keys of the lab's
  # description, and chaton refuses to replace them: take them over, as one does for a
  # server a description already manages.
  chaton keys fetch hoster.yml --accept-new
}
"##;

fn run_tutorial(file: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let markdown = std::fs::read_to_string(root.join("docs/tutorial").join(file)).unwrap();
    let home = tempfile::tempdir().unwrap();
    let outputs = tempfile::tempdir().unwrap();
    let mut script = String::from("set -u\n");
    // As root, sudo is the identity (CI machines have no sudo).
    script.push_str("if [ \"$(id -u)\" = 0 ]; then sudo() { \"$@\"; }; fi\n");
    script.push_str(USE_LAB_AS_VPS);
    let all = blocks(&markdown);
    let mut expectations = Vec::new();
    let mut vps_ready = false;
    let mut last_sh = None;
    for (info, code) in &all {
        if info.starts_with("sh") {
            let index = expectations.len();
            if info.contains("vps") && !vps_ready {
                script.push_str("chaton_tutorial_use_lab_as_vps\n");
                vps_ready = true;
            }
            let out = outputs.path().join(index.to_string());
            script.push_str(&format!(": > {}\n", out.display()));
            let must_fail = info.split_whitespace().any(|w| w == "fails");
            for line in code.lines().filter(|l| !l.trim().is_empty()) {
                let quoted_line = line.replace('\'', "'\\''");
                if must_fail {
                    script.push_str(&format!(
                        "if {line} >> {out} 2>&1; then echo 'SUCCEEDED, but the tutorial shows it failing: {quoted_line}'; cat {out}; exit 1; fi\n",
                        out = out.display()
                    ));
                    continue;
                }
                script.push_str(&format!(
                    "{line} >> {out} 2>&1 || {{ echo 'FAILED: {quoted_line}'; cat {out}; exit 1; }}\n",
                    out = out.display()
                ));
            }
            expectations.push((code.clone(), Vec::new()));
            last_sh = Some(index);
        } else if info == "text" {
            let index = last_sh.expect("an output block follows a shell block");
            expectations[index].1.extend(code.lines().filter(|l| !l.trim().is_empty()).map(|l| l.trim().to_owned()));
        }
    }
    assert!(expectations.len() >= 8, "{file}: only {} shell blocks", expectations.len());
    let cargo_home =
        std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap()));
    let path = format!("{cargo_home}/bin:{}", std::env::var("PATH").unwrap());
    let status = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(root)
        .env("HOME", home.path())
        .env("CARGO_HOME", &cargo_home)
        // Reuse the project's build of the dependencies.
        .env("CARGO_TARGET_DIR", root.join("target"))
        .env("PATH", path)
        .env_remove("SSH_AUTH_SOCK")
        .env("LC_ALL", "C")
        .status()
        .unwrap();
    // Whatever happened, leave no lab behind.
    for lab in ["workshop/lab", "atelier/lab"] {
        let dir = home.path().join(lab);
        if dir.join("lab.json").exists()
            && let Ok(state) = chaton::lab::LabState::load(&dir)
        {
            let _ = chaton::lab::down(&state);
        }
    }
    assert!(status.success(), "{file}: a command of the tutorial failed (see above)");
    for (index, (code, expected)) in expectations.iter().enumerate() {
        let output = std::fs::read_to_string(outputs.path().join(index.to_string())).unwrap();
        for line in expected {
            assert!(
                output.contains(line.as_str()),
                "{file}: `{line}` not in the output of\n{code}\n--- output:\n{output}"
            );
        }
    }
}

#[test]
#[ignore = "needs root and the lab's packages: run by .ci/run with --ignored"]
fn the_english_tutorial_runs_as_written() {
    run_tutorial("en.md");
}

#[test]
#[ignore = "needs root and the lab's packages: run by .ci/run with --ignored"]
fn the_french_tutorial_runs_as_written() {
    run_tutorial("fr.md");
}
