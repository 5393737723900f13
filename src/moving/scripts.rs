//! The shell a move runs on the servers, one script per step, each safe to run again:
//! stop the service on the old server, send its data (files, database dumps, generated
//! secrets) as one archive with its SHA-256, put that archive in place on the new server,
//! and at the very end, when the hoster asks, delete what the old server still holds.
//!
//! The archive travels as base64 lines in the scripts' text (the transport carries text):
//! `data` lines out of the old server, a here-document into the new one.

use crate::resolve::backup::DataSet;
use crate::shell::quote;

/// Where database dumps wait on either server while they travel.
const DUMPS: &str = "/var/backups/chaton/move";

/// A path a move may replace or delete: absolute, no `..`, and at least two levels deep
/// (never `/` or `/etc` whole, whatever a recipe says).
pub fn is_replaceable(path: &str) -> bool {
    crate::vocab::values::is_safe_path(path) && path.trim_end_matches('/').matches('/').count() >= 2
}

fn words(items: &[String]) -> String {
    items.iter().map(|i| quote(i)).collect::<Vec<_>>().join(" ")
}

/// Every step's script begins so: strict, private files, and one move script at a time on
/// a server. A move cut off from here (a kill -9, a lost link) leaves its script running on
/// the server; the same step run again waits for it to end instead of racing it.
///
/// Such a script has lost its reader: it ignores SIGPIPE and prints through `say`, which
/// never fails, so it goes on to its end instead of dying half-way (an import stopped
/// between removing the install's files and starting the service again).
fn prologue() -> String {
    "set -eu\numask 077\nexport LC_ALL=C\n# Commands run as postgres would complain of root's home.\ncd /\n\
     trap '' PIPE\nsay() { printf \"$@\" 2>/dev/null || true; }\n\
     exec 8>/run/lock/chaton-move.lock\n\
     if ! flock -w 900 8; then say 'an earlier move script still runs here (/run/lock/chaton-move.lock)\\n'; exit 1; fi\n"
        .to_owned()
}

/// Stops the service on the old server: its pause (a maintenance mode), then its units.
pub fn stop(data: Option<&DataSet>, units: &[String]) -> String {
    let mut s = prologue();
    if let Some(pause) = data.map(|d| d.pause.as_str()).filter(|p| !p.is_empty()) {
        s.push_str(&format!("{pause} >/dev/null\n"));
    }
    if !units.is_empty() {
        s.push_str(&format!("systemctl stop -- {}\n", words(units)));
    }
    s.push_str("say 'stopped\\n'\n");
    s
}

/// Archives what the service keeps on the old server and prints it: `path` and `database`
/// lines for what it found, a `sum` line (SHA-256 and size), then the archive in `data` lines.
pub fn export(data: &DataSet) -> String {
    let mut s = prologue();
    let work = format!("{DUMPS}/{}", data.service);
    s.push_str(&format!(
        "WORK={}\ntmp=$(mktemp /var/tmp/chaton-move.XXXXXX)\ntrap 'rm -f \"$tmp\"; rm -rf \"$WORK\"' EXIT\nrm -rf \"$WORK\"\nmkdir -p \"$WORK\"\nset --\n",
        quote(&work)
    ));
    for path in &data.paths {
        s.push_str(&format!(
            "if [ -e {p} ]; then set -- \"$@\" {rel}; printf 'path\\t%s\\n' {p}; fi\n",
            p = quote(path),
            rel = quote(path.trim_start_matches('/'))
        ));
    }
    for db in &data.databases {
        s.push_str(&format!(
            "runuser -u postgres -- pg_dump --format=custom -- {d} > \"$WORK\"/{d}.dump\nprintf 'database\\t%s\\n' {d}\n",
            d = quote(db)
        ));
    }
    if !data.databases.is_empty() {
        s.push_str(&format!("set -- \"$@\" {}\n", quote(work.trim_start_matches('/'))));
    }
    s.push_str(
        "if [ $# -eq 0 ]; then printf 'sum\\t-\\t0\\n'; exit 0; fi\n\
         tar --create --gzip --file=\"$tmp\" \"$@\"\n\
         printf 'sum\\t%s\\t%s\\n' \"$(sha256sum < \"$tmp\" | cut -d' ' -f1)\" \"$(stat -c %s \"$tmp\")\"\n\
         base64 -w 76 \"$tmp\" | sed 's/^/data\\t/'\n",
    );
    s
}

/// What the old server sent: the paths and databases it found, and the archive.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Exported {
    pub paths: Vec<String>,
    pub databases: Vec<String>,
    /// `None` when there was nothing to archive.
    pub sha256: Option<String>,
    pub archive: Vec<u8>,
}

/// Reads the export's output lines; refuses an archive that does not match its sum.
pub fn read_export(lines: &[String]) -> Result<Exported, String> {
    use base64::Engine as _;
    let mut out = Exported::default();
    let mut encoded = String::new();
    let mut size = None;
    for line in lines {
        let mut fields = line.splitn(3, '\t');
        match (fields.next(), fields.next(), fields.next()) {
            (Some("path"), Some(p), None) => out.paths.push(p.to_owned()),
            (Some("database"), Some(d), None) => out.databases.push(d.to_owned()),
            (Some("sum"), Some("-"), Some("0")) => size = Some(0),
            (Some("sum"), Some(sum), Some(bytes)) => {
                out.sha256 = Some(sum.to_owned());
                size = bytes.parse::<usize>().ok();
            }
            (Some("data"), Some(chunk), None) => encoded.push_str(chunk),
            _ => {}
        }
    }
    let Some(size) = size else { return Err("the old server sent no archive (no `sum` line)".into()) };
    out.archive = base64::engine::general_purpose::STANDARD
        .decode(encoded.as_bytes())
        .map_err(|e| format!("the archive arrived damaged: {e}"))?;
    if out.archive.len() != size {
        return Err(format!("the archive arrived cut: {} of {size} bytes", out.archive.len()));
    }
    if let Some(sum) = &out.sha256
        && sha256_hex(&out.archive) != *sum
    {
        return Err("the archive arrived damaged: its SHA-256 does not match the old server's".into());
    }
    Ok(out)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// What the service has on the new server, as its install made it.
#[derive(Debug, Default)]
pub struct OnServer {
    /// Its systemd units that run: stopped while its data is replaced.
    pub units: Vec<String>,
    /// Its PostgreSQL roles and the files of their passwords: the moved secrets replace
    /// those files, so the roles take those passwords again.
    pub roles: Vec<(String, String)>,
}

/// Puts the archive in place on the new server: the service stopped, each path it holds
/// replaced whole (what the install made goes), databases restored from their dumps, its
/// roles given the passwords of its moved secrets, the service started again and told.
pub fn import(data: &DataSet, on_server: &OnServer, paths: &[String], archive: &[u8], sha256: &str) -> String {
    let units = &on_server.units;
    use base64::Engine as _;
    let mut s = prologue();
    let work = format!("{DUMPS}/{}", data.service);
    s.push_str("tmp=$(mktemp /var/tmp/chaton-move.XXXXXX)\ntrap 'rm -f \"$tmp\"' EXIT\n");
    s.push_str("base64 -d > \"$tmp\" <<'CHATON_MOVE_DATA'\n");
    let encoded = base64::engine::general_purpose::STANDARD.encode(archive);
    for chunk in encoded.as_bytes().chunks(76) {
        s.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        s.push('\n');
    }
    s.push_str("CHATON_MOVE_DATA\n");
    s.push_str(&format!(
        "if [ \"$(sha256sum < \"$tmp\" | cut -d' ' -f1)\" != {} ]; then say 'the data arrived damaged\\n'; exit 1; fi\n",
        quote(sha256)
    ));
    if !data.pause.is_empty() {
        // Run again after a cut-off import, the pause may fail: the files are the moved ones
        // already, the database not yet. The units stop all the same.
        s.push_str(&format!(
            "if ! {} >/dev/null 2>&1; then say 'not paused: its files are half in place; the units stop all the same\\n'; fi\n",
            data.pause
        ));
    }
    if !units.is_empty() {
        s.push_str(&format!("systemctl stop -- {}\n", words(units)));
    }
    let replaced: Vec<String> = paths.iter().filter(|p| is_replaceable(p)).cloned().collect();
    if !replaced.is_empty() {
        s.push_str(&format!("rm -rf -- {}\n", words(&replaced)));
    }
    s.push_str(&format!("rm -rf -- {}\n", quote(&work)));
    s.push_str("tar --extract --gzip --file=\"$tmp\" --directory=/\n");
    for p in &replaced {
        s.push_str(&format!("say 'imported\\t%s\\n' {}\n", quote(p)));
    }
    for db in &data.databases {
        s.push_str(&format!(
            "runuser -u postgres -- pg_restore --clean --if-exists --exit-on-error --dbname={d} < {w}/{d}.dump\nsay 'imported\\tdatabase %s\\n' {d}\n",
            d = quote(db),
            w = quote(&work)
        ));
    }
    s.push_str(&format!("rm -rf -- {}\n", quote(&work)));
    for (role, file) in &on_server.roles {
        s.push_str(&format!(
            "sh -c {} sh {r} {f}\nsay 'imported\\tpassword of role %s\\n' {r}\n",
            quote(crate::resource::postgres::SET_ROLE_PASSWORD),
            r = quote(role),
            f = quote(file)
        ));
    }
    if !data.resume.is_empty() {
        s.push_str(&format!("{} >/dev/null\n", data.resume));
    }
    if !units.is_empty() {
        s.push_str(&format!("systemctl start -- {}\n", words(units)));
    }
    if !data.after_restore.is_empty() {
        s.push_str(&format!("{} >/dev/null\n", data.after_restore));
    }
    s
}

/// Deletes what a finished move left on the old server: the paths it copied, its databases,
/// and its PostgreSQL roles with their password files. A server the move left without a
/// service that needs PostgreSQL has it stopped (the remove step stops what nothing
/// describes): it is started for the deletion, and stopped again after.
pub fn purge(paths: &[String], databases: &[String], roles: &[(String, String)]) -> String {
    let mut s = prologue();
    for p in paths.iter().filter(|p| is_replaceable(p)) {
        s.push_str(&format!("rm -rf -- {p}\nsay 'deleted\\t%s\\n' {p}\n", p = quote(p)));
    }
    for (_, file) in roles.iter().filter(|(_, file)| is_replaceable(file)) {
        s.push_str(&format!("rm -f -- {}\n", quote(file)));
    }
    if databases.is_empty() && roles.is_empty() {
        return s;
    }
    s.push_str(
        "if ! command -v dropdb >/dev/null; then say 'PostgreSQL is not installed here: no database to delete\\n'; exit 0; fi\n\
         if ! pg_isready -q; then\n\
         \x20 say 'starting PostgreSQL, stopped here since nothing needs it, to delete the databases\\n'\n\
         \x20 systemctl start postgresql\n\
         \x20 trap 'systemctl stop postgresql' EXIT\n\
         \x20 tries=0; until pg_isready -q; do tries=$((tries + 1)); [ $tries -lt 60 ] || { say 'PostgreSQL did not start\\n'; exit 1; }; sleep 0.5; done\n\
         fi\n",
    );
    for db in databases {
        s.push_str(&format!(
            "runuser -u postgres -- dropdb --if-exists -- {d}\nsay 'deleted\\tdatabase %s\\n' {d}\n",
            d = quote(db)
        ));
    }
    for (role, _) in roles {
        s.push_str(&format!(
            "runuser -u postgres -- dropuser --if-exists -- {r}\nsay 'deleted\\trole %s\\n' {r}\n",
            r = quote(role)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stand_ins::StandIns;

    fn set() -> DataSet {
        DataSet {
            service: "pads".into(),
            paths: vec!["/etc/etherpad".into(), "/var/lib/etherpad/var".into()],
            databases: vec!["pads".into()],
            pause: String::new(),
            resume: String::new(),
            after_restore: "systemctl try-restart etherpad".into(),
        }
    }

    fn on_server() -> OnServer {
        OnServer {
            units: vec!["etherpad".into()],
            roles: vec![("pads".into(), "/var/lib/chaton/secrets/pads/db_password".into())],
        }
    }

    fn run(script: &str) -> (bool, Vec<String>) {
        let out = std::process::Command::new("sh").arg("-c").arg(script).output().unwrap();
        let lines = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
        (out.status.success(), lines)
    }

    #[test]
    fn only_deep_absolute_paths_are_ever_replaced_or_deleted() {
        assert!(is_replaceable("/var/lib/radicale/collections"));
        assert!(is_replaceable("/etc/etherpad"));
        for bad in ["/", "/etc", "/etc/", "relative/path", "/var/../etc", ""] {
            assert!(!is_replaceable(bad), "{bad}");
        }
        let script = purge(&["/etc".into(), "/etc/etherpad".into()], &[], &[]);
        assert!(!script.contains("rm -rf -- /etc\n"), "{script}");
        assert!(script.contains("rm -rf -- /etc/etherpad\n"), "{script}");
    }

    #[test]
    fn an_archive_is_read_back_only_when_it_matches_its_sum() {
        // The export's own tail, run by a real shell on a real file.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.tar.gz");
        std::fs::write(&file, b"not really an archive, but bytes all the same\n".repeat(40)).unwrap();
        let tail = format!(
            "tmp={}\nprintf 'path\\t/etc/etherpad\\n'\nprintf 'sum\\t%s\\t%s\\n' \"$(sha256sum < \"$tmp\" | cut -d' ' -f1)\" \"$(stat -c %s \"$tmp\")\"\nbase64 -w 76 \"$tmp\" | sed 's/^/data\\t/'\n",
            quote(&file.display().to_string())
        );
        let (ok, lines) = run(&tail);
        assert!(ok);
        let read = read_export(&lines).unwrap();
        assert_eq!(read.archive, std::fs::read(&file).unwrap());
        assert_eq!(read.paths, vec!["/etc/etherpad"]);
        // One line lost on the way: refused, not half-imported.
        let mut cut = lines.clone();
        cut.remove(3);
        assert!(read_export(&cut).unwrap_err().contains("cut"));
        // One byte changed: refused.
        let mut damaged = lines.clone();
        let last = damaged.len() - 2;
        damaged[last] = damaged[last].replacen('A', "B", 1).replacen('a', "b", 1);
        assert!(read_export(&damaged).is_err());
        assert!(read_export(&lines[..1]).unwrap_err().contains("no archive"));
    }

    const CHECKED: &str = "the data arrived damaged\\n'; exit 1; fi\n";

    #[test]
    fn the_import_script_refuses_damaged_data_before_touching_anything() {
        let script = import(&set(), &on_server(), &["/etc/etherpad".into()], b"data", &"0".repeat(64));
        // Cut right after the check: a shell runs the decoding and the check, which fails.
        let check_end = script.find(CHECKED).unwrap() + CHECKED.len();
        let (ok, lines) = run(&script[..check_end]);
        assert!(!ok);
        assert_eq!(lines, vec!["the data arrived damaged"]);
        assert!(script.find("rm -rf -- /etc/etherpad").unwrap() > check_end);
        let sum = sha256_hex(b"data");
        let script = import(&set(), &OnServer::default(), &[], b"data", &sum);
        let check_end = script.find(CHECKED).unwrap() + CHECKED.len();
        let (ok, lines) = run(&script[..check_end]);
        assert!(ok, "{lines:?}");
    }

    #[test]
    fn the_import_gives_the_services_roles_the_passwords_it_brought() {
        let here = StandIns::new();
        // A runuser that is psql's stand-in: what it is fed is what PostgreSQL would run.
        let fed = here.path("fed.sql");
        here.program("runuser", &format!("echo \"$*\" > {0}.args\ncat > {0}\n", fed.display()));
        let secret = here.path("db_password");
        std::fs::write(&secret, "moved-s3cret").unwrap();
        let roles =
            OnServer { units: vec!["etherpad".into()], roles: vec![("pads".into(), secret.display().to_string())] };
        let script = import(&set(), &roles, &[], b"data", &sha256_hex(b"data"));
        let line = script.lines().find(|l| l.starts_with("sh -c ")).expect("a line sets the role's password");
        // After the databases are restored, before the service starts again.
        let at = script.find(line).unwrap();
        assert!(script.find("pg_restore").unwrap() < at && at < script.find("systemctl start").unwrap(), "{script}");
        let out = here.run(line);
        assert!(out.status.success(), "{out:?}");
        assert_eq!(std::fs::read_to_string(&fed).unwrap(), "ALTER ROLE \"pads\" PASSWORD 'moved-s3cret';\n");
        let args = std::fs::read_to_string(fed.with_extension("sql.args")).unwrap();
        assert_eq!(args.trim(), "-u postgres -- psql -X -q -v ON_ERROR_STOP=1");
        // The password is read on the server: it is not in the script.
        assert!(!script.contains("moved-s3cret"));
    }

    #[test]
    fn a_script_cut_off_from_its_reader_still_runs_to_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("move.lock");
        let done = dir.path().join("done");
        let script = format!(
            "{}say 'first\\n'\nsleep 0.5\nsay 'second, to no one\\n'\ntouch {}\n",
            prologue().replace("/run/lock/chaton-move.lock", &lock.display().to_string()),
            quote(&done.display().to_string())
        );
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut first).unwrap();
        assert_eq!(first, "first\n");
        // The reader is gone (the reading end dropped above): the script goes on regardless.
        let status = child.wait().unwrap();
        assert!(done.exists(), "the script stopped half-way ({status})");
    }

    #[test]
    fn a_purge_starts_a_stopped_postgresql_for_the_databases_and_stops_it_again() {
        let here = StandIns::new();
        let calls = here.path("calls");
        let up = here.path("up");
        // Stand-ins: systemctl starts and stops a pretend PostgreSQL that pg_isready asks.
        let stand_ins = [
            ("systemctl", "echo \"systemctl $*\" >> {c}\ncase $1 in start) touch {u};; stop) rm -f {u};; esac\n"),
            ("pg_isready", "test -e {u}\n"),
            ("runuser", "test -e {u} || exit 2\necho \"runuser $*\" >> {c}\n"),
            ("dropdb", "exit 0\n"),
        ];
        for (name, body) in stand_ins {
            here.program(
                name,
                &body.replace("{c}", &calls.display().to_string()).replace("{u}", &up.display().to_string()),
            );
        }
        let data = here.path("data");
        std::fs::create_dir(&data).unwrap();
        let secret = here.path("db_password");
        std::fs::write(&secret, "s3cret").unwrap();
        let purge_here = |up_before: bool| {
            std::fs::write(&calls, "").unwrap();
            if up_before {
                std::fs::write(&up, "").unwrap();
            }
            let script = purge(
                &[data.display().to_string()],
                &["pads".into()],
                &[("pads".into(), secret.display().to_string())],
            )
            .replace("/run/lock/chaton-move.lock", &here.path("lock").display().to_string());
            let out = here.run(&script);
            assert!(out.status.success(), "{out:?}");
            (String::from_utf8_lossy(&out.stdout).into_owned(), std::fs::read_to_string(&calls).unwrap())
        };

        // Stopped before: started for the deletion, stopped after.
        let (said, calls_made) = purge_here(false);
        assert_eq!(
            calls_made,
            "systemctl start postgresql\nrunuser -u postgres -- dropdb --if-exists -- pads\nrunuser -u postgres -- dropuser --if-exists -- pads\nsystemctl stop postgresql\n"
        );
        assert!(said.contains("deleted\tdatabase pads\n") && said.contains("deleted\trole pads\n"), "{said}");
        assert!(!data.exists() && !secret.exists());
        assert!(!up.exists(), "PostgreSQL was left running");

        // Running before (another service needs it): left alone.
        let (_, calls_made) = purge_here(true);
        assert!(!calls_made.contains("systemctl"), "{calls_made}");
        assert!(up.exists());
    }
}
