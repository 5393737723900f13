//! The one place where values become POSIX shell text.
//!
//! Every argument is quoted here, whatever it contains (quotes, `$(...)`, newlines,
//! unicode). Standard input travels as base64 in a quoted here-document, so file contents
//! are never interpreted by the shell.

use std::borrow::Cow;

use base64::Engine as _;

use crate::command::Command;

/// Quotes one argument for a POSIX shell. Plain words stay as they are; anything else is
/// wrapped in single quotes, with embedded single quotes written as `'\''`.
pub fn quote(arg: &str) -> Cow<'_, str> {
    let plain = !arg.is_empty()
        && arg.chars().all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c))
        && !arg.starts_with('=');
    if plain { Cow::Borrowed(arg) } else { Cow::Owned(format!("'{}'", arg.replace('\'', r"'\''"))) }
}

/// Delimiter of the here-document that carries standard input; base64 never contains it.
const HEREDOC_END: &str = "CHATON_STDIN_END";

/// Renders one command as shell text (one line, plus here-document lines for stdin).
pub fn render(cmd: &Command) -> String {
    render_with_suffix(cmd, "")
}

/// Like [`render`], with `suffix` (such as `|| handle_failure`) appended to the command
/// line itself, before any here-document body.
pub fn render_with_suffix(cmd: &Command, suffix: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for (name, value) in &cmd.env {
        // Environment names are chosen by the code, never by users; still quote the value.
        words.push(format!("{name}={}", quote(value)));
    }
    words.extend(cmd.argv.iter().map(|a| quote(a).into_owned()));
    let line = format!("{}{suffix}", words.join(" "));
    match &cmd.stdin {
        None => line,
        Some(input) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(&input.0);
            let mut text = format!("base64 -d <<'{HEREDOC_END}' | {line}\n");
            for chunk in encoded.as_bytes().chunks(76) {
                text.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
                text.push('\n');
            }
            text.push_str(HEREDOC_END);
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_are_not_quoted() {
        assert_eq!(quote("nginx"), "nginx");
        assert_eq!(quote("/etc/nginx/nginx.conf"), "/etc/nginx/nginx.conf");
        assert_eq!(quote("DEBIAN_FRONTEND=x"), "DEBIAN_FRONTEND=x");
    }

    #[test]
    fn hostile_words_are_single_quoted() {
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a'; rm -rf / #"), r"'a'\''; rm -rf / #'");
        assert_eq!(quote("$(id)"), "'$(id)'");
        assert_eq!(quote("`id`"), "'`id`'");
        assert_eq!(quote("a\nb"), "'a\nb'");
        assert_eq!(quote("café"), "'café'");
        assert_eq!(quote("*"), "'*'");
        assert_eq!(quote("=x"), "'=x'");
    }

    #[test]
    fn quoted_words_survive_a_real_shell() {
        for hostile in ["a'; rm -rf / #", "$(id)", "`id`", "a\nb", "café 🐱", "\\", "'", "\"", "-n", "*", "~", "!x"]
        {
            let script = format!("printf '%s' {}", quote(hostile));
            let out = std::process::Command::new("sh").arg("-c").arg(&script).output().unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), hostile, "script: {script}");
        }
    }

    #[test]
    fn stdin_survives_a_real_shell() {
        let content = b"line 1\n$(id) 'quoted' `x`\nCHATON_STDIN_END\n\xff\x00binary".to_vec();
        let cmd = Command::new(["cat"]).stdin(content.clone());
        let out = std::process::Command::new("sh").arg("-c").arg(render(&cmd)).output().unwrap();
        assert_eq!(out.stdout, content);
    }
}
