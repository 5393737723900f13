//! The built-in recipes load, are consistent, carry the charter metadata, and are what the
//! recipe schema for editors says.

mod support;

use std::path::Path;

use chaton::recipe::Catalogue;
use chaton::recipe::check::check_recipe;

#[test]
fn builtin_recipes_load_and_pass_their_own_checks() {
    let catalogue = Catalogue::builtin().unwrap_or_else(|d| panic!("{d:?}"));
    let names: Vec<&str> = catalogue.names().collect();
    assert!(names.contains(&"base") && names.contains(&"website"), "{names:?}");
    for loaded in catalogue.recipes() {
        let problems = check_recipe(loaded, &catalogue);
        assert!(problems.is_empty(), "{}: {problems:?}", loaded.recipe.name);
    }
}

#[test]
fn builtin_recipes_state_their_charter_metadata() {
    let catalogue = Catalogue::builtin().unwrap();
    for loaded in catalogue.recipes() {
        let r = &loaded.recipe;
        assert!(!r.software.licence.is_empty(), "{}", r.name);
        assert!(r.software.source.starts_with("https://"), "{}", r.name);
        assert!(!r.data.personal.en.is_empty() && !r.data.personal.fr.is_empty(), "{}", r.name);
    }
}

/// `data.retention` must name an integer parameter with a default: the charter pages state
/// its value.
#[test]
fn a_retention_naming_no_integer_parameter_is_refused_where_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("recipes")).unwrap();
    let recipe = |param: &str| {
        format!(
            "name: notes\nsummary: {{en: Notes, fr: Notes}}\nkind: service\n\
             software: {{name: Notes, version: '1', licence: MIT, website: https://example.org, source: https://example.org, install: distribution}}\n\
             data:\n  personal: {{en: Notes, fr: Notes}}\n  log_retention_days: 0\n  \
             retention:\n    param: {param}\n    after: {{en: 'After {{days}} days', fr: 'Après {{days}} jours'}}\n    \
             never: {{en: Kept, fr: Gardées}}\n\
             params:\n  keep_days: {{type: integer, description: Days, default: 30}}\n  label: {{type: string, description: Label, default: x}}\n"
        )
    };
    for (param, refused) in [("keep_days", false), ("label", true), ("kept_days", true)] {
        std::fs::write(dir.path().join("recipes/notes.yml"), recipe(param)).unwrap();
        let catalogue = Catalogue::builtin().unwrap().with_local(dir.path()).unwrap_or_else(|d| panic!("{d:?}"));
        let problems = check_recipe(catalogue.get("notes").unwrap(), &catalogue);
        let text = format!("{problems:?}");
        if refused {
            assert_eq!(problems.len(), 1, "{param}: {text}");
            assert!(text.contains("not an integer parameter with a default") && text.contains(param), "{text}");
            assert!(text.contains("start: Pos { line: 9, column: 12 }"), "{param}: the position of `param`: {text}");
        } else {
            assert!(problems.is_empty(), "{text}");
        }
    }
}

/// A handler is a unit to reload or restart, or a command, exactly one: anything else was
/// once planned as the command `false` (no action) or lost its command (both).
#[test]
fn a_handler_that_does_not_say_what_it_does_is_refused_at_its_position() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("recipes")).unwrap();
    let recipe = |handler: &str| {
        format!(
            "name: notes\nsummary: {{en: Notes, fr: Notes}}\nkind: service\n\
             software: {{name: Notes, version: '1', licence: MIT, website: https://example.org, source: https://example.org, install: distribution}}\n\
             data:\n  personal: {{en: Notes, fr: Notes}}\n  log_retention_days: 0\n\
             handlers:\n  - {handler}\n"
        )
    };
    for (handler, refused) in [
        ("{name: restart notes, service: notes, action: restart}", None),
        ("{name: tick, run: [touch, /tmp/x]}", None),
        ("{name: restart notes, service: notes}", Some("names a service but no action")),
        ("{name: restart notes, action: restart}", Some("has an action but no service")),
        (
            "{name: both, service: notes, action: reload, run: [true]}",
            Some("both acts on a service and runs a command"),
        ),
        ("{name: nothing}", Some("does not say what it does")),
    ] {
        std::fs::write(dir.path().join("recipes/notes.yml"), recipe(handler)).unwrap();
        let catalogue = Catalogue::builtin().unwrap().with_local(dir.path()).unwrap_or_else(|d| panic!("{d:?}"));
        let problems = check_recipe(catalogue.get("notes").unwrap(), &catalogue);
        let text = format!("{problems:?}");
        match refused {
            Some(message) => {
                assert_eq!(problems.len(), 1, "{handler}: {text}");
                assert!(text.contains(message), "{handler}: {text}");
                assert!(text.contains("line: 9"), "{handler}: at the handler's line: {text}");
            }
            None => assert!(problems.is_empty(), "{handler}: {text}"),
        }
    }
}

#[test]
fn the_recipe_and_proof_schemas_accept_every_built_in_one_and_reject_a_misspelt_key() {
    let dir = tempfile::tempdir().unwrap();
    let schema = |of: &str| {
        let out =
            std::process::Command::new(assert_cmd::cargo::cargo_bin("chaton")).args(["schema", of]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let path = dir.path().join(format!("{of}.schema.json"));
        std::fs::write(&path, &out.stdout).unwrap();
        path
    };
    let (recipe_schema, proof_schema) = (schema("recipe"), schema("proof"));
    let recipes = Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes");
    let mut read = 0;
    for folder in std::fs::read_dir(&recipes).unwrap().flatten().map(|e| e.path()) {
        for (file, schema) in [("recipe.yml", &recipe_schema), ("proof.yml", &proof_schema)] {
            if folder.join(file).exists() {
                let (ok, report) = support::validate_against_schema(schema, &folder.join(file));
                assert!(ok, "{}: {report}", folder.join(file).display());
                read += 1;
            }
        }
    }
    assert!(read >= 10, "{read} files read");

    let radicale = std::fs::read_to_string(recipes.join("radicale/recipe.yml")).unwrap();
    for (file, text, schema, typo) in [
        (
            "recipe.yml",
            radicale.replace("      notify: [restart radicale]", "      notfy: [restart radicale]"),
            &recipe_schema,
            "notfy",
        ),
        ("proof.yml", "services: []\nclients: []\nsetpu: []\n".to_owned(), &proof_schema, "setpu"),
    ] {
        let bad = dir.path().join(file);
        std::fs::write(&bad, text).unwrap();
        let (ok, report) = support::validate_against_schema(schema, &bad);
        assert!(!ok && report.contains(typo), "{file}: {report}");
    }
}

/// The base recipe's first security update, as the shell runs it on a server whose state
/// folder is `root`/var/lib, with a stand-in `unattended-upgrade` that writes down its call.
fn base_security_update(root: &Path) -> std::process::Output {
    let recipe =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes/base/recipe.yml")).unwrap();
    let line = recipe.lines().find(|l| l.contains("run: [sh, -c, '") && l.contains("unattended-upgrade")).unwrap();
    // The YAML single-quoted script, whole: from the first quote to the last.
    let script = &line[line.find('\'').unwrap() + 1..line.rfind('\'').unwrap()];
    assert!(!script.contains("''"), "the script has no escaped quote to undo: {script}");
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(root.join("var/lib/chaton")).unwrap();
    let stand_in = bin.join("unattended-upgrade");
    std::fs::write(&stand_in, format!("#!/bin/sh\necho \"$APT_CONFIG\" >> {}\n", root.join("calls").display()))
        .unwrap();
    std::fs::set_permissions(&stand_in, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::process::Command::new("sh")
        .arg("-c")
        .arg(script.replace("/var/lib/", &format!("{}/var/lib/", root.display())))
        .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()))
        .output()
        .unwrap()
}

#[test]
fn the_base_security_update_does_not_start_unattended_upgrade_after_an_install_that_took_them() {
    let marked = tempfile::tempdir().unwrap();
    // The package install of the same run left the mark (src/resource/package.rs).
    std::fs::create_dir_all(marked.path().join("var/lib/chaton")).unwrap();
    std::fs::write(marked.path().join("var/lib/chaton/security-updates-installed"), "").unwrap();
    let out = base_security_update(marked.path());
    assert!(out.status.success(), "{out:?}");
    assert!(!marked.path().join("calls").exists(), "unattended-upgrade was started for nothing");

    // No install took them: unattended-upgrade does, once, then the mark is left.
    let unmarked = tempfile::tempdir().unwrap();
    let out = base_security_update(unmarked.path());
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read_to_string(unmarked.path().join("calls")).unwrap().lines().count(), 1);
    assert!(unmarked.path().join("var/lib/chaton/security-updates-installed").exists());
}
