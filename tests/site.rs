//! The charter site of the example: every page in both languages, ChatonsInfos files that
//! Java's own `Properties` parser reads back with every required key, no broken internal
//! link, nothing private or secret published, byte-reproducible, and `docs --check`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

mod support;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/amipo/hoster.yml");

fn build(description: &Path, date: &str) -> chaton::site::Site {
    let checked = chaton::pipeline::check(description, None).unwrap_or_else(|d| panic!("{d:?}"));
    chaton::site::build(&checked.description, &checked.catalogue, date).unwrap_or_else(|d| panic!("{d:?}"))
}

#[test]
fn every_page_exists_in_both_languages_with_the_chatonsinfos_files() {
    let site = build(Path::new(EXAMPLE), "2026-11-25");
    for (page, ..) in chaton::site::PAGES {
        for lang in ["fr", "en"] {
            let html = String::from_utf8(site.files[&format!("{lang}/{page}.html")].clone()).unwrap();
            assert!(html.starts_with("<!DOCTYPE html>"), "{lang}/{page}");
            assert!(html.contains(&format!("<html lang=\"{lang}\">")), "{lang}/{page}");
            assert!(html.contains("<main id=\"content\">") && html.contains("<nav ") && html.contains("<footer>"));
            assert_eq!(html.matches("<h1>").count(), 1, "one h1 in {lang}/{page}");
            let other = if lang == "fr" { "en" } else { "fr" };
            assert!(html.contains(&format!("href=\"../{other}/{page}.html\"")), "language switch on {lang}/{page}");
            assert!(!html.contains("<script"), "no script in {lang}/{page}");
        }
    }
    for file in [
        "index.html",
        "style.css",
        "chatonsinfos/organization.properties",
        "chatonsinfos/site.properties",
        "chatonsinfos/wiki.properties",
    ] {
        assert!(site.files.contains_key(file), "{file}");
    }
    // A service goes by the title the description gives it, in each language, and shows the
    // version its server's release runs (the VPN is on pangolin, Debian 12).
    let french = String::from_utf8(site.files["fr/services.html"].clone()).unwrap();
    assert!(
        french.contains(">Réseau privé (VPN)</h2>") && french.contains(">Site de l&#39;association</h2>"),
        "{french}"
    );
    assert!(french.contains("Notre page d&#39;accueil et les pages que la charte CHATONS"), "{french}");
    assert!(french.contains("tools 1.0.20210914</dd>") && !french.contains("1.0.20250521"), "{french}");
    let services = String::from_utf8(site.files["en/services.html"].clone()).unwrap();
    assert!(services.contains(">Private network (VPN)</h2>"), "{services}");
    assert!(services.contains("BSD-2-Clause") && services.contains("https://github.com/nginx/nginx"), "{services}");
    let economy = String::from_utf8(site.files["fr/economy.html"].clone()).unwrap();
    assert!(economy.contains("cotisations, dons"), "{economy}");
    let economy = String::from_utf8(site.files["en/economy.html"].clone()).unwrap();
    assert!(economy.contains("membership fees, donations"), "{economy}");
    // The terms are a template until the hoster says they reviewed them (the example's
    // are reviewed).
    assert!(!String::from_utf8_lossy(&site.files["fr/terms.html"]).contains("class=\"review\""));
    let dir = tempfile::tempdir().unwrap();
    let unreviewed = dir.path().join("hoster.yml");
    let text = std::fs::read_to_string(EXAMPLE).unwrap().replace("terms_reviewed: true", "terms_reviewed: false");
    std::fs::write(&unreviewed, text).unwrap();
    let site = build(&unreviewed, "2026-11-25");
    assert!(String::from_utf8_lossy(&site.files["fr/terms.html"]).contains("class=\"review\""));
}

#[test]
fn the_site_is_byte_reproducible() {
    assert_eq!(build(Path::new(EXAMPLE), "2026-11-25").files, build(Path::new(EXAMPLE), "2026-11-25").files);
    // Through the command line too, with the build's date set by SOURCE_DATE_EPOCH.
    let dir = tempfile::tempdir().unwrap();
    let mut trees = Vec::new();
    for name in ["a", "b"] {
        let out = dir.path().join(name);
        let status = Command::new(assert_cmd::cargo::cargo_bin("chaton"))
            .args(["docs", EXAMPLE, "--out"])
            .arg(&out)
            .env("SOURCE_DATE_EPOCH", "1764000000")
            .status()
            .unwrap();
        assert!(status.success());
        trees.push(support::read_tree(&out));
    }
    assert_eq!(trees[0], trees[1]);
    // The date the description pins wins over the build's date.
    assert!(String::from_utf8_lossy(&trees[0][Path::new("fr/index.html")]).contains("2026-11-25"));
}

#[test]
fn no_internal_link_is_broken() {
    let site = build(Path::new(EXAMPLE), "2026-11-25");
    let mut checked = 0;
    for (path, bytes) in site.files.iter().filter(|(p, _)| p.ends_with(".html")) {
        let html = String::from_utf8_lossy(bytes);
        for part in html.split("href=\"").skip(1) {
            let target = &part[..part.find('"').unwrap()];
            if target.starts_with("http") || target.starts_with("mailto:") || target.starts_with('#') {
                continue;
            }
            let target = target.split('#').next().unwrap();
            let base = Path::new(path).parent().unwrap();
            let mut resolved = PathBuf::new();
            for component in base.join(target).components() {
                match component {
                    std::path::Component::ParentDir => {
                        resolved.pop();
                    }
                    std::path::Component::Normal(c) => resolved.push(c),
                    _ => {}
                }
            }
            let key = resolved.to_string_lossy().replace('\\', "/");
            assert!(site.files.contains_key(&key), "{path} links to {target}, which does not exist");
            checked += 1;
        }
    }
    assert!(checked > 200, "only {checked} links checked");
}

#[test]
fn nothing_private_or_secret_is_published() {
    let site = build(Path::new(EXAMPLE), "2026-11-25");
    let description = std::fs::read_to_string(EXAMPLE).unwrap();
    // SSH keys of the admins, addresses of the servers: in the description, never on the site.
    let canaries = [
        "AAAAC3NzaC1lZDI1NTE5AAAAIG7hZzE1",
        "AAAAC3NzaC1lZDI1NTE5AAAAIB3vQ9xR",
        "203.0.113.10",
        "192.168.1.20",
        "camille@laptop",
    ];
    for canary in canaries {
        assert!(description.contains(canary), "the test canary {canary} is not in the description");
        for (path, bytes) in &site.files {
            assert!(!String::from_utf8_lossy(bytes).contains(canary), "{canary} published in {path}");
        }
    }
    assert!(chaton::site::external_resources(&site.files).is_empty());
}

/// Java's own parser, `java.util.Properties.load`, reads every ChatonsInfos file back.
#[test]
fn java_reads_the_chatonsinfos_files_back_with_every_required_key() {
    let dir = tempfile::tempdir().unwrap();
    // A hostile organisation name: non-ASCII, `=`, `:`, `#`, a leading space and a newline.
    let text = std::fs::read_to_string(EXAMPLE)
        .unwrap()
        .replace("  name: AMIPO\n", "  name: \" Les Chatons d'Été: a = b #1\\n🐱\"\n");
    let description = dir.path().join("hoster.yml");
    std::fs::write(&description, text).unwrap();
    let site = build(&description, "2026-11-25");
    let mut files = Vec::new();
    for (path, bytes) in site.files.iter().filter(|(p, _)| p.ends_with(".properties")) {
        assert!(bytes.is_ascii(), "{path} must be ASCII");
        let file = dir.path().join(path.replace('/', "_"));
        std::fs::write(&file, bytes).unwrap();
        files.push(file);
    }
    let java = dir.path().join("Dump.java");
    std::fs::write(
        &java,
        "import java.io.*; import java.util.*;\npublic class Dump { public static void main(String[] a) throws Exception { for (String f : a) { Properties p = new Properties(); try (InputStream in = new FileInputStream(f)) { p.load(in); } for (String k : new TreeSet<>(p.stringPropertyNames())) { String v = p.getProperty(k); System.out.println(f + \"\\t\" + k + \"\\t\" + v.replace(\"\\\\\", \"\\\\\\\\\").replace(\"\\n\", \"\\\\n\")); } } } }\n",
    )
    .unwrap();
    let compiled =
        Command::new("javac").arg("-d").arg(dir.path()).arg(&java).status().expect("javac (a JDK) is installed");
    assert!(compiled.success());
    let out = Command::new("java").arg("-cp").arg(dir.path()).arg("Dump").args(&files).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut values: BTreeMap<(String, String), String> = BTreeMap::new();
    for line in stdout.lines() {
        let mut parts = line.splitn(3, '\t');
        let (f, k, v) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap_or(""));
        let name = Path::new(f).file_name().unwrap().to_string_lossy().into_owned();
        values.insert((name, k.to_owned()), v.to_owned());
    }
    let get = |file: &str, key: &str| values.get(&(file.to_owned(), key.to_owned())).cloned().unwrap_or_default();
    assert_eq!(get("chatonsinfos_organization.properties", "organization.name"), " Les Chatons d'Été: a = b #1\\n🐱");
    let org_keys = [
        "file.class",
        "file.protocol",
        "file.datetime",
        "file.generator",
        "organization.name",
        "organization.description",
        "organization.website",
        "organization.contact.email",
        "organization.legal.url",
        "organization.technical.url",
        "organization.startDate",
        "subs.site",
        "subs.wiki",
    ];
    for key in org_keys {
        assert!(!get("chatonsinfos_organization.properties", key).is_empty(), "organization: {key}");
    }
    assert_eq!(get("chatonsinfos_organization.properties", "file.protocol"), "ChatonsInfos-0.1");
    let service_keys = [
        "file.class",
        "service.name",
        "service.website",
        "service.status.level",
        "service.registration",
        "service.registration.load",
        "service.install.type",
        "software.name",
        "software.version",
        "software.website",
        "software.license.name",
        "software.license.url",
        "software.source.url",
        "host.name",
        "host.server.distribution",
        "host.provider.type",
        "host.country.name",
        "host.country.code",
    ];
    for service in ["site", "wiki"] {
        for key in service_keys {
            assert!(!get(&format!("chatonsinfos_{service}.properties"), key).is_empty(), "{service}: {key}");
        }
    }
    assert_eq!(get("chatonsinfos_site.properties", "software.license.name"), "BSD-2-Clause");
    assert_eq!(get("chatonsinfos_wiki.properties", "host.provider.type"), "HOME");
}

#[test]
fn docs_check_passes_on_the_example_and_fails_on_non_free_software() {
    let out = Command::new(assert_cmd::cargo::cargo_bin("chaton")).args(["docs", EXAMPLE, "--check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok      All software is free software"));

    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(EXAMPLE)
        .unwrap()
        .replace("    recipe: website\n    server: loutre", "    recipe: closed\n    server: loutre")
        .replace("    params:\n      index: index.html\n", "");
    std::fs::write(dir.path().join("hoster.yml"), format!("{text}recipes_dir: local\n")).unwrap();
    std::fs::create_dir_all(dir.path().join("local/recipes")).unwrap();
    std::fs::write(
        dir.path().join("local/recipes/closed.yml"),
        "name: closed\nsummary: {en: A closed wiki, fr: Un wiki fermé}\nkind: service\nsoftware: {name: ClosedWiki, version: '2', licence: LicenseRef-Proprietary, website: https://example.org, source: https://example.org, install: package}\ndata:\n  personal: {en: Accounts, fr: Comptes}\n  log_retention_days: 30\n",
    )
    .unwrap();
    let out = Command::new(assert_cmd::cargo::cargo_bin("chaton"))
        .args(["docs"])
        .arg(dir.path().join("hoster.yml"))
        .arg("--check")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("MISSING All software is free software"), "{stdout}");
    assert!(stdout.contains("ClosedWiki") || stdout.contains("wiki (LicenseRef-Proprietary)"), "{stdout}");
    assert!(stdout.contains("MISSING Every service says how users get their data back"), "{stdout}");
}

#[test]
fn the_infrastructure_page_states_the_recorded_restore_drills() {
    let dir = tempfile::tempdir().unwrap();
    let description = dir.path().join("hoster.yml");
    std::fs::copy(EXAMPLE, &description).unwrap();
    let page = |site: &chaton::site::Site, lang: &str| {
        String::from_utf8(site.files[&format!("{lang}/infrastructure.html")].clone()).unwrap()
    };
    let site = build(&description, "2026-11-25");
    assert!(page(&site, "en").contains("Last successful restore drill</dt><dd>none yet"));
    // What `chaton backup drill` writes when a drill passes.
    std::fs::write(dir.path().join("backup-drills.json"), r#"{"site": "2026-11-26T02:15:36Z"}"#).unwrap();
    let site = build(&description, "2026-11-25");
    assert!(page(&site, "en").contains("Last successful restore drill</dt><dd>site: 2026-11-26</dd>"));
    assert!(page(&site, "fr").contains("site : 2026-11-26</dd>"));
    // A damaged record is an error that says where, not a silently empty page.
    std::fs::write(dir.path().join("backup-drills.json"), "{\"site\": ").unwrap();
    let error = chaton::pipeline::check(&description, None).err().expect("refused");
    assert!(error[0].message.contains("backup-drills.json:1:"), "{}", error[0].message);
}

#[test]
fn the_infrastructure_page_says_a_home_server_is_reached_through_its_relay() {
    let dir = tempfile::tempdir().unwrap();
    let description = dir.path().join("hoster.yml");
    let text = std::fs::read_to_string(EXAMPLE).unwrap();
    let page = |text: &str, lang: &str| {
        std::fs::write(&description, text).unwrap();
        let site = build(&description, "2026-11-25");
        String::from_utf8(site.files[&format!("{lang}/infrastructure.html")].clone()).unwrap()
    };
    // The example's home server has a relay; without it, the page says nothing of one.
    let direct = text.replace("    relay: pangolin\n", "");
    assert_ne!(direct, text);
    assert!(!page(&direct, "en").contains("is at home"));
    let relayed = text;
    assert!(
        page(&relayed, "en").contains("<p>loutre is at home, behind a household connection: its visitors reach it through pangolin (Association Tetaneutral.net)"),
        "{}",
        page(&relayed, "en")
    );
    assert!(page(&relayed, "fr").contains(
        "<p>loutre est à la maison, derrière une connexion de particulier : ses visiteurs l'atteignent par pangolin"
    ));
}

#[test]
fn the_privacy_page_states_the_log_retention_the_web_front_is_set_to() {
    let dir = tempfile::tempdir().unwrap();
    let description = dir.path().join("hoster.yml");
    let text = std::fs::read_to_string(EXAMPLE).unwrap();
    let privacy = |text: &str| {
        std::fs::write(&description, text).unwrap();
        let site = build(&description, "2026-11-25");
        String::from_utf8(site.files["en/privacy.html"].clone()).unwrap()
    };
    assert!(
        privacy(&text).contains("<td>The association&#39;s website</td>")
            && privacy(&text).contains("<td>14 day(s)</td>")
    );
    let longer = text.replace("  web:\n", "  web:\n    log_retention_days: 30\n");
    assert_ne!(longer, text);
    let page = privacy(&longer);
    assert!(page.contains("<td>30 day(s)</td>") && !page.contains("<td>14 day(s)</td>"), "{page}");
}

#[test]
fn the_data_page_states_the_pad_retention_the_description_sets() {
    let dir = tempfile::tempdir().unwrap();
    let description = dir.path().join("hoster.yml");
    let text = std::fs::read_to_string(EXAMPLE).unwrap();
    let data = |text: &str, lang: &str| {
        std::fs::write(&description, text).unwrap();
        let site = build(&description, "2026-11-25");
        String::from_utf8(site.files[&format!("{lang}/data.html")].clone()).unwrap()
    };
    assert!(data(&text, "en").contains("Pads nobody has edited for 365 days are deleted"));
    assert!(data(&text, "fr").contains("Les pads que personne n&#39;a modifiés depuis 365 jours sont supprimés"));
    let shorter = text.replace("pad_retention_days: 365", "pad_retention_days: 90");
    assert_ne!(shorter, text);
    assert!(data(&shorter, "en").contains("Pads nobody has edited for 90 days are deleted"));
    let forever = text.replace("pad_retention_days: 365", "pad_retention_days: 0");
    let page = data(&forever, "en");
    assert!(page.contains("Pads are kept until someone deletes them.") && !page.contains("are deleted"), "{page}");
}

/// The French pages of the example speak French: no English prose (the words below never
/// appear in French text) and no internal value (`None`, `Member`, `daily`) where a word
/// is meant. Licence expressions (`GPL-2.0-only AND MIT`) are SPDX, upper case, and pass.
#[test]
fn the_french_pages_hold_no_english_prose_and_no_internal_value() {
    const ENGLISH: &[&str] = &[
        "the",
        "and",
        "of",
        "for",
        "with",
        "is",
        "are",
        "your",
        "you",
        "our",
        "this",
        "that",
        "from",
        "not",
        "only",
        "none",
        "members",
        "daily",
        "weekly",
        "hourly",
        "kept",
        "day",
        "days",
        "logs",
        "encrypted",
        "yes",
        "free",
        "hosted",
        "self",
        "missing",
        "link",
        "tool",
        "resource",
    ];
    const INTERNAL: &[&str] = &[
        "None",
        "Free",
        "Member",
        "Client",
        "OK",
        "WARNING",
        "ERROR",
        "OPEN",
        "FULL",
        "pay_what_you_want",
        "owned",
        "rented",
        "vps",
    ];
    let site = build(Path::new(EXAMPLE), "2026-11-25");
    let mut found = Vec::new();
    let mut pages = 0;
    for (path, bytes) in site.files.iter().filter(|(p, _)| p.starts_with("fr/") && p.ends_with(".html")) {
        pages += 1;
        let html = String::from_utf8_lossy(bytes);
        // The visible text: tags (and the style sheet's link) out, entities as they read.
        let mut text = String::new();
        let mut in_tag = false;
        for c in html.chars() {
            match c {
                '<' => in_tag = true,
                '>' => {
                    in_tag = false;
                    text.push(' ');
                }
                _ if !in_tag => text.push(c),
                _ => {}
            }
        }
        let text = text.replace("&#x27;", "'").replace("&amp;", "&").replace("&quot;", "\"");
        // Licence identifiers, versions and addresses (`GPL-2.0-only`, `https://...`) are not prose.
        let prose = text.split_whitespace().filter(|t| !t.contains(|c: char| c.is_ascii_digit()) && !t.contains("://"));
        for word in prose.flat_map(|t| t.split(|c: char| !(c.is_alphanumeric() || c == '_'))).filter(|w| !w.is_empty())
        {
            if ENGLISH.contains(&word) || INTERNAL.contains(&word) {
                let at = text.find(word).unwrap_or(0);
                let context: String = text[at.saturating_sub(60)..].chars().take(120).collect();
                found.push(format!(
                    "{path}: {word:?} in \"{}\"",
                    context.split_whitespace().collect::<Vec<_>>().join(" ")
                ));
            }
        }
    }
    assert!(pages >= 9, "only {pages} French pages");
    assert!(found.is_empty(), "English or internal values on the French pages:\n{}", found.join("\n"));
}
