//! Stage 4: the apply script of one server, built from its plan, and the parser of the
//! progress it prints. The script does exactly what the plan says, in order:
//!
//! - takes a lock on the server (`flock` on `STATE/lock`, holder in `STATE/lock.holder`),
//!   so two runs cannot interleave; the lock dies with the script;
//! - before each change, records the handlers it notifies in the journal
//!   (`STATE/handlers`), so a run that fails or is killed after a config change still
//!   restarts the service on the next run (the next plan reads the journal);
//! - runs each change's commands, stopping at the first failure and removing the
//!   change's temporary files;
//! - runs the handlers, removing each from the journal once it succeeded;
//! - when the run touches chaton's own access, keeps the last checked copies of those files
//!   first and arms a watchdog (`access`).
//!
//! Progress records are `CHATON<TAB>...` lines; everything else is command output. A
//! command whose output does not end with a newline glues the next record to it, so the
//! parser finds a record at the end of a line too (`split_line`).

use std::fmt::Write as _;

pub mod access;

use crate::plan::ServerPlan;
use crate::shell::{quote, render_with_suffix};

/// Where chaton keeps its lock and handler journal on servers.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/chaton";

/// One progress record from a running apply script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Begin(usize),
    Done(usize),
    Failed {
        index: usize,
        code: i32,
    },
    Handler(String),
    HandlerDone(String),
    HandlerFailed {
        name: String,
        code: i32,
    },
    /// Another run holds the lock; the text says who.
    Locked(String),
    /// A command went on but has something to say after the run (`CHATON<TAB>warning<TAB>TEXT`,
    /// printed by a recipe's own script: an app store out of reach, for example).
    Warning(String),
    Finished,
}

/// Splits one output line into the command output it holds and the progress record that
/// ends it, if any: `#30 {main}CHATON\tfailed\t3\t1` is the output `#30 {main}` (the last
/// words of a command that printed no final newline) and the record `failed 3 1`.
pub fn split_line(line: &str) -> (&str, Option<Progress>) {
    for (at, _) in line.match_indices(MARKER) {
        if let Some(progress) = parse_line(&line[at..]) {
            return (&line[..at], Some(progress));
        }
    }
    (line, None)
}

const MARKER: &str = "CHATON\t";

/// Parses one output line that is a whole progress record; `None` for anything else.
pub fn parse_line(line: &str) -> Option<Progress> {
    let rest = line.strip_prefix(MARKER)?;
    let fields: Vec<&str> = rest.split('\t').collect();
    Some(match fields.as_slice() {
        ["begin", i] => Progress::Begin(i.parse().ok()?),
        ["done", i] => Progress::Done(i.parse().ok()?),
        ["failed", i, code] => Progress::Failed { index: i.parse().ok()?, code: code.parse().ok()? },
        ["handler", name] => Progress::Handler((*name).to_owned()),
        ["handler-done", name] => Progress::HandlerDone((*name).to_owned()),
        ["handler-failed", name, code] => {
            Progress::HandlerFailed { name: (*name).to_owned(), code: code.parse().ok()? }
        }
        ["locked", holder] => Progress::Locked((*holder).to_owned()),
        ["locked"] => Progress::Locked(String::new()),
        ["warning", text] => Progress::Warning((*text).to_owned()),
        ["finished"] => Progress::Finished,
        _ => return None,
    })
}

/// Exit code of the script when the lock is held by another run.
pub const LOCKED_EXIT: i32 = 75;

/// The script applying `plan`. `holder` says who runs it (user, machine, pid, time), for
/// the message another run gets when it finds the lock taken.
pub fn script(plan: &ServerPlan, state_dir: &str, holder: &str, access_watchdog: u32) -> String {
    let state = quote(state_dir);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "set -u\nexport LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\numask 022"
    );
    let _ = writeln!(s, "S={state}");
    let _ =
        writeln!(s, "mkdir -p \"$S\" && chmod 0700 \"$S\" || {{ printf 'CHATON\\tfailed\\t0\\t%s\\n' 1; exit 1; }}");
    let _ = writeln!(s, "exec 9>>\"$S/lock\"");
    let _ = writeln!(
        s,
        "if ! flock -n 9; then printf 'CHATON\\tlocked\\t%s\\n' \"$(head -c 300 \"$S/lock.holder\" 2>/dev/null | tr '\\t\\n' '  ')\"; exit {LOCKED_EXIT}; fi"
    );
    let _ = writeln!(s, "printf '%s\\n' {} > \"$S/lock.holder\"", quote(holder));
    let written: Vec<&str> = plan.changes.iter().filter_map(|p| p.change.guards_access.as_deref()).collect();
    if let Some(access) = &plan.access {
        s.push_str(&access::prologue(access, &written, state_dir, access_watchdog));
    }
    for (i, planned) in plan.changes.iter().enumerate() {
        let change = &planned.change;
        let _ = writeln!(s, "# {}", crate::diagnostic::sanitize(&change.resource.to_string()));
        let _ = writeln!(s, "printf 'CHATON\\tbegin\\t{i}\\n'");
        for handler in plan.handlers.iter().filter(|h| h.triggered_by.contains(&change.resource)) {
            let _ = writeln!(s, "printf '%s\\n' {} >> \"$S/handlers\"", quote(&handler.handler.name));
        }
        if let (Some(path), Some(_)) = (&change.guards_access, &plan.access) {
            s.push_str(&access::keep_copy(path));
        }
        let cleanup: String = change.cleanup.iter().map(|p| format!(" {}", quote(p))).collect();
        let on_failure = if cleanup.is_empty() {
            format!(" || {{ rc=$?; printf 'CHATON\\tfailed\\t{i}\\t%s\\n' \"$rc\"; exit 1; }}")
        } else {
            format!(" || {{ rc=$?; rm -f --{cleanup}; printf 'CHATON\\tfailed\\t{i}\\t%s\\n' \"$rc\"; exit 1; }}")
        };
        for command in &change.commands {
            let _ = writeln!(s, "{}", render_with_suffix(command, &on_failure));
        }
        let _ = writeln!(s, "printf 'CHATON\\tdone\\t{i}\\n'");
    }
    for run in &plan.handlers {
        let name = quote(&run.handler.name);
        let _ = writeln!(s, "printf 'CHATON\\thandler\\t%s\\n' {name}");
        let failure = format!(" || {{ rc=$?; printf 'CHATON\\thandler-failed\\t%s\\t%s\\n' {name} \"$rc\"; exit 1; }}");
        let _ = writeln!(s, "{}", render_with_suffix(&run.handler.command, &failure));
        let _ = writeln!(
            s,
            "if [ -f \"$S/handlers\" ]; then grep -vxF -- {name} \"$S/handlers\" > \"$S/handlers.new\"; mv -f \"$S/handlers.new\" \"$S/handlers\"; fi"
        );
        let _ = writeln!(s, "printf 'CHATON\\thandler-done\\t%s\\n' {name}");
    }
    if plan.access.is_some() {
        // The engine's new login comes next; the watchdog gives it time from now.
        let _ = writeln!(s, "arm_access_watchdog");
    }
    // Every handler ran: the journal is done with (entries of handlers no recipe defines
    // any more go with it).
    let _ = writeln!(s, "rm -f \"$S/handlers\" \"$S/lock.holder\"");
    let _ = writeln!(s, "printf 'CHATON\\tfinished\\n'");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_parse() {
        assert_eq!(parse_line("CHATON\tbegin\t3"), Some(Progress::Begin(3)));
        assert_eq!(parse_line("CHATON\tfailed\t3\t127"), Some(Progress::Failed { index: 3, code: 127 }));
        assert_eq!(parse_line("CHATON\thandler\treload nginx"), Some(Progress::Handler("reload nginx".into())));
        assert_eq!(
            parse_line("CHATON\tlocked\tcamille@laptop pid 42"),
            Some(Progress::Locked("camille@laptop pid 42".into()))
        );
        assert_eq!(parse_line("Reading package lists..."), None);
        assert_eq!(parse_line("CHATON\twarning\tno app store"), Some(Progress::Warning("no app store".into())));
    }

    #[test]
    fn a_record_glued_to_output_without_a_final_newline_is_still_found() {
        assert_eq!(
            split_line("#30 {main}CHATON\tfailed\t0\t1"),
            ("#30 {main}", Some(Progress::Failed { index: 0, code: 1 }))
        );
        assert_eq!(split_line("CHATON\tdone\t2"), ("", Some(Progress::Done(2))));
        assert_eq!(split_line("said CHATON\tsomething else"), ("said CHATON\tsomething else", None));
        assert_eq!(split_line("plain output"), ("plain output", None));
    }
}
