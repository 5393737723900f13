//! An index from field paths (`services[2].domain`) to where they are written in the file.
//!
//! Serde gives positions only for the first syntax or type error. Semantic validation runs
//! on the typed value and names fields by path; this index, built from the YAML parser's
//! events, turns such a path back into a line and column for the snippet.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser, Span as YamlSpan};

use crate::source::{Pos, Span};

#[derive(Debug, Clone, Copy)]
struct Entry {
    key: Option<Span>,
    value: Span,
}

/// Positions of every key and value in one YAML document.
#[derive(Debug, Default)]
pub struct Locations {
    entries: HashMap<String, Entry>,
    /// Later occurrences of a path already indexed (a duplicate key): only for `path_at`.
    repeated: Vec<(String, Entry)>,
}

enum Frame {
    Mapping {
        path: String,
        key: Option<(String, Span)>,
    },
    Sequence {
        path: String,
        next: usize,
    },
    /// Content of a complex (non-scalar) mapping key: not addressable by a path.
    Opaque,
}

fn convert(span: &YamlSpan) -> Span {
    Span {
        start: Pos { line: span.start.line(), column: span.start.col() + 1 },
        end: Pos { line: span.end.line(), column: span.end.col() + 1 },
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_owned() } else { format!("{parent}.{key}") }
}

impl Locations {
    /// Indexes `text`. A YAML syntax error stops the indexing silently: such a file never
    /// reaches semantic validation, the parser's own error is reported instead.
    pub fn index(text: &str) -> Self {
        let mut entries: HashMap<String, Entry> = HashMap::new();
        let mut repeated = Vec::new();
        let mut stack: Vec<Frame> = Vec::new();
        for event in Parser::new_from_str(text) {
            let Ok((event, span)) = event else { break };
            let span = convert(&span);
            let is_node = matches!(
                event,
                Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..) | Event::Alias(..)
            );
            if is_node {
                // Where does this node sit? Decide from the parent frame.
                let path = match stack.last_mut() {
                    None => Some((String::new(), None)),
                    Some(Frame::Opaque) => None,
                    Some(Frame::Sequence { path, next }) => {
                        let p = format!("{path}[{next}]");
                        *next += 1;
                        Some((p, None))
                    }
                    Some(Frame::Mapping { path, key }) => match key.take() {
                        Some((k, key_span)) => Some((join(path, &k), Some(key_span))),
                        None => {
                            // This node is a key.
                            if let Event::Scalar(text, ..) = &event {
                                *key = Some((text.to_string(), span));
                                continue;
                            }
                            *key = Some(("?".to_owned(), span));
                            stack.push(Frame::Opaque);
                            if matches!(event, Event::SequenceStart(..) | Event::MappingStart(..)) {
                                continue;
                            }
                            stack.pop();
                            continue;
                        }
                    },
                };
                if let Some((path, key)) = &path {
                    let entry = Entry { key: *key, value: span };
                    if entries.contains_key(path) {
                        repeated.push((path.clone(), entry));
                    } else {
                        entries.insert(path.clone(), entry);
                    }
                }
                match event {
                    Event::MappingStart(..) => stack.push(match path {
                        Some((path, _)) => Frame::Mapping { path, key: None },
                        None => Frame::Opaque,
                    }),
                    Event::SequenceStart(..) => stack.push(match path {
                        Some((path, _)) => Frame::Sequence { path, next: 0 },
                        None => Frame::Opaque,
                    }),
                    _ => {}
                }
            } else if matches!(event, Event::MappingEnd | Event::SequenceEnd) {
                stack.pop();
            } else if matches!(event, Event::DocumentEnd) {
                break;
            }
        }
        Self { entries, repeated }
    }

    /// Span of the value at `path`, or of its nearest written ancestor (a missing field is
    /// reported on the mapping that should hold it).
    pub fn value(&self, path: &str) -> Option<Span> {
        self.nearest(path).map(|e| e.value)
    }

    /// Span of the key that introduces `path` (falls back like [`Self::value`]).
    pub fn key(&self, path: &str) -> Option<Span> {
        self.nearest(path).map(|e| e.key.unwrap_or(e.value))
    }

    /// Whether `path` itself is written in the file.
    pub fn contains(&self, path: &str) -> bool {
        self.entries.contains_key(path)
    }

    /// The path of the key or value written at `pos`, if any (for parser errors, which come
    /// with a position but no path). Prefers the deepest path.
    pub fn path_at(&self, pos: Pos) -> Option<String> {
        self.entries
            .iter()
            .chain(self.repeated.iter().map(|(p, e)| (p, e)))
            .filter(|(_, e)| e.key.map(|k| k.start) == Some(pos) || e.value.start == pos)
            .map(|(path, _)| path)
            .max_by_key(|path| (path.len(), path.as_str()))
            .cloned()
    }

    fn nearest(&self, path: &str) -> Option<&Entry> {
        let mut current = path;
        loop {
            if let Some(entry) = self.entries.get(current) {
                return Some(entry);
            }
            let cut = current.rfind(['.', '['])?;
            current = &current[..cut];
            if current.is_empty() {
                return self.entries.get("");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "organisation:\n  name: A\nservices:\n  - name: site\n    domain: a.example\n  - {name: b, domain: b.example}\n";

    #[test]
    fn finds_nested_values_and_keys() {
        let loc = Locations::index(DOC);
        let v = loc.value("services[0].domain").unwrap();
        assert_eq!((v.start.line, v.start.column), (5, 13));
        let k = loc.key("services[0].domain").unwrap();
        assert_eq!((k.start.line, k.start.column), (5, 5));
        let v = loc.value("services[1].domain").unwrap();
        assert_eq!((v.start.line, v.start.column), (6, 23));
    }

    #[test]
    fn missing_paths_fall_back_to_their_parent() {
        let loc = Locations::index(DOC);
        let v = loc.value("organisation.website").unwrap();
        assert_eq!(v.start.line, 2);
        assert!(!loc.contains("organisation.website"));
    }
}
