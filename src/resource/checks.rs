//! The value checks a spec's conversion makes once its strings are rendered: a bad value is
//! refused with a sentence saying why, reported at the recipe field it came from.

use crate::diagnostic::quoted;
use crate::vocab::values::{is_safe_path, is_unix_name};

pub fn text(text: &str, what: &str) -> Result<(), String> {
    if text.is_empty() || text.contains('\0') || text.contains('\n') {
        return Err(format!("{what} {} is empty or has a NUL byte or a line break", quoted(text)));
    }
    Ok(())
}

pub fn sql_identifier(name: &str) -> Result<(), String> {
    if super::postgres::is_sql_identifier(name) {
        Ok(())
    } else {
        Err(format!(
            "{} is not a PostgreSQL name chaton accepts: lowercase letters, digits and `_`, starting with a letter or `_`, at most 63",
            quoted(name)
        ))
    }
}

pub fn path(path: &str) -> Result<(), String> {
    text(path, "path")?;
    if !is_safe_path(path) || (path.len() > 1 && path.ends_with('/')) {
        return Err(format!("{} is not an absolute path without `..`", quoted(path)));
    }
    Ok(())
}

pub fn unix_name(name: &str) -> Result<(), String> {
    if is_unix_name(name) { Ok(()) } else { Err(format!("{} is not a valid Unix user or group name", quoted(name))) }
}

pub fn owner(owner: &str, group: &str) -> Result<(), String> {
    unix_name(owner)?;
    unix_name(group)
}

pub fn package_name(name: &str) -> Result<(), String> {
    let ok = name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+.-".contains(c));
    if ok { Ok(()) } else { Err(format!("{} is not a Debian package name", quoted(name))) }
}

pub fn unit_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || ":_.@-".contains(c));
    if ok { Ok(()) } else { Err(format!("{} is not a systemd unit name", quoted(name))) }
}

pub fn argv(argv: &[String]) -> Result<(), String> {
    if argv.is_empty() {
        return Err("a command needs at least a program".into());
    }
    if let Some(bad) = argv.iter().find(|a| a.contains('\0')) {
        return Err(format!("command argument {} has a NUL byte", quoted(bad)));
    }
    Ok(())
}
