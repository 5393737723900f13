//! Java `.properties` files (ChatonsInfos is read by Java tooling): keys and values escaped
//! as `java.util.Properties.load` expects, ASCII only (`\uXXXX` for the rest).

use std::fmt::Write as _;

fn escape(text: &str, is_key: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0C}' => out.push_str("\\f"),
            '=' | ':' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            // Spaces separate a key from its value; in a value only a leading one is lost.
            ' ' if is_key || i == 0 => out.push_str("\\ "),
            c if (' '..='~').contains(&c) => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04X}");
                }
            }
        }
    }
    out
}

/// Renders `key = value` lines, with a comment header.
pub fn render(comment: &str, entries: &[(String, String)]) -> String {
    let mut out = String::new();
    for line in comment.lines() {
        let _ = writeln!(out, "# {}", escape(line, false));
    }
    for (key, value) in entries {
        let _ = writeln!(out, "{} = {}", escape(key, true), escape(value, false));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_java_expects() {
        assert_eq!(
            escape("Assoc. des Chatons: été = 🐱", false),
            "Assoc. des Chatons\\: \\u00E9t\\u00E9 \\= \\uD83D\\uDC31"
        );
        assert_eq!(escape(" leading\nnew line\\", false), "\\ leading\\nnew line\\\\");
        assert_eq!(escape("a key", true), "a\\ key");
        assert_eq!(render("", &[("k".into(), "v#1!".into())]), "k = v\\#1\\!\n");
    }
}
