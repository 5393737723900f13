//! Nextcloud and Etherpad from their real upstream releases, installed through the recipes
//! on real Debian servers (the lab) and answering real clients from outside: Nextcloud's
//! own sync client, a CalDAV/CardDAV library, curl, and Chromium typing into a pad.
//!
//! The lab servers cannot download anything, so the releases come from `../shared/artifacts/`
//! (Etherpad 2.3.2 bit-identical to upstream, the pin the recipe ships; a Nextcloud 34.0.1
//! release tree, signed here with a throwaway key that the description names) and are
//! served by d13's website over HTTPS, as a hoster's private mirror would. Etherpad's
//! dependencies come from the npm registry through the lab's proxy.
//!
//! Needs root, the lab's packages, gpg, nextcloud-desktop-cmd, python3-caldav, chromium
//! and npm: `.ci/run` installs them and runs `cargo test --test upstream -- --ignored`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chaton::description::model::Distribution;
use chaton::lab::{self, LabState};
use chaton::recipe::verification::Level;

mod support;

use support::lab::*;

const NEXTCLOUD: &str = "34.0.1";
const ETHERPAD: &str = "2.3.2";
const PNPM: &str = "10.34.8";

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/artifacts");
    assert!(
        dir.join(format!("nextcloud-{NEXTCLOUD}.tar.bz2")).is_file(),
        "the upstream releases are expected in {}",
        dir.display()
    );
    dir
}

/// Runs `program` with `args` on this machine; its standard output, after checking it
/// succeeded.
fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{program} {args:?} failed:\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// A signing key of its own, in a GnuPG home of its own: its fingerprint.
fn signing_key(home: &Path, name: &str) -> String {
    std::fs::create_dir_all(home).unwrap();
    let home = home.to_str().unwrap();
    run(
        "gpg",
        &["--homedir", home, "--batch", "--passphrase", "", "--quick-gen-key", name, "ed25519", "sign", "never"],
    );
    let colons = run("gpg", &["--homedir", home, "--with-colons", "--fingerprint"]);
    colons.lines().find_map(|l| l.strip_prefix("fpr:").map(|f| f.trim_matches(':').to_owned())).unwrap()
}

fn sign(home: &Path, file: &Path) {
    let signature = format!("{}.asc", file.display());
    let _ = std::fs::remove_file(&signature);
    let home = home.to_str().unwrap();
    run("gpg", &["--homedir", home, "--batch", "--armor", "--detach-sign", "-o", &signature, file.to_str().unwrap()]);
}

/// What a client on this machine needs to reach the lab's names with the lab's CA: a hosts
/// file and a certificate folder, bind-mounted over /etc/hosts and /etc/ssl/certs in a
/// mount namespace of its own (`unshare`), so nothing of this machine changes.
struct Client {
    hosts: PathBuf,
    certs: PathBuf,
    ca: PathBuf,
}

impl Client {
    fn new(dir: &Path, state: &LabState, names: &[(&str, &str)]) -> Self {
        let ca_text = state.acme.as_ref().unwrap().ca_certificate.clone();
        let ca = dir.join("lab-ca.pem");
        std::fs::write(&ca, &ca_text).unwrap();
        let mut hosts = std::fs::read_to_string("/etc/hosts").unwrap();
        for (name, host) in names {
            hosts.push_str(&format!("{} {name}\n", state.host(host).unwrap().address));
        }
        // Not `hosts` or `certs`: the lab's folder has a `hosts` of its own.
        std::fs::write(dir.join("client-hosts"), hosts).unwrap();
        // Qt (the sync client) reads the hashed certificate folder.
        let certs = dir.join("client-certs");
        std::fs::create_dir_all(&certs).unwrap();
        run("cp", &["-aL", "/etc/ssl/certs/.", certs.to_str().unwrap()]);
        for (i, pem) in ca_text.split_inclusive("-----END CERTIFICATE-----").filter(|p| p.contains("BEGIN")).enumerate()
        {
            std::fs::write(certs.join(format!("chaton-lab-{i}.pem")), pem.trim_start()).unwrap();
        }
        let system = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
        std::fs::write(certs.join("ca-certificates.crt"), system + &ca_text).unwrap();
        run("openssl", &["rehash", certs.to_str().unwrap()]);
        Self { hosts: dir.join("client-hosts"), certs, ca }
    }

    /// Points `name` at lab host `host` for this client from now on (its hosts file is
    /// rewritten in place: a program running with it sees the change at once).
    fn point(&self, state: &LabState, name: &str, host: &str) {
        let text = std::fs::read_to_string(&self.hosts).unwrap();
        let mut kept: String =
            text.lines().filter(|l| !l.ends_with(&format!(" {name}"))).map(|l| format!("{l}\n")).collect();
        kept.push_str(&format!("{} {name}\n", state.host(host).unwrap().address));
        std::fs::write(&self.hosts, kept).unwrap();
    }

    /// chaton with `args`, seeing the lab's names as this client does.
    fn chaton(&self, args: &[&str]) -> Command {
        let program = assert_cmd::cargo::cargo_bin("chaton");
        let argv: Vec<&str> = std::iter::once(program.to_str().unwrap()).chain(args.iter().copied()).collect();
        with_binds(&[(&self.hosts, "/etc/hosts")], &argv)
    }

    /// Runs `program` seeing the lab's names and trusting its CA: exit status and output.
    fn run(&self, program: &str, args: &[&str]) -> (i32, String) {
        let argv: Vec<&str> = std::iter::once(program).chain(args.iter().copied()).collect();
        let out = run_with_binds(&[(&self.hosts, "/etc/hosts"), (&self.certs, "/etc/ssl/certs")], &argv);
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        (out.status.code().unwrap_or(-1), text)
    }

    /// curl with the lab's CA: the HTTP status, then the body.
    fn curl(&self, args: &[&str]) -> (String, String) {
        let mut all = vec!["-sS", "--cacert", self.ca.to_str().unwrap(), "-w", "\n%{http_code}"];
        all.extend_from_slice(args);
        let (code, text) = self.run("curl", &all);
        assert_eq!(code, 0, "curl {args:?}: {text}");
        let (body, status) = text.rsplit_once('\n').unwrap();
        (status.to_owned(), body.to_owned())
    }
}

fn secret(state: &LabState, host: &str, service: &str, name: &str) -> String {
    ssh_ok(state, host, &format!("cat /var/lib/chaton/secrets/{service}/{name}")).trim().to_owned()
}

/// A call of Etherpad's HTTP API on d13 (`getText?padID=NAME`), with its API key: the answer.
fn etherpad_api(state: &LabState, call: &str) -> String {
    etherpad_api_on(state, "d13", call)
}

fn etherpad_api_on(state: &LabState, host: &str, call: &str) -> String {
    ssh_ok(
        state,
        host,
        &format!("curl -fsS \"http://127.0.0.1:9001/api/1/{call}&apikey=$(cat /var/lib/etherpad/APIKEY.txt)\""),
    )
}

/// Nextcloud's `occ` on a lab server, as its owner: the command line before the arguments.
const OCC: &str = "cd / && runuser -u www-data -- env NEXTCLOUD_CONFIG_DIR=/etc/nextcloud php /var/www/nextcloud/occ --no-interaction";

fn occ(state: &LabState, host: &str, args: &str) -> String {
    ssh_ok(state, host, &format!("{OCC} {args}"))
}

#[test]
#[ignore = "needs root, the lab's packages and ../shared/artifacts: run by .ci/run with --ignored"]
fn nextcloud_and_etherpad_from_their_real_releases_answer_real_clients() {
    let _one = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let artifacts = artifacts();
    let dir = tempfile::tempdir().unwrap();
    // m13: the server d13's cloud and pads move to at the end.
    let guard = lab_up(
        dir.path(),
        &[("d12", Distribution::Debian12), ("d13", Distribution::Debian13), ("m13", Distribution::Debian13)],
    );
    let state = guard.state.clone();
    let description = lab::write_description(&state).unwrap();
    let file = description.to_str().unwrap();
    // The websites first, with their certificates: d13's serves the releases.
    let sites = chaton(&["apply", file]);
    assert_eq!(sites.code, 0, "{}", sites.stderr);
    let d13 = state.host("d13").unwrap().address.clone();
    let ca = state.acme.as_ref().unwrap().ca_certificate.replace('\'', "");
    for host in ["d12", "d13", "m13"] {
        // The servers trust the lab's CA and find d13, as they would a private mirror.
        ssh_ok(
            &state,
            host,
            &format!(
                "printf '%s' '{ca}' > /usr/local/share/ca-certificates/chaton-lab.crt && update-ca-certificates >/dev/null && echo '{d13} d13.lab.test' >> /etc/hosts"
            ),
        );
    }
    // The npm registry is reached through this machine, whose route to it re-signs TLS:
    // d13 and m13 (which build Etherpad) trust the authorities this machine trusts of its
    // own (test-only).
    for builder in ["d13", "m13"] {
        for entry in std::fs::read_dir("/usr/local/share/ca-certificates").into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".crt") {
                let pem = std::fs::read_to_string(entry.path()).unwrap().replace('\'', "");
                ssh_ok(
                    &state,
                    builder,
                    &format!("printf '%s' '{pem}' > '/usr/local/share/ca-certificates/host-{name}'"),
                );
            }
        }
        ssh_ok(&state, builder, "update-ca-certificates >/dev/null");
    }

    // The releases, on d13's website. Nextcloud's is signed by a key the test makes; a
    // second key stands for someone else's.
    let site = state.host("d13").unwrap().overlay.join("root/var/www/site-d13");
    let nextcloud = site.join(format!("nextcloud-{NEXTCLOUD}.tar.bz2"));
    std::fs::copy(artifacts.join(format!("nextcloud-{NEXTCLOUD}.tar.bz2")), &nextcloud).unwrap();
    std::fs::copy(
        artifacts.join(format!("etherpad-{ETHERPAD}.tar.gz")),
        site.join(format!("etherpad-{ETHERPAD}.tar.gz")),
    )
    .unwrap();
    run("npm", &["pack", "--silent", &format!("pnpm@{PNPM}"), "--pack-destination", site.to_str().unwrap()]);
    // The key file the servers fetch holds both keys, as a tampered mirror could serve:
    // only the pinned fingerprint may count.
    let (signer, stranger) = (dir.path().join("gnupg-signer"), dir.path().join("gnupg-stranger"));
    let fingerprint = signing_key(&signer, "chaton lab release signer");
    let other = signing_key(&stranger, "someone else");
    let key = run("gpg", &["--homedir", signer.to_str().unwrap(), "--armor", "--export", &fingerprint])
        + &run("gpg", &["--homedir", stranger.to_str().unwrap(), "--armor", "--export", &other]);
    std::fs::write(site.join("signing-key.asc"), key).unwrap();
    sign(&stranger, &nextcloud);
    // Releases to upgrade to, made from the real ones while the first install runs.
    let variants = {
        let (artifacts, work, site) = (artifacts.clone(), dir.path().join("variants"), site.clone());
        std::thread::spawn(move || release_variants(&artifacts, &work, &site))
    };

    let sha256 = sha256_of(&nextcloud);
    let mirror = "https://d13.lab.test";
    let cloud = |host: &str| {
        format!(
            "  - name: cloud-{host}\n    recipe: nextcloud\n    server: {host}\n    domain: cloud.{host}.lab.test\n    params:\n      version: \"{NEXTCLOUD}\"\n      sha256: {sha256}\n      release_url: \"{mirror}/nextcloud-{{version}}.tar.bz2\"\n      signing_key_url: {mirror}/signing-key.asc\n      signing_key_fingerprint: {fingerprint}\n      default_quota: 2 MB\n"
        )
    };
    let pads = format!(
        "  - name: pads-d13\n    recipe: etherpad\n    server: d13\n    domain: pads.d13.lab.test\n    params:\n      release_url: \"{mirror}/etherpad-{{version}}.tar.gz\"\n      pnpm_url: \"{mirror}/pnpm-{{version}}.tgz\"\n      build_proxy: \"http://{}:3142\"\n      pad_retention_days: 30\n",
        state.bridge_address
    );
    let text = std::fs::read_to_string(&description).unwrap();
    let services = cloud("d12") + &cloud("d13") + &pads;
    std::fs::write(&description, text.replacen("backups:\n", &format!("{services}backups:\n"), 1)).unwrap();

    // A release signed by another key is refused before anything is installed.
    let refused = chaton(&["apply", file]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    for host in ["d12", "d13"] {
        stopped_at(&refused, host, "command /usr/local/lib/chaton/nextcloud-deploy release");
        let web = ssh_status(&state, host, "test -e /var/www/nextcloud");
        assert_eq!(web.0, 1, "{host}: nothing may be installed from a release with a stranger's signature");
    }
    assert!(refused.stderr.contains("is not signed by Nextcloud's key"), "{}", refused.stderr);

    // Signed by the pinned key: both services install, stay converged and verify.
    sign(&signer, &nextcloud);
    let start = Instant::now();
    let (converge, _, verify) = converged_idempotent_verified(file);
    eprintln!("first install of Nextcloud (d12, d13) and Etherpad (d13): {:.0} s", start.elapsed().as_secs_f64());
    for host in ["d12", "d13"] {
        // No app store here: the apps are left out with a warning, and nothing fails.
        assert!(
            converge.stderr.contains(&format!("[{host}] warning: nextcloud-deploy: Nextcloud's app store did not answer; not installed: contacts calendar")),
            "{}",
            converge.stderr
        );
        assert!(
            verify.stderr.contains(&format!("https://cloud.{host}.lab.test/status.php answers 200")),
            "{}",
            verify.stderr
        );
    }
    assert!(verify.stderr.contains("https://pads.d13.lab.test/health answers 200"), "{}", verify.stderr);

    // A first install cut short after the installer, the database role already on another
    // password than config.php's and no version recorded (where an earlier deploy left
    // servers broken for good): the next apply finishes it.
    ssh_ok(
        &state,
        "d12",
        "rm /var/lib/nextcloud/version && printf '%s\n' \"ALTER ROLE cloud_d12 PASSWORD 'left-by-a-run-that-died';\" | runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1",
    );
    let finished = chaton(&["apply", file]);
    assert_eq!(finished.code, 0, "{}", finished.stderr);
    assert_eq!(ssh_ok(&state, "d12", "cat /var/lib/nextcloud/version"), format!("{NEXTCLOUD}\n"));
    idempotence(&chaton(&["apply", file, "--json"]).stdout).unwrap();

    let client = Client::new(
        dir.path(),
        &state,
        &[("cloud.d12.lab.test", "d12"), ("cloud.d13.lab.test", "d13"), ("pads.d13.lab.test", "d13")],
    );
    for host in ["d12", "d13"] {
        nextcloud_answers_real_clients(&state, &client, host, dir.path());
    }
    etherpad_answers_a_browser_and_keeps_its_promises(&state, &client);

    variants.join().unwrap();
    for version in ["34.0.2", "34.0.3"] {
        sign(&signer, &site.join(format!("nextcloud-{version}.tar.bz2")));
    }
    upgrades_keep_data_and_a_failed_one_rolls_back(&state, &client, &description, &site);
    backups_bring_back_a_deleted_file_a_deleted_calendar_and_a_pad(&state, &client, file);
    moves_take_the_cloud_and_the_pads_to_another_server(&state, &client, &description, dir.path());

    let test = "nextcloud_and_etherpad_from_their_real_releases_answer_real_clients";
    let restored = [CONVERGED, &[Level::BackedUp, Level::Restored]].concat();
    record(test, Some(NEXTCLOUD), &[], &[("nextcloud", "debian-12", &restored), ("nextcloud", "debian-13", &restored)]);
    record(test, Some(ETHERPAD), &[], &[("etherpad", "debian-13", &restored)]);

    drop(guard);
    nothing_left_behind(&state);
}

/// Nextcloud on `host`: installed as the release says, its own integrity check flags only
/// the artifact's known stand-ins, the generated passwords are the ones in use, and real
/// clients get their files, calendars, contacts and quotas from outside.
fn nextcloud_answers_real_clients(state: &LabState, client: &Client, host: &str, dir: &Path) {
    let url = format!("https://cloud.{host}.lab.test");
    let (status, body) = client.curl(&[&format!("{url}/status.php")]);
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status, "200");
    assert_eq!(
        (answer["installed"].as_bool(), answer["versionstring"].as_str()),
        (Some(true), Some(NEXTCLOUD)),
        "{host}: {body}"
    );
    assert!(occ(state, host, "status").contains("installed: true"), "{host}");

    // Nextcloud's own integrity check: only the artifact's listed stand-ins differ.
    let listed = std::fs::read_to_string(artifacts().join(format!("nextcloud-{NEXTCLOUD}.stand-ins.txt"))).unwrap();
    // It exits with 1 when it flags something.
    let (_, report, _) = ssh_status(state, host, &format!("{OCC} integrity:check-core --output=json"));
    let flagged: serde_json::Value = serde_json::from_str(report.trim())
        .unwrap_or_else(|e| panic!("{host}: integrity:check-core said {report}: {e}"));
    let files: Vec<String> = flagged
        .as_object()
        .unwrap()
        .values()
        .flat_map(|kind| kind.as_object().unwrap().keys().cloned().collect::<Vec<_>>())
        .collect();
    assert!(!files.is_empty(), "{host}: the stand-ins must be flagged, or the check did not run: {flagged}");
    for file in &files {
        assert!(listed.lines().any(|l| l == format!("nextcloud/{file}")), "{host}: {file} differs from the release");
    }

    // The installer's throwaway passwords are gone: the database and the administrator
    // use the generated ones.
    let db = format!("cloud_{host}");
    ssh_ok(
        state,
        host,
        &format!(
            "PGPASSWORD=\"$(cat /var/lib/chaton/secrets/cloud-{host}/db_password)\" psql -X -q -h localhost -U {db} -d {db} -c 'select 1' >/dev/null"
        ),
    );
    let admin = secret(state, host, &format!("cloud-{host}"), "admin_password");

    // Nextcloud's desktop sync client sends a folder and a second one gets it back whole.
    let (up, down) = (dir.join(format!("up-{host}")), dir.join(format!("down-{host}")));
    std::fs::create_dir_all(&up).unwrap();
    std::fs::create_dir_all(&down).unwrap();
    // Under the 2 MB every account gets, the administrator's too.
    let bytes: Vec<u8> = (0..1_500_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(up.join("members.bin"), &bytes).unwrap();
    std::fs::write(up.join("assemblee.txt"), "Assemblée générale le 1er décembre\n").unwrap();
    for folder in [&up, &down] {
        let (code, out) = client
            .run("nextcloudcmd", &["--non-interactive", "-u", "admin", "-p", &admin, folder.to_str().unwrap(), &url]);
        assert_eq!(code, 0, "{host}: nextcloudcmd {}: {out}", folder.display());
    }
    assert_eq!(std::fs::read(down.join("members.bin")).unwrap(), bytes, "{host}: the file came back changed");
    assert_eq!(std::fs::read_to_string(down.join("assemblee.txt")).unwrap(), "Assemblée générale le 1er décembre\n");
    let wrong = dir.join(format!("wrong-{host}"));
    std::fs::create_dir_all(&wrong).unwrap();
    let (code, out) = client.run(
        "nextcloudcmd",
        &["--non-interactive", "-u", "admin", "-p", "not the password", wrong.to_str().unwrap(), &url],
    );
    assert!(code != 0 && out.contains("401"), "{host}: a wrong password must be refused: {code} {out}");

    // A CalDAV and CardDAV library makes a calendar with an event and an address book
    // with a contact, and reads them back.
    let dav = format!("{url}/remote.php/dav/");
    let book = format!("{dav}addressbooks/users/admin/association/");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dav/client.py");
    let (code, out) = client.run(
        "/usr/bin/python3",
        &[script.to_str().unwrap(), &dav, "admin", &admin, client.ca.to_str().unwrap(), &book],
    );
    assert_eq!(code, 0, "{host}: {out}");
    assert!(out.contains("calendar: event created and read back"), "{host}: {out}");
    assert!(out.contains("address book: contact created and read back"), "{host}: {out}");

    // Quotas: an account gets 2 MB, a member 10 GB (set by the background jobs' run).
    for (user, group) in [("camille", ""), ("dominique", "--group members")] {
        ssh_ok(
            state,
            host,
            &format!(
                "cd / && OC_PASS='{user} pass 2026!' NEXTCLOUD_CONFIG_DIR=/etc/nextcloud runuser -m -u www-data -- php /var/www/nextcloud/occ --no-interaction user:add --password-from-env {group} {user}"
            ),
        );
    }
    ssh_ok(state, host, "systemctl start nextcloud-cron.service");
    let jobs = ssh_ok(state, host, "systemctl show -p Result -p ExecMainStatus nextcloud-cron.service");
    assert_eq!(jobs, "Result=success\nExecMainStatus=0\n", "{host}: background jobs");
    let last = occ(state, host, "config:app:get core lastcron").trim().parse::<u64>().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(now.abs_diff(last) < 300, "{host}: background jobs last ran at {last}, now is {now}");
    let payload = dir.join("three-megabytes.bin");
    std::fs::write(&payload, vec![7u8; 3_000_000]).unwrap();
    for (user, expected) in [("camille", "507"), ("dominique", "201")] {
        let (status, body) = client.curl(&[
            "-u",
            &format!("{user}:{user} pass 2026!"),
            "-T",
            payload.to_str().unwrap(),
            &format!("{url}/remote.php/dav/files/{user}/three-megabytes.bin"),
        ]);
        assert_eq!(status, expected, "{host}: 3 MB uploaded by {user}: {body}");
    }

    // JavaScript modules are served as JavaScript, which browsers require.
    let module = ssh_ok(state, host, "cd /var/www/nextcloud && find dist -name '*.mjs' | head -n 1");
    assert!(module.trim().ends_with(".mjs"), "{host}: no module in the release");
    let (code, headers) = client.run(
        "curl",
        &[
            "-sS",
            "-o",
            "/dev/null",
            "-D",
            "-",
            "--cacert",
            client.ca.to_str().unwrap(),
            &format!("{url}/{}", module.trim()),
        ],
    );
    assert!(code == 0 && headers.to_ascii_lowercase().contains("content-type: text/javascript"), "{host}: {headers}");
}

/// Etherpad on d13: healthy as its release says, a visitor's browser writes in a pad that
/// is stored in PostgreSQL, the admin area asks for the generated password, the web front
/// stops a backslash, and the nightly retention deletes a pad nobody edited for real.
fn etherpad_answers_a_browser_and_keeps_its_promises(state: &LabState, client: &Client) {
    let url = "https://pads.d13.lab.test";
    let (status, body) = client.curl(&[&format!("{url}/health")]);
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("200", format!("{{\"status\":\"pass\",\"releaseId\":\"{ETHERPAD}\"}}").as_str())
    );

    let driver = support::browser_driver("pad.mjs");
    let typed = "Ordre du jour : budget 2027";
    let d13 = &state.host("d13").unwrap().address;
    let out = Command::new("node")
        .arg(driver.join("pad.mjs"))
        .args([&format!("{url}/p/assemblee"), "pads.d13.lab.test", d13, typed])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(said.trim()).unwrap_or_else(|_| panic!("{said}"));
    assert_eq!(report["readBack"], typed, "{report}");
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
    // Read through Etherpad's HTTP API and straight from its table.
    let api = |call: &str| etherpad_api(state, call);
    let text: serde_json::Value = serde_json::from_str(&api("getText?padID=assemblee")).unwrap();
    assert_eq!(text["data"]["text"].as_str().unwrap().trim(), typed, "{text}");
    let rows = ssh_ok(
        state,
        "d13",
        "runuser -u postgres -- psql -XAt -d pads_d13 -c \"select count(*) from store where key like 'pad:assemblee:revs:%'\"",
    );
    assert!(rows.trim().parse::<u32>().unwrap() >= 2, "the pad's revisions are in PostgreSQL: {rows}");

    // The admin area asks for the generated password.
    let password = secret(state, "d13", "pads-d13", "admin_password");
    for (credentials, expected) in
        [(None, "401"), (Some("admin:wrong".to_owned()), "401"), (Some(format!("admin:{password}")), "200")]
    {
        let mut args = vec![];
        if let Some(c) = &credentials {
            args.extend(["-u", c.as_str()]);
        }
        let target = format!("{url}/admin-auth/");
        args.extend(["-o", "/dev/null", target.as_str()]);
        assert_eq!(client.curl(&args).0, expected, "admin area with {:?}", credentials.map(|_| "credentials"));
    }
    // A backslash never reaches Etherpad.
    let (status, _) = client.curl(&[
        "-o",
        "/dev/null",
        &format!("{url}/static/plugins/ep_etherpad-lite/static/..%5C..%5C..%5Cetc/passwd"),
    ]);
    assert_eq!(status, "400");

    // A pad nobody edited for 400 days goes at night; the fresh one stays.
    api("createPad?padID=ancien&text=vieux");
    ssh_ok(
        state,
        "d13",
        "runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d pads_d13 -c \"update store set value = jsonb_set(value::jsonb, '{meta,timestamp}', to_jsonb((extract(epoch from now()) - 400 * 86400)::bigint * 1000))::text where key like 'pad:ancien:revs:%'\"",
    );
    ssh_ok(state, "d13", "systemctl start etherpad-retention.service");
    let said = ssh_ok(state, "d13", "journalctl -u etherpad-retention.service -o cat --no-pager");
    assert!(said.contains("deleted 1 pad(s) nobody had edited for 30 days"), "{said}");
    ssh_ok(
        state,
        "d13",
        "for i in $(seq 1 60); do curl -fs -o /dev/null http://127.0.0.1:9001/health && exit 0; sleep 1; done; exit 1",
    );
    let gone: serde_json::Value = serde_json::from_str(&api("getText?padID=ancien")).unwrap();
    assert_eq!(gone["message"], "padID does not exist", "{gone}");
    let kept: serde_json::Value = serde_json::from_str(&api("getText?padID=assemblee")).unwrap();
    assert_eq!(kept["data"]["text"].as_str().unwrap().trim(), typed, "{kept}");
}

/// Releases made from the real ones, for the upgrade tests: Nextcloud 34.0.2 (the same
/// code, numbered one step up) and 34.0.3 (which asks for PHP 9, as a release made for a
/// newer system would), Etherpad 2.3.3 (numbered one step up) and 2.3.4 (which stops at
/// once). Written to d13's website.
fn release_variants(artifacts: &Path, work: &Path, site: &Path) {
    std::fs::create_dir_all(work.join("etherpad")).unwrap();
    let tree = work.to_str().unwrap();
    run("tar", &["-xjf", artifacts.join(format!("nextcloud-{NEXTCLOUD}.tar.bz2")).to_str().unwrap(), "-C", tree]);
    let version_php = work.join("nextcloud/version.php");
    let original = std::fs::read_to_string(&version_php).unwrap();
    for (version, parts) in [("34.0.2", "34,0,2,0"), ("34.0.3", "34,0,3,0")] {
        let text: String = original
            .lines()
            .map(|l| {
                if l.starts_with("$OC_Version = ") {
                    format!("$OC_Version = array({parts});\n")
                } else if l.starts_with("$OC_VersionString = ") {
                    format!("$OC_VersionString = '{version}';\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(&version_php, text).unwrap();
        if version == "34.0.3" {
            let check = work.join("nextcloud/lib/versioncheck.php");
            let code = std::fs::read_to_string(&check).unwrap();
            let newer = code.replace("PHP_VERSION_ID < 80200", "PHP_VERSION_ID < 90000");
            assert_ne!(code, newer, "versioncheck.php changed its shape");
            std::fs::write(&check, newer.replace("at least PHP 8.2", "at least PHP 9.0")).unwrap();
        }
        let out = site.join(format!("nextcloud-{version}.tar.bz2"));
        run("sh", &["-c", "tar -C \"$1\" -cf - nextcloud | lbzip2 > \"$2\"", "sh", tree, out.to_str().unwrap()]);
    }

    let etherpad = work.join("etherpad");
    run(
        "tar",
        &[
            "-xzf",
            artifacts.join(format!("etherpad-{ETHERPAD}.tar.gz")).to_str().unwrap(),
            "-C",
            etherpad.to_str().unwrap(),
        ],
    );
    let top = std::fs::read_dir(&etherpad).unwrap().next().unwrap().unwrap().path();
    let package = top.join("src/package.json");
    let original = std::fs::read_to_string(&package).unwrap();
    for version in ["2.3.3", "2.3.4"] {
        std::fs::write(
            &package,
            original.replace(&format!("\"version\": \"{ETHERPAD}\""), &format!("\"version\": \"{version}\"")),
        )
        .unwrap();
        if version == "2.3.4" {
            let server = top.join("src/node/server.ts");
            let code = std::fs::read_to_string(&server).unwrap();
            std::fs::write(&server, format!("process.exit(3);\n{code}")).unwrap();
        }
        let out = site.join(format!("etherpad-{version}.tar.gz"));
        let name = top.file_name().unwrap().to_str().unwrap();
        run("tar", &["-C", etherpad.to_str().unwrap(), "-czf", out.to_str().unwrap(), name]);
    }
}

/// Sets `key: value` in the parameters of every service whose name starts with `prefix`.
fn set_param(description: &Path, prefix: &str, key: &str, value: &str) {
    let text = std::fs::read_to_string(description).unwrap();
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("  - name: ") {
            inside = line.starts_with(&format!("  - name: {prefix}"));
        }
        if inside && line.starts_with(&format!("      {key}: ")) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if inside && line == "    params:" {
            out.push_str(&format!("      {key}: \"{value}\"\n"));
        }
    }
    std::fs::write(description, out).unwrap();
}

/// Upgrades through the recipes: Nextcloud to 34.0.2 on both servers and Etherpad to 2.3.3
/// keep every file, event and pad; releases that cannot run (34.0.3, 2.3.4) are rolled
/// back, leaving the previous one serving and nothing of theirs behind.
fn upgrades_keep_data_and_a_failed_one_rolls_back(state: &LabState, client: &Client, description: &Path, site: &Path) {
    let file = description.to_str().unwrap();
    let pin = |prefix: &str, version: &str, archive: &str| {
        set_param(description, prefix, "version", version);
        set_param(description, prefix, "sha256", &sha256_of(&site.join(archive)));
    };
    let nextcloud_says = |host: &str| -> serde_json::Value {
        let (_, body) = client.curl(&[&format!("https://cloud.{host}.lab.test/status.php")]);
        serde_json::from_str(&body).unwrap()
    };
    let files_and_events_kept = |host: &str| {
        let admin = secret(state, host, &format!("cloud-{host}"), "admin_password");
        let url = format!("https://cloud.{host}.lab.test/remote.php/dav");
        let (status, body) =
            client.curl(&["-u", &format!("admin:{admin}"), &format!("{url}/files/admin/assemblee.txt")]);
        assert_eq!((status.as_str(), body.as_str()), ("200", "Assemblée générale le 1er décembre\n"), "{host}");
        let (status, body) = calendar_query(client, host, &admin);
        assert!(status == "207" && body.contains("Assemblée générale"), "{host}: {status} {body}");
    };

    // Nextcloud 34.0.2: upgraded in maintenance mode, everything kept.
    pin("cloud-", "34.0.2", "nextcloud-34.0.2.tar.bz2");
    let start = Instant::now();
    let upgrade = chaton(&["apply", file]);
    assert_eq!(upgrade.code, 0, "{}", upgrade.stderr);
    eprintln!("upgrade to Nextcloud 34.0.2 (d12, d13): {:.0} s", start.elapsed().as_secs_f64());
    for host in ["d12", "d13"] {
        let status = nextcloud_says(host);
        assert_eq!(
            (status["versionstring"].as_str(), status["maintenance"].as_bool()),
            (Some("34.0.2"), Some(false)),
            "{host}"
        );
        files_and_events_kept(host);
        // Only the release in place keeps its archive.
        assert_eq!(ssh_ok(state, host, "ls /var/lib/nextcloud/releases"), "nextcloud-34.0.2.tar.bz2\n", "{host}");
    }
    idempotence(&chaton(&["apply", file, "--json"]).stdout).unwrap();

    // Nextcloud 34.0.3 does not run on this PHP: the upgrade fails and 34.0.2 comes back.
    pin("cloud-", "34.0.3", "nextcloud-34.0.3.tar.bz2");
    let failed = chaton(&["apply", file]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    for host in ["d12", "d13"] {
        stopped_at(&failed, host, "command /usr/local/lib/chaton/nextcloud-deploy release 34.0.3");
        let status = nextcloud_says(host);
        assert_eq!(
            (status["versionstring"].as_str(), status["maintenance"].as_bool()),
            (Some("34.0.2"), Some(false)),
            "{host}"
        );
        assert_eq!(ssh_ok(state, host, "cat /var/lib/nextcloud/version"), "34.0.2\n");
        assert_eq!(ssh_status(state, host, "test -e /var/www/nextcloud.previous").0, 1, "{host}");
        files_and_events_kept(host);
    }
    assert!(failed.stderr.contains("the upgrade to 34.0.3 failed: the previous release is back"), "{}", failed.stderr);
    assert!(failed.stderr.contains("requires at least PHP 9.0"), "the release's own words: {}", failed.stderr);
    pin("cloud-", "34.0.2", "nextcloud-34.0.2.tar.bz2");

    // Etherpad 2.3.3: built, switched to, healthy; the pad is still there.
    pin("pads-", "2.3.3", "etherpad-2.3.3.tar.gz");
    let start = Instant::now();
    let upgrade = chaton(&["apply", file]);
    assert_eq!(upgrade.code, 0, "{}", upgrade.stderr);
    eprintln!("upgrade to Etherpad 2.3.3 (d13): {:.0} s", start.elapsed().as_secs_f64());
    let health = |expected: &str| {
        let (status, body) = client.curl(&["https://pads.d13.lab.test/health"]);
        assert_eq!(
            (status.as_str(), body.as_str()),
            ("200", format!("{{\"status\":\"pass\",\"releaseId\":\"{expected}\"}}").as_str())
        );
    };
    health("2.3.3");
    let pad = || etherpad_api(state, "getText?padID=assemblee");
    assert!(pad().contains("Ordre du jour : budget 2027"), "{}", pad());
    idempotence(&chaton(&["apply", file, "--json"]).stdout).unwrap();
    let kept = ssh_ok(state, "d13", "ls /opt/etherpad /var/lib/etherpad/releases");
    assert_eq!(
        kept.lines().filter(|l| l.starts_with("2.3.")).count(),
        2,
        "the release in use and the one before: {kept}"
    );

    // Etherpad 2.3.4 stops at once: 2.3.3 comes back, and 2.3.4 leaves nothing behind.
    pin("pads-", "2.3.4", "etherpad-2.3.4.tar.gz");
    let failed = chaton(&["apply", file]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains("Etherpad 2.3.4 did not answer on /health: /opt/etherpad/2.3.3."),
        "{}",
        failed.stderr
    );
    health("2.3.3");
    let left = ssh_ok(state, "d13", "ls /opt/etherpad");
    assert!(!left.contains("2.3.4") && left.lines().filter(|l| l.starts_with("2.3.")).count() == 2, "{left}");
    assert!(pad().contains("Ordre du jour : budget 2027"));
    pin("pads-", "2.3.3", "etherpad-2.3.3.tar.gz");
    let back = chaton(&["apply", file, "--json"]);
    idempotence(&back.stdout).unwrap();
}

/// A CalDAV query of the administrator's "association" calendar: status and answer.
fn calendar_query(client: &Client, host: &str, admin_password: &str) -> (String, String) {
    client.curl(&[
        "-u",
        &format!("admin:{admin_password}"),
        "-X",
        "REPORT",
        "-H",
        "Depth: 1",
        "-H",
        "Content-Type: application/xml",
        "--data",
        "<c:calendar-query xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:prop><c:calendar-data/></d:prop><c:filter><c:comp-filter name=\"VCALENDAR\"/></c:filter></c:calendar-query>",
        &format!("https://cloud.{host}.lab.test/remote.php/dav/calendars/admin/association/"),
    ])
}

/// `chaton backup`: each Nextcloud's files and database copied in maintenance mode, a
/// deleted file and a deleted calendar brought back by a restore, on both releases, and a
/// deleted pad too.
fn backups_bring_back_a_deleted_file_a_deleted_calendar_and_a_pad(state: &LabState, client: &Client, file: &str) {
    let clouds = ["d12", "d13"];
    let run_backup = chaton(&["backup", "run", file]);
    assert_eq!(run_backup.code, 0, "{}", run_backup.stderr);
    for service in ["cloud-d12", "cloud-d13", "pads-d13"] {
        assert!(run_backup.stderr.contains(&format!("ok  {service}  local  {service}-")), "{}", run_backup.stderr);
    }
    for host in clouds {
        // The copy of config.php in the backup says maintenance mode was on; Nextcloud is back.
        let config = ssh_ok(
            state,
            host,
            &format!(
                "export BORG_REPO=/var/backups/chaton/borg BORG_PASSCOMMAND='cat /etc/chaton/backup/passphrase'; borg extract --stdout \"::$(borg list --glob-archives 'cloud-{host}-*' --last 1 --format '{{archive}}')\" etc/nextcloud/config.php"
            ),
        );
        assert!(config.contains("'maintenance' => true"), "{host}: the backup was not taken in maintenance mode");
        let status: serde_json::Value =
            serde_json::from_str(&client.curl(&[&format!("https://cloud.{host}.lab.test/status.php")]).1).unwrap();
        assert_eq!(status["maintenance"], false, "{host}: {status}");
    }

    // A member deletes a file and a calendar on each cloud; a pad is deleted.
    let dav = |host: &str| format!("https://cloud.{host}.lab.test/remote.php/dav");
    let auth = |host: &str| format!("admin:{}", secret(state, host, &format!("cloud-{host}"), "admin_password"));
    // Nextcloud keeps a deleted calendar in its trash for a while, marked in its table.
    let deleted_at = |host: &str| {
        ssh_ok(
            state,
            host,
            &format!(
                "runuser -u postgres -- psql -XAt -d cloud_{host} -c \"select coalesce(deleted_at::text, 'live') from oc_calendars where uri = 'association' and principaluri = 'principals/users/admin'\""
            ),
        )
        .trim()
        .to_owned()
    };
    for host in clouds {
        let (auth, dav) = (auth(host), dav(host));
        assert_eq!(client.curl(&["-u", &auth, "-X", "DELETE", &format!("{dav}/files/admin/assemblee.txt")]).0, "204");
        assert_eq!(
            client.curl(&["-u", &auth, "-X", "DELETE", &format!("{dav}/calendars/admin/association/")]).0,
            "204"
        );
        assert_eq!(client.curl(&["-u", &auth, &format!("{dav}/files/admin/assemblee.txt")]).0, "404");
        assert_ne!(deleted_at(host), "live", "{host}: the calendar is deleted");
    }
    let api = |call: &str| etherpad_api(state, call);
    assert!(api("deletePad?padID=assemblee").contains("\"code\":0"));
    assert!(api("getText?padID=assemblee").contains("padID does not exist"));

    for service in ["cloud-d12", "cloud-d13", "pads-d13"] {
        let drill = chaton(&["backup", "drill", file, service]);
        assert_eq!(drill.code, 0, "{}", drill.stderr);
        let db = service.replace('-', "_");
        assert!(drill.stderr.contains(&format!("database {db}  loads, ")), "{}", drill.stderr);
        let restore = chaton(&["backup", "restore", file, service, "--yes"]);
        assert_eq!(restore.code, 0, "{}", restore.stderr);
    }
    for host in clouds {
        let (status, body) = client.curl(&["-u", &auth(host), &format!("{}/files/admin/assemblee.txt", dav(host))]);
        assert_eq!((status.as_str(), body.as_str()), ("200", "Assemblée générale le 1er décembre\n"), "{host}");
        assert_eq!(deleted_at(host), "live", "{host}: the calendar is back");
        let password = secret(state, host, &format!("cloud-{host}"), "admin_password");
        let (status, body) = calendar_query(client, host, &password);
        assert!(status == "207" && body.contains("Assemblée générale"), "{host}: its event is back: {status} {body}");
        let status: serde_json::Value =
            serde_json::from_str(&client.curl(&[&format!("https://cloud.{host}.lab.test/status.php")]).1).unwrap();
        assert_eq!(status["maintenance"], false, "{host}: {status}");
    }
    ssh_ok(
        state,
        "d13",
        "for i in $(seq 1 60); do curl -fs -o /dev/null http://127.0.0.1:9001/health && exit 0; sleep 1; done; exit 1",
    );
    assert!(api("getText?padID=assemblee").contains("Ordre du jour : budget 2027"), "the pad is back");
}

/// `chaton move`: d13's cloud and pads go to m13 with their data. The cloud's move waits at
/// its DNS step until the name points at m13 (the lab's DNS, which the CA asks, and the
/// clients' names change then, as a hoster's record would), is killed (kill -9) while its
/// data is put in place on m13, and resumed by the same command; the pads move in one go.
/// Then the sync client, a CalDAV query and the pad's export find everything on m13, with
/// the moved passwords; d13 serves neither but keeps their data until `--purge`.
fn moves_take_the_cloud_and_the_pads_to_another_server(
    state: &LabState,
    client: &Client,
    description: &Path,
    dir: &Path,
) {
    let file = description.to_str().unwrap();
    let admin = secret(state, "d13", "cloud-d13", "admin_password");
    let args = ["move", file, "cloud-d13", "--to", "m13", "--yes", "--dns-wait", "600"];

    let start = Instant::now();
    let (mut run, lines, reader) = spawn_watching(client.chaton(&args));
    let patience = std::time::Duration::from_secs(900);
    assert!(heard_line(&lines, "move: (4/10) dns", patience), "the move never came to its DNS step");
    // It waits for the name: the hoster changes the record.
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(run.try_wait().unwrap().is_none(), "the move did not wait for the name to point at m13");
    lab::point_name(state, "cloud.d13.lab.test", "m13").unwrap();
    client.point(state, "cloud.d13.lab.test", "m13");
    let importing = heard_line(&lines, "move: (6/10) import", patience);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    run.kill().unwrap();
    let status = run.wait().unwrap();
    let said = reader.join().unwrap();
    assert!(importing && status.code().is_none(), "not killed in its import: {said}");
    assert!(said.contains("move: cloud.d13.lab.test points at "), "{said}");

    // Resumed by the same command: on from the import, nothing exported or installed again.
    let resumed = client.chaton(&args).env("LC_ALL", "C").output().unwrap();
    let resumed_said = String::from_utf8_lossy(&resumed.stderr).into_owned();
    assert!(resumed.status.success(), "{resumed_said}");
    eprintln!("move of the cloud from d13 to m13, killed and resumed: {:.0} s", start.elapsed().as_secs_f64());
    for step in ["move: (3/10) export", "move: (5/10) converge"] {
        assert!(!resumed_said.contains(step), "{step} ran again: {resumed_said}");
    }
    assert!(resumed_said.contains("move: (6/10) import"), "{resumed_said}");
    assert!(resumed_said.contains("[m13] imported  password of role cloud_d13"), "{resumed_said}");
    assert!(resumed_said.contains("move: cloud-d13 now runs on m13."), "{resumed_said}");

    // The pads: their name points at m13 first, so the move goes through in one go.
    lab::point_name(state, "pads.d13.lab.test", "m13").unwrap();
    client.point(state, "pads.d13.lab.test", "m13");
    let start = Instant::now();
    let pads = client.chaton(&["move", file, "pads-d13", "--to", "m13", "--yes"]).env("LC_ALL", "C").output().unwrap();
    let pads_said = String::from_utf8_lossy(&pads.stderr).into_owned();
    assert!(pads.status.success(), "{pads_said}");
    eprintln!("move of the pads from d13 to m13: {:.0} s", start.elapsed().as_secs_f64());

    // What the clients find there now, through the names that point at m13.
    let down = dir.join("down-after-move");
    std::fs::create_dir_all(&down).unwrap();
    let url = "https://cloud.d13.lab.test";
    let (code, out) =
        client.run("nextcloudcmd", &["--non-interactive", "-u", "admin", "-p", &admin, down.to_str().unwrap(), url]);
    assert_eq!(code, 0, "nextcloudcmd after the move: {out}");
    let sent = std::fs::read(dir.join("up-d13/members.bin")).unwrap();
    assert_eq!(std::fs::read(down.join("members.bin")).unwrap(), sent, "the file came back changed");
    assert_eq!(std::fs::read_to_string(down.join("assemblee.txt")).unwrap(), "Assemblée générale le 1er décembre\n");
    let (status, body) = calendar_query(client, "d13", &admin);
    assert!(status == "207" && body.contains("Assemblée générale"), "the event moved: {status} {body}");
    let (status, body) = client.curl(&[&format!("{url}/status.php")]);
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((status.as_str(), answer["maintenance"].as_bool()), ("200", Some(false)), "{body}");
    // Served by m13: its own PostgreSQL has the database, on the moved password.
    assert_eq!(secret(state, "m13", "cloud-d13", "admin_password"), admin);
    ssh_ok(
        state,
        "m13",
        "PGPASSWORD=\"$(cat /var/lib/chaton/secrets/cloud-d13/db_password)\" psql -X -q -h localhost -U cloud_d13 -d cloud_d13 -c 'select 1' >/dev/null",
    );
    let (status, body) = client.curl(&["https://pads.d13.lab.test/p/assemblee/export/txt"]);
    assert!(status == "200" && body.contains("Ordre du jour : budget 2027"), "the pad moved: {status} {body}");
    assert!(etherpad_api_on(state, "m13", "getText?padID=assemblee").contains("Ordre du jour : budget 2027"));

    // d13 serves neither any more, and still holds their data.
    ssh_ok(
        state,
        "d13",
        "test ! -e /etc/nginx/chaton/sites/cloud-d13.conf && test ! -e /etc/nginx/chaton/sites/pads-d13.conf && test -d /var/lib/nextcloud/data && test -d /var/lib/etherpad/var",
    );
    let (code, _, _) = ssh_status(state, "d13", "systemctl is-active --quiet etherpad");
    assert_ne!(code, 0, "Etherpad still runs on d13");
    let text = std::fs::read_to_string(description).unwrap();
    for name in ["cloud", "pads"] {
        assert!(text.contains(&format!("    server: m13\n    domain: {name}.d13.lab.test")), "{text}");
    }
    // Every server agrees with the description: nothing to change, and verify passes.
    converged_idempotent_verified(file);

    // --purge: d13's copies, databases and roles go. When nothing on d13 needs PostgreSQL
    // any more, the remove step stopped it: the purge starts it for the deletion and stops it.
    let postgresql = |host: &str| ssh_status(state, host, "systemctl is-active --quiet postgresql").0 == 0;
    let running_before = postgresql("d13");
    for (service, database) in [("cloud-d13", "cloud_d13"), ("pads-d13", "pads_d13")] {
        let purged = chaton(&["move", file, service, "--purge"]);
        assert_eq!(purged.code, 0, "{}", purged.stderr);
        for said in [format!("deleted  database {database}"), format!("deleted  role {database}")] {
            assert!(purged.stderr.contains(&said), "{}", purged.stderr);
        }
        assert_eq!(purged.stderr.contains("starting PostgreSQL"), !running_before, "{}", purged.stderr);
    }
    assert_eq!(postgresql("d13"), running_before, "the purge left PostgreSQL in another state on d13");
    ssh_ok(state, "d13", "test ! -e /var/lib/nextcloud/data && test ! -e /var/lib/etherpad/var");
    let left = ssh_ok(
        state,
        "d13",
        "was=$(systemctl is-active postgresql || true); systemctl start postgresql && until pg_isready -q; do sleep 0.5; done && runuser -u postgres -- psql -XAt -c \"select (select count(*) from pg_database where datname in ('cloud_d13', 'pads_d13')) + (select count(*) from pg_roles where rolname in ('cloud_d13', 'pads_d13'))\"; [ \"$was\" = active ] || systemctl stop postgresql",
    );
    assert_eq!(left.trim(), "0", "the databases or their roles are still on d13");
}
