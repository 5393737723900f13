//! The plan as text for people: per server, one `+ ~ - !` line per change, diffs of changed
//! files, the handlers that will run, and a summary line. Readable without colour.

use std::fmt::Write as _;

use crate::plan::{FactsSource, Plan};
use crate::resource::Action;

pub(super) struct Options {
    /// Show the whole content of new files.
    pub show_new_content: bool,
    /// Add the reason of each change.
    pub explain: bool,
    pub color: bool,
}

fn paint(text: &str, code: &str, color: bool) -> String {
    if color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
}

pub(super) fn render(plan: &Plan, options: &Options) -> String {
    let mut out = String::new();
    let (mut create, mut update, mut delete, mut run, mut unchanged) = (0, 0, 0, 0, 0);
    for server in &plan.servers {
        let facts = match &server.facts {
            FactsSource::AssumedFresh { distribution } => format!("offline: assuming a fresh {distribution}"),
            // What the server says of itself reaches the terminal escaped.
            FactsSource::Live { os, .. } => crate::diagnostic::sanitize(os),
        };
        let route = match &server.relay {
            Some(relay) => format!("; at home, reached through its relay {relay}"),
            None => String::new(),
        };
        let _ = writeln!(out, "{} {} ({facts}{route})", paint("server", "1", options.color), server.server);
        for planned in &server.changes {
            let change = &planned.change;
            let (code, counter) = match change.action {
                Action::Create => ("32", &mut create),
                Action::Update => ("33", &mut update),
                Action::Delete => ("31", &mut delete),
                Action::Run => ("36", &mut run),
            };
            *counter += 1;
            let line =
                format!("  {} {}", change.action.symbol(), crate::diagnostic::sanitize(&change.resource.to_string()));
            let _ = writeln!(out, "{}  [{}]", paint(&line, code, options.color), planned.origin);
            if let Some(note) = &change.note {
                let _ = writeln!(out, "      {}", crate::diagnostic::sanitize(note));
            }
            if options.explain {
                for reason in &change.reasons {
                    let _ = writeln!(out, "      why: {}", crate::diagnostic::sanitize(reason));
                }
            }
            if let Some(diff) = &change.diff {
                let show = change.action != Action::Create || options.show_new_content || !diff.starts_with("---");
                if show {
                    // Lines of a file on the server: terminal escapes in them (a title, a
                    // cleared screen, a link) are shown, never obeyed.
                    for line in diff.lines() {
                        let code = match line.chars().next() {
                            Some('+') => "32",
                            Some('-') => "31",
                            _ => "0",
                        };
                        let _ =
                            writeln!(out, "      {}", paint(&crate::diagnostic::sanitize(line), code, options.color));
                    }
                }
            }
        }
        for handler in &server.handlers {
            let by: Vec<String> = handler.triggered_by.iter().map(ToString::to_string).collect();
            let by = if by.is_empty() {
                "left pending by an earlier run that did not finish".to_owned()
            } else {
                format!("after: {}", by.join(", "))
            };
            let _ = writeln!(out, "  then {} ({by})", handler.handler.name);
        }
        for kept in &server.kept {
            let line = format!("  = {}", crate::diagnostic::sanitize(&kept.resource.to_string()));
            let _ = writeln!(
                out,
                "{}  [{}] kept: {}",
                paint(&line, "2", options.color),
                kept.origin,
                crate::diagnostic::sanitize(&kept.detail)
            );
        }
        if let Some(access) = &server.access {
            let _ = writeln!(
                out,
                "  then a new SSH login, or the last checked {} go back (access: {})",
                access.files.join(", "),
                crate::diagnostic::sanitize(&access.reasons.join("; "))
            );
        }
        unchanged += server.unchanged.len();
        if server.changes.is_empty() {
            let _ = writeln!(out, "  no changes");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Plan: {create} to create, {update} to change, {delete} to remove, {run} to run on {} server(s); {unchanged} already as desired.",
        plan.servers.len()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{PlannedChange, ServerPlan};
    use crate::resource::{Change, ResourceId};

    #[test]
    fn terminal_escapes_from_a_server_are_shown_not_obeyed() {
        let hostile = "\u{1b}]0;owned\u{7}\u{1b}[2J\u{1b}]8;;https://evil.example\u{1b}\\link\u{1b}]8;;\u{1b}\\";
        let change = Change {
            resource: ResourceId { kind: "file".into(), name: "/etc/motd".into() },
            action: Action::Update,
            before: None,
            after: None,
            reasons: vec![format!("the server's copy says {hostile}")],
            diff: Some(format!("--- /etc/motd (server)\n+++ /etc/motd (desired)\n-{hostile}\n+hello\n")),
            commands: Vec::new(),
            cleanup: Vec::new(),
            guards_access: None,
            note: None,
        };
        let plan = Plan {
            format: 1,
            generator: "test".into(),
            servers: vec![ServerPlan {
                server: "alpha".into(),
                address: "192.0.2.1".into(),
                relay: None,
                facts: FactsSource::Live { digest: "d".into(), os: format!("debian 12 {hostile}") },
                changes: vec![PlannedChange { origin: "base".into(), change }],
                unchanged: Vec::new(),
                handlers: Vec::new(),
                access: None,
                kept: Vec::new(),
            }],
        };
        for explain in [false, true] {
            let text = render(&plan, &Options { show_new_content: true, explain, color: false });
            assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'), "{text:?}");
            assert!(text.contains("\\u{1b}]0;owned"), "shown escaped: {text}");
        }
    }
}
