//! The command line on the shipped example and on small local recipe folders: check, plan
//! offline (text and JSON), render, recipes, exit codes.

use std::collections::BTreeMap;
use std::path::Path;

use assert_cmd::Command;

mod support;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/amipo/hoster.yml");

fn chaton() -> Command {
    let mut cmd = Command::cargo_bin("chaton").unwrap();
    cmd.env_remove("NO_COLOR").env("LC_ALL", "C");
    cmd
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = chaton().args(args).output().unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn the_example_is_valid() {
    let (code, _, stderr) = run(&["check", EXAMPLE]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("is valid: 2 server(s), 6 service(s)"), "{stderr}");
}

#[test]
fn offline_plan_lists_every_resource_of_every_server() {
    let (code, stdout, stderr) = run(&["plan", EXAMPLE, "--offline", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
    let servers = plan["servers"].as_array().unwrap();
    assert_eq!(servers.iter().map(|s| s["server"].as_str().unwrap()).collect::<Vec<_>>(), ["pangolin", "loutre"]);

    let (_, text, _) = run(&["plan", EXAMPLE, "--offline", "--color", "never"]);
    // The example's home server, and how it is reached.
    assert_eq!(servers[1]["relay"], "pangolin");
    assert!(
        text.contains(
            "server loutre (offline: assuming a fresh Debian 13 (trixie); at home, reached through its relay pangolin)\n"
        ),
        "{text}"
    );
    assert!(text.contains("server pangolin (offline: assuming a fresh Debian 12 (bookworm))\n"), "{text}");
    for server in servers {
        let changes = server["changes"].as_array().unwrap();
        let unchanged = server["unchanged"].as_array().unwrap();
        assert!(changes.len() > 20, "{}", server["server"]);
        // Every resource appears once, as a change or as already desired.
        let mut seen = BTreeMap::new();
        for id in changes.iter().map(|c| &c["resource"]).chain(unchanged) {
            let key = format!("{} {}", id["kind"].as_str().unwrap(), id["name"].as_str().unwrap());
            *seen.entry(key).or_insert(0) += 1;
        }
        assert!(seen.values().all(|n| *n == 1), "{seen:?}");
        // One apt run for every recipe's packages, at the place of the first.
        let installs: Vec<&str> = changes
            .iter()
            .filter(|c| c["resource"]["kind"] == "package" && c["action"] != "delete")
            .map(|c| c["resource"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(installs.len(), 1, "{installs:?}");
        for package in ["sudo", "needrestart", "nginx", "borgbackup"] {
            assert!(installs[0].split(' ').any(|n| n == package), "{package} missing from {installs:?}");
        }
        // The text plan shows each change.
        for change in changes {
            let line = format!(
                "{} {}",
                change["resource"]["kind"].as_str().unwrap(),
                change["resource"]["name"].as_str().unwrap()
            );
            assert!(text.contains(&line), "missing `{line}` in text plan");
        }
    }
    // The resources the example needs are there.
    for needle in [
        "package sudo nftables unattended-upgrades systemd-timesyncd needrestart",
        "+ user camille",
        "+ file /etc/ssh/sshd_config.d/chaton.conf",
        "+ file /etc/nftables.conf",
        "libpam-pwquality apt-listchanges nginx dehydrated openssl",
        "+ file /etc/nginx/sites-available/chaton-site.conf",
        "+ link /etc/nginx/sites-enabled/chaton-wiki.conf",
        "+ file /etc/nginx/chaton/sites/wiki.conf",
        "+ file /etc/motd",
        "+ firewall_port 80/tcp",
        "+ firewall_port 443/tcp",
        "then reload nginx",
        "then obtain certificates",
    ] {
        assert!(text.contains(needle), "missing `{needle}`");
    }
    assert!(text.contains("Plan: "), "{text}");
    assert!(!text.contains('\x1b'), "colour codes with --color never");
}

#[test]
fn offline_plan_json_has_no_file_contents() {
    // Commands carry stdin as size and digest only.
    let (_, stdout, _) = run(&["plan", EXAMPLE, "--offline", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let mut inputs = 0;
    for server in plan["servers"].as_array().unwrap() {
        for change in server["changes"].as_array().unwrap() {
            for command in change["commands"].as_array().unwrap() {
                if let Some(stdin) = command.get("stdin") {
                    let keys: Vec<&String> = stdin.as_object().unwrap().keys().collect();
                    assert_eq!(keys, ["bytes", "sha256"]);
                    inputs += 1;
                }
            }
        }
    }
    assert!(inputs > 10);
}

#[test]
fn detailed_exitcode_says_there_are_changes_and_out_saves_the_same_plan() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("plan.json");
    let (code, stdout, _) =
        run(&["plan", EXAMPLE, "--offline", "--json", "--detailed-exitcode", "--out", saved.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(std::fs::read_to_string(&saved).unwrap().trim(), stdout.trim());
}

#[test]
fn explain_gives_a_reason_per_change() {
    let (_, text, _) = run(&["plan", EXAMPLE, "--offline", "--explain"]);
    assert!(text.contains("why: nginx is not installed"), "{text}");
    assert!(text.contains("why: /etc/nftables.conf does not exist"), "{text}");
}

#[test]
fn rendering_twice_gives_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        let (code, _, stderr) = run(&["render", EXAMPLE, "--out", out.to_str().unwrap()]);
        assert_eq!(code, 0, "{stderr}");
    }
    let (fa, fb) = (support::read_tree(&a), support::read_tree(&b));
    assert!(fa.len() > 15);
    assert_eq!(fa, fb);
    let nft = String::from_utf8(fa[Path::new("pangolin/etc/nftables.conf")].clone()).unwrap();
    assert!(nft.contains("tcp dport 22 accept") && nft.contains("tcp dport 80 accept"), "{nft}");
    assert!(nft.contains("policy drop"));
    let sshd = String::from_utf8(fa[Path::new("pangolin/etc/ssh/sshd_config.d/chaton.conf")].clone()).unwrap();
    assert!(sshd.contains("PasswordAuthentication no") && sshd.contains("PermitRootLogin no"), "{sshd}");
}

#[test]
fn render_refuses_to_overwrite_a_folder_it_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("pangolin")).unwrap();
    std::fs::write(dir.path().join("pangolin/precious.txt"), "keep me").unwrap();
    let (code, _, stderr) = run(&["render", EXAMPLE, "--out", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("was not written by `chaton render`"), "{stderr}");
    assert_eq!(std::fs::read_to_string(dir.path().join("pangolin/precious.txt")).unwrap(), "keep me");
}

#[test]
fn recipes_list_and_show() {
    let (code, stdout, _) = run(&["recipes", "list"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("base") && stdout.contains("website") && stdout.contains("BSD-2-Clause"), "{stdout}");
    // Each recipe has a line in the table of what the suite proved, per release.
    let table = stdout.split("What the end-to-end suite proved").nth(1).expect("the verification table");
    for recipe in ["base", "web", "website", "postgresql", "backups", "wireguard", "radicale", "nextcloud", "etherpad"]
    {
        assert!(table.lines().any(|l| l.starts_with(&format!("{recipe} "))), "{recipe}: {table}");
    }
    let (code, stdout, _) = run(&["recipes", "show", "website"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("software: nginx") && stdout.contains("stands on: web"), "{stdout}");
    // A recipe limited to some releases says so, and the table does not call it unproved there.
    let etherpad = table.lines().find(|l| l.starts_with("etherpad ")).unwrap();
    assert!(etherpad.contains("does not run there"), "{etherpad}");
    let (code, stdout, _) = run(&["recipes", "show", "etherpad"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("content retention (parameter `pad_retention_days`): Pads nobody has edited for {days} days"),
        "{stdout}"
    );
    assert!(stdout.contains("runs on: Debian 13 (trixie) only (Etherpad 2.3 needs Node.js 20.18"), "{stdout}");
    let (code, stdout, _) = run(&["recipes", "show", "web"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("handlers:") && stdout.contains("obtain certificates"), "{stdout}");
    // Resources read as a reader takes them: no template syntax, one line each.
    let (code, stdout, _) = run(&["recipes", "show", "base"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("  user: <item.login>  (one per item of admins)\n"), "{stdout}");
    assert!(!stdout.contains("{{") && !stdout.contains("{%"), "{stdout}");
    let resources = stdout.split("resources:").nth(1).unwrap().split("handlers:").next().unwrap();
    assert!(resources.lines().all(|l| l.chars().count() < 140), "{resources}");
    let (code, stdout, _) = run(&["recipes", "show", "website", "--json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["software"]["licence"], "BSD-2-Clause");
    let (code, _, stderr) = run(&["recipes", "show", "webiste"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("did you mean \"website\"?"), "{stderr}");
}

#[test]
fn help_documents_the_exit_codes() {
    let (code, stdout, _) = run(&["plan", "--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("Exit codes:") && stdout.contains("2  with --detailed-exitcode"), "{stdout}");
    assert!(stdout.contains("64 the command line is wrong"), "{stdout}");
}

#[test]
fn a_wrong_command_line_is_not_mistaken_for_pending_changes() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/amipo/hoster.yml");
    for args in [&["plan", example, "--offline", "--detailed-exitcod"][..], &["plan"][..], &[][..], &["plna"][..]] {
        let (code, _, stderr) = run(args);
        assert_eq!(code, 64, "{args:?}: {stderr}");
    }
    let (code, stdout, _) = run(&["--version"]);
    assert_eq!(code, 0, "{stdout}");
    let (code, _, _) = run(&["plan", example, "--offline", "--detailed-exitcode"]);
    assert_eq!(code, 2, "the example's plan has changes");
}

#[test]
fn colours_only_when_asked() {
    let bad = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/bad/unknown-recipe.yml");
    let (_, _, plain) = run(&["check", bad]);
    assert!(!plain.contains('\x1b'));
    let (_, _, coloured) = run(&["check", "--color", "always", bad]);
    assert!(coloured.contains('\x1b'));
}

/// A local recipes folder (one folder per recipe) next to a copy of the valid corpus
/// description.
fn local_setup(recipe: &str, template: Option<(&str, &str)>, services: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let valid = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/valid.yml")).unwrap();
    let mut text = valid.replace("backups:", &format!("{services}backups:"));
    text.push_str("recipes_dir: local\n");
    std::fs::write(dir.path().join("hoster.yml"), text).unwrap();
    let name = recipe.lines().find_map(|l| l.strip_prefix("name: ")).unwrap();
    std::fs::create_dir_all(dir.path().join(format!("local/recipes/{name}"))).unwrap();
    std::fs::write(dir.path().join(format!("local/recipes/{name}/recipe.yml")), recipe).unwrap();
    if let Some((path, text)) = template {
        // `vpn/wg.conf` is recipes/vpn/templates/wg.conf.
        let (folder, file) = path.split_once('/').unwrap();
        let full = dir.path().join(format!("local/recipes/{folder}/templates/{file}"));
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    dir
}

const VPN_RECIPE: &str = "name: vpn
summary: {en: A VPN, fr: Un VPN}
kind: service
software: {name: WireGuard, version: '1.0', licence: GPL-2.0-only, website: https://www.wireguard.com, source: https://git.zx2c4.com/wireguard-tools, install: distribution}
data:
  personal: {en: Peer keys, fr: Clés des pairs}
  log_retention_days: 0
params:
  port: {type: integer, description: UDP port, default: 51820, min: 1, max: 65535}
ports:
  - port_param: port
    proto: udp
resources:
  - file:
      path: /etc/wireguard/{{ service.name }}.conf
      template: vpn/wg.conf
      mode: \"0600\"
      sensitive: true
";

#[test]
fn two_services_cannot_share_an_exclusive_port() {
    let services =
        "  - name: vpn1\n    recipe: vpn\n    server: alpha\n  - name: vpn2\n    recipe: vpn\n    server: alpha\n";
    let dir = local_setup(VPN_RECIPE, Some(("vpn/wg.conf", "[Interface]\nListenPort = {{ params.port }}\n")), services);
    let file = dir.path().join("hoster.yml");
    let (code, _, stderr) = run(&["check", "--color", "never", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("port 51820/udp on server \"alpha\" is already used by services[1] (vpn1)"), "{stderr}");
    assert!(stderr.contains("set `params.port` to another port"), "{stderr}");

    // With another port it is valid, and the sensitive file is never shown.
    let fixed = services.replace(
        "  - name: vpn2\n    recipe: vpn\n    server: alpha\n",
        "  - name: vpn2\n    recipe: vpn\n    server: alpha\n    params:\n      port: 51821\n",
    );
    let dir = local_setup(VPN_RECIPE, Some(("vpn/wg.conf", "[Interface]\nListenPort = {{ params.port }}\n")), &fixed);
    let file = dir.path().join("hoster.yml");
    let (code, _, stderr) = run(&["check", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let (_, text, _) = run(&["plan", file.to_str().unwrap(), "--offline", "--diff"]);
    assert!(text.contains("+ firewall_port 51821/udp"), "{text}");
    assert!(text.contains("(sensitive content not shown)"), "{text}");
    assert!(!text.contains("ListenPort"), "{text}");
    let out = dir.path().join("rendered");
    run(&["render", file.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let rendered = std::fs::read_to_string(out.join("alpha/etc/wireguard/vpn2.conf")).unwrap();
    assert!(!rendered.contains("ListenPort"));
}

#[test]
fn a_template_error_points_at_the_template_file_and_line() {
    let services = "  - name: vpn1\n    recipe: vpn\n    server: alpha\n";
    let dir = local_setup(
        VPN_RECIPE,
        Some(("vpn/wg.conf", "[Interface]\n# comment\nListenPort = {{ params.prot }}\n")),
        services,
    );
    let file = dir.path().join("hoster.yml");
    let (code, _, stderr) = run(&["check", "--color", "never", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("template error"), "{stderr}");
    assert!(stderr.contains("local/recipes/vpn/templates/wg.conf:3:"), "{stderr}");
}

#[test]
fn a_bad_local_recipe_is_reported_in_its_own_file() {
    let bad = VPN_RECIPE.replace("mode: \\\"0600\\\"", "mode: 600").replace("mode: \"0600\"", "mode: 600");
    let dir = local_setup(&bad, Some(("vpn/wg.conf", "x\n")), "");
    let (code, _, stderr) = run(&["check", "--color", "never", dir.path().join("hoster.yml").to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("local/recipes/vpn/recipe.yml:17:13"), "{stderr}");
    assert!(stderr.contains("quote it: mode: \"0600\""), "{stderr}");
}

#[test]
fn a_recipe_file_where_none_is_read_is_refused_and_the_earlier_layout_still_reads() {
    let dir = local_setup(VPN_RECIPE, Some(("vpn/wg.conf", "x\n")), "");
    let local = dir.path().join("local");
    let file = dir.path().join("hoster.yml");
    std::fs::rename(local.join("recipes/vpn/recipe.yml"), local.join("recipes/vpn/recipe.yaml")).unwrap();
    let (code, _, stderr) = run(&["check", "--color", "never", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("recipes/vpn/recipe.yaml\" is not where a recipe is read"), "{stderr}");
    assert!(stderr.contains("`recipes/NAME/recipe.yml` and `recipes/NAME/templates/...`"), "{stderr}");

    // `recipes/NAME.yml` beside `templates/NAME/`, as local folders were first laid out.
    std::fs::rename(local.join("recipes/vpn/recipe.yaml"), local.join("recipes/vpn.yml")).unwrap();
    std::fs::create_dir_all(local.join("templates")).unwrap();
    std::fs::rename(local.join("recipes/vpn/templates"), local.join("templates/vpn")).unwrap();
    std::fs::remove_dir(local.join("recipes/vpn")).unwrap();
    let services = "  - name: vpn1\n    recipe: vpn\n    server: alpha\n";
    let text = std::fs::read_to_string(&file).unwrap().replace("backups:", &format!("{services}backups:"));
    std::fs::write(&file, text).unwrap();
    let (code, _, stderr) = run(&["check", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_local_recipe_notifying_an_unknown_handler_is_refused() {
    let bad = format!("{VPN_RECIPE}      notify: [restart wireguard]\n");
    let dir = local_setup(&bad, Some(("vpn/wg.conf", "x\n")), "");
    let (code, _, stderr) = run(&["check", "--color", "never", dir.path().join("hoster.yml").to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no handler named \"restart wireguard\""), "{stderr}");
}

#[test]
fn publishing_the_charter_site_needs_a_pinned_date() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(EXAMPLE).unwrap().replace("  updated: 2026-11-25\n", "");
    let file = dir.path().join("hoster.yml");
    std::fs::write(&file, text).unwrap();
    let (code, _, stderr) = run(&["check", "--color", "never", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("publishing the charter site needs `site: updated: YYYY-MM-DD`"), "{stderr}");
    // Without the site on the website, no date is needed.
    let text =
        std::fs::read_to_string(&file).unwrap().replace("      charter_site: true\n", "      charter_site: false\n");
    std::fs::write(&file, text).unwrap();
    let (code, _, stderr) = run(&["check", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn an_ssh_user_that_is_no_admin_login_is_flagged_with_the_closest_one() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(EXAMPLE).unwrap().replace("ssh_user: camille", "ssh_user: camile");
    let file = dir.path().join("hoster.yml");
    std::fs::write(&file, text).unwrap();
    // One typo away from an admin's login: that typo, an error (the first apply as an admin
    // would be locked out).
    let (code, _, stderr) = run(&["check", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("error: \"camile\" is not the login of any admin"), "{stderr}");
    assert!(stderr.contains("did you mean \"camille\"?"), "{stderr}");
    // Far from every admin's (the provider's first account): a warning.
    let text = std::fs::read_to_string(EXAMPLE).unwrap().replace("ssh_user: camille", "ssh_user: debian");
    std::fs::write(&file, text).unwrap();
    let (code, _, stderr) = run(&["check", file.to_str().unwrap()]);
    assert_eq!(code, 0, "a warning, not an error: {stderr}");
    assert!(stderr.contains("warning: \"debian\" is not the login of any admin"), "{stderr}");
}

/// What the engine gives a recipe (VPN keys, the backups' scope, PostgreSQL) follows its
/// `provides:`, never its name: a copy of the built-in VPN recipe under another name gets
/// its keys, a second backup taker is refused, and a database resource asks for a recipe
/// that provides PostgreSQL.
#[test]
fn what_the_engine_gives_a_recipe_follows_its_provides_field_not_its_name() {
    let builtin = Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes");
    let copy = |from: &str, to: &str, dir: &Path, edit: &dyn Fn(String) -> String| {
        let text = std::fs::read_to_string(builtin.join(from).join("recipe.yml")).unwrap();
        let text = edit(text.replace(&format!("name: {from}\n"), &format!("name: {to}\n")));
        let folder = dir.join("local/recipes").join(to);
        std::fs::create_dir_all(folder.join("templates")).unwrap();
        std::fs::write(
            folder.join("recipe.yml"),
            text.replace(&format!("template: {from}/"), &format!("template: {to}/")),
        )
        .unwrap();
        for entry in std::fs::read_dir(builtin.join(from).join("templates")).into_iter().flatten().flatten() {
            std::fs::copy(entry.path(), folder.join("templates").join(entry.file_name())).unwrap();
        }
    };
    let services =
        "  - name: members\n    recipe: tunnel\n    server: alpha\n    params:\n      peers:\n        - name: laptop\n";
    let dir = local_setup(VPN_RECIPE, Some(("vpn/wg.conf", "[Interface]\n")), services);
    copy("wireguard", "tunnel", dir.path(), &|t| t);
    let hoster = dir.path().join("hoster.yml");
    let (code, out, err) = run(&["plan", hoster.to_str().unwrap(), "--offline", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("/etc/wireguard/wg-members.conf"), "{out}");
    // The tunnel's configuration was rendered with the keys chaton made for it (the file is
    // sensitive: its content is not shown; rendering it without `vpn` would have failed).
    assert!(out.contains("(sensitive content not shown)"), "{out}");
    assert!(out.contains("iifname \\\"wg-members\\\" accept"), "the tunnel's interface in the firewall: {out}");

    // Without the parameters the engine reads, the part is refused where it is claimed.
    copy("wireguard", "tunnel", dir.path(), &|t| t.replace("  peers:\n", "  members:\n"));
    let (code, _, err) = run(&["check", hoster.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("provides wireguard_keys: the parameter `peers` must be declared with `type: peers`"),
        "{err}"
    );
    assert!(err.contains("tunnel/recipe.yml:14:"), "at the line of `provides`: {err}");

    // Two recipes cannot both take the backups.
    let dir = local_setup(VPN_RECIPE, Some(("vpn/wg.conf", "[Interface]\n")), "");
    copy("backups", "borg-again", dir.path(), &|t| t);
    let hoster = dir.path().join("hoster.yml");
    let (code, _, err) = run(&["check", hoster.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("provides backups, and so does \"backups\": one recipe takes the backups"), "{err}");

    // A database needs a recipe that provides PostgreSQL, whatever its name.
    let notes = "name: notes\nsummary: {en: Notes, fr: Notes}\nkind: service\n\
                 software: {name: Notes, version: '1', licence: MIT, website: https://example.org, source: https://example.org, install: distribution}\n\
                 data:\n  personal: {en: Notes, fr: Notes}\n  log_retention_days: 0\n\
                 resources:\n  - database: {name: notes, owner: notes}\n";
    let dir = local_setup(notes, None, "  - name: notes\n    recipe: notes\n    server: alpha\n");
    let hoster = dir.path().join("hoster.yml");
    let (code, _, err) = run(&["check", hoster.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("a database needs PostgreSQL") && err.contains("add `requires: [postgresql]`"), "{err}");
    copy("postgresql", "pg-other", dir.path(), &|t| t);
    let with = notes.replace("kind: service\n", "kind: service\nrequires: [pg-other]\n");
    std::fs::write(dir.path().join("local/recipes/notes/recipe.yml"), with).unwrap();
    let (code, _, err) = run(&["check", hoster.to_str().unwrap()]);
    assert!(!err.contains("needs PostgreSQL"), "{err}");
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_move_shows_its_steps_without_changing_anything_and_one_runs_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hoster.yml");
    std::fs::copy(EXAMPLE, &file).unwrap();
    let before = std::fs::read_to_string(&file).unwrap();
    let path = file.to_str().unwrap();
    let (code, _, stderr) = run(&["move", path, "agenda", "--to", "pangolin"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("move agenda (radicale) from loutre to pangolin:\n"), "{stderr}");
    assert!(stderr.contains("nothing was changed; add --yes to move agenda"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    assert!(!dir.path().join("moves").exists());

    // Another service's move, cut off half-way: no second move starts until it is done.
    let cloud = dir.path().join("moves/cloud");
    std::fs::create_dir_all(&cloud).unwrap();
    std::fs::write(
        cloud.join("journal.json"),
        r#"{"service":"cloud","from":"pangolin","to":"loutre","done":["stop","backup"]}"#,
    )
    .unwrap();
    let (code, _, stderr) = run(&["move", path, "agenda", "--to", "pangolin", "--yes"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("the move of \"cloud\" from pangolin to loutre is unfinished"), "{stderr}");
    assert!(stderr.contains(&format!("`chaton move {path} cloud --abandon`")), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    assert!(!dir.path().join("moves/agenda").exists());
}
