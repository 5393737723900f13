//! Reading YAML files (descriptions and recipes) safely, with errors as diagnostics.
//!
//! One place sets the parser's safety options: duplicate keys are errors, booleans are
//! only `true`/`false`, alias expansion is bounded, files are size-limited and must be text.

use std::io::Read as _;
use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_saphyr::{DuplicateKeyPolicy, MessageFormatter as _};

pub(crate) mod locate;

use crate::diagnostic::{Diagnostic, quoted};
use crate::source::{Pos, SourceFile, Span};
use crate::vocab::values::HINT_SEPARATOR;
use locate::Locations;

/// Larger than any real description by far; a bigger file is a mistake (or an attack).
pub(crate) const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Reads a file as text, refusing huge and binary files with a position.
pub(crate) fn read_source(path: &Path) -> Result<Arc<SourceFile>, Diagnostic> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| {
        Diagnostic::error(format!("cannot read {}: {}", quoted(&name), io_reason(&e)))
            .help("check the path; `chaton init` writes a new description")
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Diagnostic::error(format!("cannot read {}: {}", quoted(&name), io_reason(&e))))?;
    text_from_bytes(name, bytes)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        std::io::ErrorKind::IsADirectory => "it is a directory".to_owned(),
        _ => e.to_string(),
    }
}

/// Checks size and encoding; the position of the first problem is reported.
pub(crate) fn text_from_bytes(name: String, bytes: Vec<u8>) -> Result<Arc<SourceFile>, Diagnostic> {
    let too_big = bytes.len() as u64 > MAX_FILE_BYTES;
    let valid_up_to = match std::str::from_utf8(&bytes) {
        Ok(_) => bytes.len(),
        Err(e) => e.valid_up_to(),
    };
    let nul = bytes[..valid_up_to].iter().position(|&b| b == 0);
    let text_part = String::from_utf8_lossy(&bytes[..nul.unwrap_or(valid_up_to)]).into_owned();
    let end = end_pos(&text_part);
    if too_big {
        // Point at where the limit was crossed, so the message has a real position.
        let source = SourceFile::new(name, text_part);
        return Err(Diagnostic::error(format!("file is larger than {} MiB", MAX_FILE_BYTES / 1024 / 1024))
            .at(&source, Span::point(end))
            .help("a description is a few kilobytes of YAML; is this the right file?"));
    }
    if nul.is_some() || valid_up_to < bytes.len() {
        let source = SourceFile::new(name, text_part);
        let help = if nul.is_some() {
            "descriptions are UTF-8 YAML text files; is this the right file?"
        } else {
            "the file is not valid UTF-8: if your editor saved it as Latin-1 or Windows-1252, save it again as UTF-8"
        };
        return Err(Diagnostic::error("file is not UTF-8 text").at(&source, Span::point(end)).help(help));
    }
    Ok(SourceFile::new(name, text_part))
}

fn end_pos(text: &str) -> Pos {
    let line = text.matches('\n').count() + 1;
    let column = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Pos { line, column }
}

/// Parses one YAML document into `T`, turning any parser or type error into a diagnostic
/// with a position, the field path and a hint.
pub(crate) fn parse<T: DeserializeOwned>(source: &Arc<SourceFile>) -> Result<T, Box<Diagnostic>> {
    parse_with_path(source).map_err(|(d, _)| d)
}

/// What a file with type, value or key problems still gives: every problem, and the
/// document without the faulty parts when the rest reads (so the checks that come after can
/// report theirs too), with the field paths taken out.
pub(crate) struct Partial<T> {
    pub problems: Vec<Diagnostic>,
    pub repaired: Option<(T, Vec<String>)>,
}

/// Like `parse`, but a file whose syntax is right gets every type, value and key problem
/// at once (`more_problems`), not only the first: a newcomer fixes them in one go.
pub(crate) fn parse_all<T: DeserializeOwned>(source: &Arc<SourceFile>) -> Result<T, Partial<T>> {
    match parse_with_path(source) {
        Ok(value) => Ok(value),
        Err((first, None)) => Err(Partial { problems: vec![*first], repaired: None }),
        Err((first, Some(path))) => {
            let (more, repaired) = more_problems::<T>(source, &path);
            let mut problems = vec![*first];
            problems.extend(more);
            problems.sort_by_key(|d| d.span.map(|s| s.start));
            Err(Partial { problems, repaired })
        }
    }
}

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        duplicate_keys: DuplicateKeyPolicy::Error,
        strict_booleans: true,
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 10_000,
            max_replay_stack_depth: 16,
            max_alias_expansions_per_anchor: 100,
        },
    }
}

/// The first problem, with the field path serde was at when the problem is one of types,
/// values or keys (`None` for the parser's own: syntax, limits).
fn parse_with_path<T: DeserializeOwned>(source: &Arc<SourceFile>) -> Result<T, (Box<Diagnostic>, Option<String>)> {
    if source.text.trim().is_empty()
        || source.text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err((
            Box::new(
                Diagnostic::error("file is empty")
                    .at(source, Span::point(Pos { line: 1, column: 1 }))
                    .help("start from `chaton init`, or copy examples/amipo/hoster.yml"),
            ),
            None,
        ));
    }
    let path = std::cell::RefCell::new(None);
    let parsed = serde_saphyr::with_deserializer_from_str_with_options(&source.text, options(), |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            *path.borrow_mut() = Some(e.path().to_string());
            e.into_inner()
        })
    });
    parsed.map_err(|e| {
        let mut d = diagnostic_from(source, &e);
        // A missing key: the parser stops where the mapping ended (often inside the last
        // nested mapping); the path names the mapping that lacks it, so point there.
        if let (Some("."), true) = (path.borrow().as_deref(), d.message.starts_with("missing key")) {
            let key = d.message.trim_start_matches("missing key ").trim_matches('`').to_owned();
            d = d.at(source, Span::point(Pos { line: 1, column: 1 }));
            d.field = None;
            d.help = vec![format!("add `{key}:` at the top level of the file, without indentation")];
        } else if let (Some(path), true) = (path.borrow().as_deref(), d.message.starts_with("missing key")) {
            let locations = Locations::index(&source.text);
            if let Some(span) = locations.key(path).or_else(|| locations.value(path)) {
                d = d.at(source, span);
                d.field = Some(path.to_owned());
            }
        }
        let path = path.borrow().clone();
        (Box::new(d), path)
    })
}

/// The problems after the first, found by deserializing the document again as a plain
/// tree, taking out each faulty node and trying again. Reported: unknown keys, unknown
/// values, missing keys, and wrong types that are not a plain scalar read as text (a tree
/// types `1.0` as a number where the strict reader would have taken a string, so that one
/// is taken out in silence). A key missing only because a faulty value was taken out is not
/// reported twice.
#[allow(clippy::type_complexity)]
fn more_problems<T: DeserializeOwned>(
    source: &Arc<SourceFile>,
    first: &str,
) -> (Vec<Diagnostic>, Option<(T, Vec<String>)>) {
    use serde_path_to_error::Segment;
    let Ok(mut tree) = serde_saphyr::from_str_with_options::<serde_json::Value>(&source.text, options()) else {
        return (Vec::new(), None);
    };
    let locations = Locations::index(&source.text);
    let mut seen: Vec<String> = vec![first.to_owned()];
    let mut taken_out: Vec<String> = Vec::new();
    let mut found = Vec::new();
    let mut repaired = None;
    let mut structure_lost = false;
    for _ in 0..50 {
        let error = match serde_path_to_error::deserialize::<_, T>(&tree) {
            Ok(value) => {
                repaired = Some((value, taken_out.clone()));
                break;
            }
            Err(error) => error,
        };
        let segments: Vec<Segment> = error.path().iter().cloned().collect();
        let path = error.path().to_string();
        let raw = error.inner().to_string();
        let missing = raw.strip_prefix("missing field `").map(|r| r.trim_end_matches('`').to_owned());
        let caused_by_us = missing.as_ref().is_some_and(|key| {
            let child = if path == "." { key.clone() } else { format!("{path}.{key}") };
            taken_out.contains(&child)
        });
        let coerced = raw.starts_with("invalid type: ")
            && raw.contains("expected a string")
            && ["integer", "floating point", "boolean"].iter().any(|t| raw.starts_with(&format!("invalid type: {t}")));
        let this = match &missing {
            Some(key) if path != "." => format!("{path}.{key}"),
            Some(key) => key.clone(),
            None => path.clone(),
        };
        // Below the first problem's place, everything is noise of that one problem.
        let under_first =
            first == "." || path.starts_with(&format!("{first}.")) || path.starts_with(&format!("{first}["));
        if !caused_by_us && !coerced && !under_first && !seen.contains(&this) && !seen.contains(&path) {
            let (message, helps) = explain(&raw);
            let span = if missing.is_some() { locations.key(&path) } else { locations.value(&path) };
            let mut d = Diagnostic::error(message).at(source, span.unwrap_or(Span::FILE_START));
            if path != "." {
                d = d.field(path.clone());
            }
            for help in helps {
                d = d.help(help);
            }
            found.push(d);
        }
        seen.push(this);
        taken_out.push(path.clone());
        if missing.is_some() {
            // Taking out a whole mapping would make the checks after report things that are
            // not wrong (a server gone, so its services' `server:` unknown): they wait.
            structure_lost = true;
        }
        // An unknown value of a fixed set stands in for a known one, so what holds it stays
        // whole; anything else faulty is taken out (for a missing key, the mapping lacking it).
        let stand_in = raw.strip_prefix("unknown variant `").and_then(|rest| {
            let expected = rest.split_once("expected ")?.1;
            Some(expected.split('`').nth(1)?.to_owned())
        });
        // A misspelt key most likely meant the closest one: it is read as that, so the key it
        // meant is not reported missing as well.
        let meant = raw.strip_prefix("unknown field `").and_then(|rest| {
            let (given, expected) = rest.split_once("`, expected ")?;
            // `expected `a``, `expected `a` or `b``, `expected one of `a`, `b`, `c``.
            let allowed: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            let best = crate::vocab::suggest::closest(given, allowed.iter().copied())?;
            Some((given.to_owned(), best.to_owned()))
        });
        let went_on = match (stand_in, meant) {
            (Some(known), _) => replace(&mut tree, &segments, serde_json::Value::String(known)),
            (None, Some((given, best))) => rename(&mut tree, &segments, &given, &best),
            (None, None) => !segments.is_empty() && take_out(&mut tree, &segments),
        };
        if !went_on {
            break;
        }
    }
    if structure_lost {
        repaired = None;
    }
    (found, repaired)
}

/// Renames the key `from` to `to` in the mapping at `segments` (or its parent, when the path
/// ends at the key itself); false when there is no such key, or `to` is taken.
fn rename(tree: &mut serde_json::Value, segments: &[serde_path_to_error::Segment], from: &str, to: &str) -> bool {
    use serde_path_to_error::Segment;
    let parent = match segments.last() {
        Some(Segment::Map { key }) if key == from => &segments[..segments.len() - 1],
        _ => segments,
    };
    let Some(node) = node_at(tree, parent) else { return false };
    let serde_json::Value::Object(map) = node else { return false };
    if map.contains_key(to) {
        return false;
    }
    match map.remove(from) {
        Some(value) => {
            map.insert(to.to_owned(), value);
            true
        }
        None => false,
    }
}

/// Puts `value` in place of the node at `segments`; false when there is none.
fn replace(tree: &mut serde_json::Value, segments: &[serde_path_to_error::Segment], value: serde_json::Value) -> bool {
    let Some(node) = node_at(tree, segments) else { return false };
    *node = value;
    true
}

/// The node at `segments` in `tree`, if there is one.
fn node_at<'a>(
    tree: &'a mut serde_json::Value,
    segments: &[serde_path_to_error::Segment],
) -> Option<&'a mut serde_json::Value> {
    use serde_path_to_error::Segment;
    let mut node = tree;
    for segment in segments {
        node = match (segment, node) {
            (Segment::Map { key }, serde_json::Value::Object(map)) => map.get_mut(key)?,
            (Segment::Seq { index }, serde_json::Value::Array(items)) => items.get_mut(*index)?,
            (Segment::Enum { .. }, node) => node,
            _ => return None,
        };
    }
    Some(node)
}

/// Removes the node at `segments` from `tree`; false when there is none.
fn take_out(tree: &mut serde_json::Value, segments: &[serde_path_to_error::Segment]) -> bool {
    use serde_path_to_error::Segment;
    let Some((last, parents)) = segments.split_last() else { return false };
    let Some(node) = node_at(tree, parents) else { return false };
    match (last, node) {
        (Segment::Map { key }, serde_json::Value::Object(map)) => map.remove(key).is_some(),
        (Segment::Seq { index }, serde_json::Value::Array(items)) if *index < items.len() => {
            items.remove(*index);
            true
        }
        _ => false,
    }
}

fn diagnostic_from(source: &Arc<SourceFile>, error: &serde_saphyr::Error) -> Diagnostic {
    let raw = serde_saphyr::DefaultMessageFormatter.format_message(error).into_owned();
    let pos = error
        .location()
        .map(|l| Pos { line: l.line() as usize, column: l.column() as usize })
        .filter(|p| p.line > 0)
        .unwrap_or(Pos { line: 1, column: 1 });
    let (pos, (message, helps)) = match syntax(&source.text, &raw, pos) {
        Some((pos, explained)) => (pos, explained),
        None => (pos, explain(&raw)),
    };
    let mut d = Diagnostic::error(message).at(source, Span::point(pos));
    if let Some(path) = Locations::index(&source.text).path_at(pos).filter(|p| !p.is_empty()) {
        d = d.field(path);
    }
    for h in helps {
        d = d.help(h);
    }
    d
}

/// The parser's syntax errors a newcomer makes most, said in plain words with the fix, at the
/// place to fix: a tab in the indentation (found on its own line, which the parser may report
/// one line off), a `: ` inside an unquoted value, a line indented one space too far, a key
/// without its colon, a quote or bracket never closed.
fn syntax(text: &str, raw: &str, pos: Pos) -> Option<(Pos, (String, Vec<String>))> {
    let lines: Vec<&str> = text.lines().collect();
    let line_at = |n: usize| lines.get(n.wrapping_sub(1)).copied().unwrap_or("");
    if raw.starts_with("tabs disallowed") || raw.contains("found a tab") || raw.contains("found tab") {
        // The tab nearest to where the parser stopped, in the indentation of its line.
        let tab = [pos.line, pos.line + 1, pos.line.saturating_sub(1)].into_iter().find_map(|n| {
            let line = line_at(n);
            let indent = &line[..line.len() - line.trim_start().len()];
            indent.find('\t').map(|i| Pos { line: n, column: indent[..i].chars().count() + 1 })
        });
        let at = tab.unwrap_or(pos);
        // The snippet shows a tab as spaces: show the line with its tabs made visible too.
        let shown = line_at(at.line).replace('\t', "→");
        return Some((
            at,
            (
                format!("a tab in the indentation of line {} (column {})", at.line, at.column),
                vec![
                    "YAML indents with spaces only: replace the tab with spaces, as many as the lines around use"
                        .to_owned(),
                    format!("the line reads `{shown}` (→ is the tab)"),
                ],
            ),
        ));
    }
    if raw.starts_with("mapping values are not allowed") {
        let line = line_at(pos.line);
        let before: String = line.chars().take(pos.column.saturating_sub(1)).collect();
        if let Some((key, value)) = before.split_once(": ").filter(|(k, _)| !k.trim().is_empty()) {
            let key = key.trim_start().trim_start_matches("- ");
            let rest: String = line.chars().skip(before.chars().count()).collect();
            let value = format!("{}{}", value.trim_start(), rest);
            return Some((
                pos,
                (
                    "a `: ` inside a value that is not in quotes".to_owned(),
                    vec![format!("put the value in quotes: {key}: \"{}\"", value.trim_end().replace('"', "\\\""))],
                ),
            ));
        }
        return Some((
            Pos { line: pos.line, column: 1 },
            (
                "this line does not line up with the keys around it".to_owned(),
                vec![
                    "check its indentation against the line above: keys of one mapping start in the same column"
                        .to_owned(),
                ],
            ),
        ));
    }
    if raw.starts_with("simple key expected") || raw.contains("could not find expected ':'") {
        return Some((
            pos,
            (
                "a key without its colon".to_owned(),
                vec!["write `key: value`, with a colon and a space after the key".to_owned()],
            ),
        ));
    }
    if raw.starts_with("unclosed quote") {
        return Some((
            pos,
            (
                "a quote opened here is never closed".to_owned(),
                vec!["add the closing quote at the end of the value".to_owned()],
            ),
        ));
    }
    if let Some(bracket) = raw.strip_prefix("unclosed bracket '").and_then(|r| r.chars().next()) {
        let closing = if bracket == '[' { ']' } else { '}' };
        return Some((
            pos,
            (
                format!("a `{bracket}` opened here is never closed"),
                vec![format!("add the closing `{closing}`, or write the items one per line instead")],
            ),
        ));
    }
    None
}

/// Rewrites the parser's messages into plain words with hints.
fn explain(raw: &str) -> (String, Vec<String>) {
    if let Some((message, hint)) = raw.split_once(HINT_SEPARATOR) {
        return (message.to_owned(), vec![hint.to_owned()]);
    }
    if let Some(rest) = raw.strip_prefix("unknown field `") {
        return match rest.split_once("`, expected one of ") {
            Some((field, expected)) => unknown_name("key", field, expected),
            None => match rest.split_once("`, there are no fields") {
                Some((field, _)) => (format!("unknown key `{field}`: this mapping takes no keys"), vec![]),
                None => (raw.to_owned(), vec![]),
            },
        };
    }
    if let Some(rest) = raw.strip_prefix("unknown variant `") {
        if let Some((value, expected)) = rest.split_once("`, expected one of ") {
            return unknown_name("value", value, expected);
        }
        if let Some((value, expected)) = rest.split_once("`, expected ") {
            return unknown_name("value", value, expected);
        }
    }
    if let Some(rest) = raw.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(", set DuplicateKeyPolicy").next().unwrap_or(rest);
        return (
            format!("duplicate key `{key}`"),
            vec!["a key may appear only once in a mapping: keep one of them".to_owned()],
        );
    }
    if raw.starts_with("invalid boolean") {
        return (
            "not a boolean".to_owned(),
            vec!["write true or false (yes/no/on/off are not booleans here, to avoid surprises)".to_owned()],
        );
    }
    if raw.starts_with("multiple YAML documents") {
        return (
            "more than one YAML document in the file".to_owned(),
            vec![
                "a description is one document: remove the `---` separator and what follows it, or merge them"
                    .to_owned(),
            ],
        );
    }
    if raw.contains("alias") && (raw.contains("limit") || raw.contains("exceeded")) {
        return (
            format!("YAML aliases expand too much ({raw})"),
            vec!["aliases are limited to protect against \"billion laughs\" files; write the values out".to_owned()],
        );
    }
    if raw.starts_with("budget breached") {
        // serde-saphyr's parser budget (nesting depth, node count): its own words are Rust's.
        let what = if raw.contains("Depth") { "nested too deep" } else { "too large" };
        return (
            format!("the YAML here is {what} for a description"),
            vec!["a description nests a few levels only: check the brackets and the indentation here".to_owned()],
        );
    }
    if raw.starts_with("cannot deserialize null") {
        return (
            "a value is missing here".to_owned(),
            vec!["write a value after the colon, or remove the key".to_owned()],
        );
    }
    if let Some(kind) = raw.strip_prefix("invalid ").filter(|k| {
        k.len() <= 5 && (k.starts_with('u') || k.starts_with('i')) && k[1..].chars().all(|c| c.is_ascii_digit())
    }) {
        let range = match kind {
            "u8" => " from 0 to 255",
            "u16" => " from 0 to 65535",
            "u32" | "u64" => " (0 or more)",
            _ => "",
        };
        return (format!("expected a whole number{range}"), vec![]);
    }
    if raw == "expected sequence start" {
        return (
            "expected a list here".to_owned(),
            vec!["write one item per line, each starting with `- `".to_owned()],
        );
    }
    if raw == "expected mapping start" {
        return (
            "expected a mapping here".to_owned(),
            vec!["write `key: value` lines, indented under their parent".to_owned()],
        );
    }
    if let Some(rest) = raw.strip_prefix("missing field `") {
        let field = rest.trim_end_matches('`');
        return (format!("missing key `{field}`"), vec![format!("add `{field}:` to this mapping")]);
    }
    (raw.to_owned(), vec![])
}

/// "unknown key `nme`" with a did-you-mean and the list of allowed names.
fn unknown_name(what: &str, given: &str, expected: &str) -> (String, Vec<String>) {
    let allowed: Vec<&str> = expected.split(", ").map(|s| s.trim_matches('`')).collect();
    let mut helps = Vec::new();
    if let Some(best) = crate::vocab::suggest::closest(given, allowed.iter().copied()) {
        helps.push(format!("did you mean `{best}`?"));
    }
    helps.push(format!("expected one of: {}", allowed.join(", ")));
    (format!("unknown {what} {}", quoted(given)), helps)
}
