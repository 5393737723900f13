//! `chaton recipes list|show`: what recipes exist and what each one does.

use std::fmt::Write as _;
use std::path::Path;

use super::RecipesCommand;
use super::output::print_json;
use crate::diagnostic::{Diagnostic, quoted};
use crate::error::{Error, exit};
use crate::recipe::Catalogue;
use crate::recipe::catalogue::Origin;
use crate::recipe::model::RecipeKind;

pub(super) fn run(command: RecipesCommand, local: Option<&Path>) -> Result<u8, Error> {
    let mut catalogue = Catalogue::builtin()?;
    if let Some(dir) = local {
        catalogue = catalogue.with_local(dir)?;
    }
    match command {
        RecipesCommand::List { json } => {
            if json {
                let list: Vec<_> = catalogue.recipes().map(|r| &r.recipe).collect();
                print_json(&list)?;
            } else {
                // Two lines per recipe: what it is, then its software and licence, which can be
                // long (versions per release) and would push a table past any terminal.
                let mut out = String::new();
                let _ = writeln!(out, "{:<12} {:<15} summary\n{:<12} software, licence", "recipe", "kind", "");
                for loaded in catalogue.recipes() {
                    let r = &loaded.recipe;
                    let origin = if loaded.origin == Origin::Builtin { "" } else { " (local)" };
                    let _ = writeln!(out, "\n{:<12} {:<15} {}{origin}", r.name, kind_name(r.kind), r.summary.en);
                    let _ = writeln!(
                        out,
                        "{:<12} {} {} ({})",
                        "",
                        r.software.name,
                        r.software.version.summary(),
                        r.software.licence
                    );
                }
                out.push_str(&verification_table(&catalogue));
                print!("{out}");
            }
            Ok(exit::OK)
        }
        RecipesCommand::Show { name, json } => {
            let Some(loaded) = catalogue.get(&name) else {
                let names: Vec<&str> = catalogue.names().collect();
                let mut d = Diagnostic::error(format!("unknown recipe {}", quoted(&name)));
                if let Some(best) = crate::vocab::suggest::closest(&name, names.iter().copied()) {
                    d = d.help(format!("did you mean {}?", quoted(best)));
                }
                return Err(Error::Invalid(vec![d.help(format!("recipes: {}", names.join(", ")))]));
            };
            let r = &loaded.recipe;
            if json {
                print_json(r)?;
                return Ok(exit::OK);
            }
            let mut out = String::new();
            let _ = writeln!(out, "{} ({}) — {}", r.name, kind_name(r.kind), r.summary.en);
            let _ = writeln!(out, "  source file: {}", loaded.source.name);
            let s = &r.software;
            let _ = writeln!(out, "software: {} {} ({}), {}", s.name, s.version.summary(), s.licence, s.website);
            let _ = writeln!(out, "  source code: {}", s.source);
            let _ = writeln!(out, "personal data: {}", r.data.personal.en);
            let _ = writeln!(out, "log retention: {} day(s)", r.data.log_retention_days);
            if let Some(retention) = &r.data.retention {
                let _ = writeln!(out, "content retention (parameter `{}`): {}", retention.param, retention.after.en);
            }
            if let Some(releases) = &r.releases {
                let runs_on: Vec<&str> = releases.only.iter().map(|d| d.label()).collect();
                let _ = writeln!(out, "runs on: {} only ({})", runs_on.join(", "), releases.why);
            }
            if !r.requires.is_empty() {
                let _ = writeln!(out, "stands on: {}", r.requires.join(", "));
            }
            if let Some(export) = &r.data.export {
                let _ = writeln!(out, "data export: {} (formats: {})", export.how.en, export.formats.join(", "));
            }
            if !r.params.is_empty() {
                let _ = writeln!(out, "parameters:");
                for (name, p) in &r.params {
                    let default = p.default.as_ref().map_or("required".to_owned(), |d| format!("default {d}"));
                    let _ = writeln!(out, "  {name} ({:?}, {default}): {}", p.kind, p.description);
                }
            }
            if !r.ports.is_empty() {
                let _ = writeln!(out, "ports:");
                for p in &r.ports {
                    let number = p.port.map_or_else(
                        || format!("params.{}", p.port_param.as_deref().unwrap_or("?")),
                        |n| n.to_string(),
                    );
                    let _ = writeln!(out, "  {number}/{}{}", p.proto, if p.shared { " (shared)" } else { "" });
                }
            }
            let _ = writeln!(out, "resources:");
            for spec in &r.resources {
                let kind = spec.kind();
                let _ = writeln!(out, "  {kind}: {}", describe(spec));
            }
            if !r.handlers.is_empty() {
                let _ = writeln!(out, "handlers:");
                for h in &r.handlers {
                    let what = match (&h.service, &h.action, &h.run) {
                        (Some(unit), Some(action), _) => format!("{action:?} {unit}").to_lowercase(),
                        (_, _, Some(run)) => format!("run {}", run.join(" ")),
                        _ => String::new(),
                    };
                    let _ = writeln!(out, "  {}: {what}", h.name);
                }
            }
            if !r.checks.is_empty() {
                let _ = writeln!(out, "checks: {}", r.checks.len());
            }
            print!("{out}");
            Ok(exit::OK)
        }
    }
}

fn kind_name(kind: RecipeKind) -> &'static str {
    match kind {
        RecipeKind::Base => "base",
        RecipeKind::Service => "service",
        RecipeKind::Infrastructure => "infrastructure",
    }
}

/// What the end-to-end suite proved of each recipe, per Debian release, as it recorded it,
/// for this very code (`Catalogue::proof_digest`), and on what kind of servers.
fn verification_table(catalogue: &Catalogue) -> String {
    use crate::recipe::verification::{recorded, standing};
    let records = recorded();
    let releases = ["debian-12", "debian-13"];
    let mut out = String::from("\nWhat the end-to-end suite proved on real Debian servers (written by the suite):\n");
    let mut rows = Vec::new();
    let mut conditions: Vec<(String, Vec<String>)> = Vec::new();
    let mut audits: Vec<(String, String, String)> = Vec::new();
    for loaded in catalogue.recipes() {
        let name = &loaded.recipe.name;
        let digest = catalogue.proof_digest(name).unwrap_or_default();
        let runs_on =
            |release: &str| loaded.recipe.releases.as_ref().is_none_or(|r| r.only.iter().any(|d| d.name() == release));
        let mut seen: Vec<String> = Vec::new();
        let mut cell = |release: &str| match standing(&records, name, release, &digest) {
            _ if !runs_on(release) => "does not run there".to_owned(),
            Ok(None) => "not proved".to_owned(),
            Err(date) => format!("changed since proved ({date})"),
            Ok(Some(s)) => {
                seen.extend(s.conditions.iter().map(|c| (*c).to_owned()));
                if let Some(audit) = &s.audit {
                    audits.push((name.clone(), release.to_owned(), audit.summary()));
                }
                let levels = s.levels.iter().map(|l| l.label()).collect::<Vec<_>>().join(", ");
                match s.upstream.as_slice() {
                    [] => levels,
                    versions => format!("{levels} ({})", versions.join(", ")),
                }
            }
        };
        let (first, second) = (cell(releases[0]), cell(releases[1]));
        rows.push((name.clone(), first, second));
        seen.sort();
        seen.dedup();
        if !seen.is_empty() {
            conditions.push((name.clone(), seen));
        }
    }
    // The first release's column is as wide as its longest cell.
    let width = rows.iter().map(|(_, first, _)| first.chars().count()).max().unwrap_or(0).max(releases[0].len());
    let _ = writeln!(out, "{:<12} {:<width$} {}", "recipe", releases[0], releases[1]);
    for (name, first, second) in rows {
        let _ = writeln!(out, "{name:<12} {first:<width$} {second}");
    }
    if !audits.is_empty() {
        let _ = writeln!(out, "\nWhat outside auditors found (audited):");
        for (name, release, summary) in audits {
            let _ = writeln!(out, "  {name:<12} {release:<10} {summary}");
        }
    }
    if !conditions.is_empty() {
        let _ = writeln!(out, "\nProved on lab servers, which differ from yours in:");
        for (name, list) in conditions {
            let _ = writeln!(out, "  {name:<12} {}", list.join(", "));
        }
    }
    out
}

fn describe(spec: &crate::recipe::model::ResourceSpec) -> String {
    let mut text = readable(&spec.describe());
    if let Some(list) = spec.for_each() {
        text.push_str(&format!("  (one per item of {list})"));
    }
    text
}

/// A recipe's text as a reader takes it: `{{ service.name }}` shows as `<service.name>`,
/// and `{% ... %}` logic goes.
fn readable(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    loop {
        let next = [rest.find("{{"), rest.find("{%")].into_iter().flatten().min();
        let Some(start) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..start]);
        let (close, expression) = if rest[start..].starts_with("{{") { ("}}", true) } else { ("%}", false) };
        let Some(end) = rest[start + 2..].find(close) else {
            out.push_str(&rest[start..]);
            return out;
        };
        if expression {
            let inner = rest[start + 2..start + 2 + end].trim();
            out.push_str(&format!("<{inner}>"));
        }
        rest = &rest[start + 2 + end + 2..];
    }
}
