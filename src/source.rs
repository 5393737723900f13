//! A loaded source file (a description or a recipe) and positions inside it.
//!
//! Diagnostics keep an `Arc<SourceFile>` so they can show a snippet long after loading.

use std::sync::Arc;

/// The text of one file, with the name used in messages (the path as the user gave it).
#[derive(Debug)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Arc<Self> {
        Arc::new(Self { name: name.into(), text: text.into() })
    }

    /// Byte offset of a 1-based line and 1-based column (in characters), clamped to the text.
    pub fn offset_of(&self, pos: Pos) -> usize {
        let mut line_start = 0;
        for _ in 1..pos.line {
            match self.text[line_start..].find('\n') {
                Some(i) => line_start += i + 1,
                None => return self.text.len(),
            }
        }
        let line = &self.text[line_start..];
        let line = &line[..line.find('\n').unwrap_or(line.len())];
        let in_line = line.char_indices().nth(pos.column.saturating_sub(1)).map_or(line.len(), |(i, _)| i);
        line_start + in_line
    }
}

/// A position in a source file: 1-based line, 1-based column counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// A range in a source file; `end` is exclusive and may equal `start` for a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

impl Span {
    /// Line 1, column 1: where a problem without a better place is shown.
    pub const FILE_START: Span = Span { start: Pos { line: 1, column: 1 }, end: Pos { line: 1, column: 1 } };

    pub fn point(pos: Pos) -> Self {
        Self { start: pos, end: pos }
    }
}
