//! User-facing problems with a place in a file: message, `file:line:col`, a snippet with a
//! caret, the field path (`services[2].domain`) and hints.
//!
//! Every stage that reads user input reports through this type, so errors look the same
//! whether they come from YAML parsing, semantic validation or a recipe template.

use std::fmt::Write as _;
use std::sync::Arc;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

use crate::source::{Pos, SourceFile, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in user input.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub source: Option<Arc<SourceFile>>,
    pub span: Option<Span>,
    /// Path of the offending field in the document, such as `services[2].domain`.
    pub field: Option<String>,
    pub help: Vec<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            message: message.into(),
            source: None,
            span: None,
            field: None,
            help: Vec::new(),
        }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(message) }
    }

    pub fn at(mut self, source: &Arc<SourceFile>, span: Span) -> Self {
        self.source = Some(Arc::clone(source));
        self.span = Some(span);
        self
    }

    pub fn in_file(mut self, source: &Arc<SourceFile>) -> Self {
        self.source = Some(Arc::clone(source));
        self
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help.push(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col`, or just the file name when the problem has no position.
    pub fn location(&self) -> Option<String> {
        let source = self.source.as_ref()?;
        Some(match self.span {
            Some(span) => format!("{}:{}:{}", source.name, span.start.line, span.start.column),
            None => source.name.clone(),
        })
    }

    /// Renders the diagnostic as text, with ANSI colours when `color` is true.
    pub fn render(&self, color: bool) -> String {
        self.render_in(color, crate::i18n::Lang::En)
    }

    /// [`Self::render`] in a language (see `i18n`).
    pub fn render_in(&self, color: bool, lang: crate::i18n::Lang) -> String {
        let tr = |text: &str| crate::i18n::translate(lang, text);
        let renderer = if color { Renderer::styled() } else { Renderer::plain() };
        let level = match self.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let message = tr(&sanitize(&self.message));
        let label = self.field.as_deref().map(|f| tr(&format!("in `{}`", sanitize(f))));
        let window = match (&self.source, self.span) {
            (Some(source), Some(span)) => Some(SnippetWindow::around(source, span)),
            _ => None,
        };
        let name = self.source.as_ref().map(|s| s.name.as_str());
        let mut group = Group::with_title(level.primary_title(message.as_str()));
        if let Some(w) = &window {
            let mut annotation = AnnotationKind::Primary.span(w.range.clone());
            if let Some(label) = &label {
                annotation = annotation.label(label.as_str());
            }
            group = group.element(
                Snippet::source(w.text.as_str())
                    .line_start(w.first_line)
                    .path(name.unwrap_or("<input>"))
                    .annotation(annotation),
            );
        }
        let helps: Vec<String> = self.help.iter().map(|h| tr(&sanitize(h))).collect();
        for h in &helps {
            group = group.element(Level::HELP.message(h.as_str()));
        }
        let mut out = renderer.render(&[group]).to_string();
        if window.is_none() {
            if let Some(loc) = self.location() {
                let _ = write!(out, "\n --> {loc}");
            }
            if let Some(field) = &self.field {
                let _ = write!(out, "\n  = field: {}", sanitize(field));
            }
        }
        out
    }
}

/// The line shown for a problem. annotate-snippets trims long lines around the caret by
/// itself (and keeps the true column in the header), so the whole line is passed.
struct SnippetWindow {
    text: String,
    first_line: usize,
    range: std::ops::Range<usize>,
}

impl SnippetWindow {
    fn around(source: &SourceFile, span: Span) -> Self {
        let line_start = source.offset_of(Pos { line: span.start.line, column: 1 });
        let rest = &source.text[line_start..];
        let line = &rest[..rest.find('\n').unwrap_or(rest.len())];
        let col = span.start.column.saturating_sub(1);
        let end_col =
            if span.end.line == span.start.line { span.end.column.saturating_sub(1).max(col) } else { usize::MAX };
        // Control characters would garble the terminal: shown as U+FFFD, one char for one.
        let mut text = String::with_capacity(line.len());
        let (mut start, mut end) = (None, None);
        for (i, c) in line.chars().enumerate() {
            if i == col {
                start = Some(text.len());
            }
            if i == end_col {
                end = Some(text.len());
            }
            text.push(if c.is_control() && c != '\t' { '\u{FFFD}' } else { c });
        }
        let start = start.unwrap_or(text.len());
        let end = end.unwrap_or(text.len()).max(start);
        Self { text, first_line: span.start.line, range: start..end }
    }
}

/// Makes user-controlled text safe to print: control characters (newlines, escape
/// sequences) are shown escaped so a hostile value cannot forge output lines or colours.
pub fn sanitize(text: &str) -> String {
    text.chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect()
}

/// Quotes a user value for a message: escaped, and truncated when long.
pub fn quoted(value: &str) -> String {
    const MAX: usize = 60;
    let clean = sanitize(value);
    if clean.chars().count() > MAX {
        format!("\"{}…\"", clean.chars().take(MAX).collect::<String>())
    } else {
        format!("\"{clean}\"")
    }
}

/// Machine-readable form of a diagnostic, for `--json`.
#[derive(Debug, Serialize)]
pub struct DiagnosticJson<'a> {
    pub severity: Severity,
    pub message: &'a str,
    pub file: Option<&'a str>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub field: Option<&'a str>,
    pub help: &'a [String],
}

impl<'a> From<&'a Diagnostic> for DiagnosticJson<'a> {
    fn from(d: &'a Diagnostic) -> Self {
        Self {
            severity: d.severity,
            message: &d.message,
            file: d.source.as_ref().map(|s| s.name.as_str()),
            line: d.span.map(|s| s.start.line),
            column: d.span.map(|s| s.start.column),
            field: d.field.as_deref(),
            help: &d.help,
        }
    }
}
