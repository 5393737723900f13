//! Facts from a live server: one batched shell script per host (one exec channel) and the
//! parser of its output, in the pyinfra spirit (a fact is a command plus a parser), but all
//! facts of a host in one script.
//!
//! Output is one record per line, tab-separated. Paths, users, units and guards are
//! referred to by their index in the query, so hostile names never reach the parser;
//! free text (link targets, file contents, firewall JSON, handler names) travels as base64.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use base64::Engine as _;

use super::{FactQuery, GroupFacts, HostFacts, OsRelease, PathState, UnitFacts, UserFacts};
use crate::shell::quote;
use crate::vocab::Proto;
use crate::vocab::values::FileMode;

/// Content of larger files is not fetched (their diff says so).
pub const MAX_TEXT_BYTES: u64 = 256 * 1024;

// Paths are sorted by kind with shell builtins (`[ -f ]`, no process), then every file
// is stat-ed by one `stat` and digested by one `sha256sum`, every folder by one `stat`:
// a constant number of processes, whatever the number of files. The lists travel through
// NUL-separated temporary files (any name is safe) and come back in order, joined to
// their index. A file's content travels only when its digest is not the desired one.
const PRELUDE: &str = r#"export LC_ALL=C
b64() { base64 -w0; }
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
exec 3>"$T/files" 4>"$T/file-ids" 5>"$T/dirs" 6>"$T/dir-ids"
chaton_path() {
  if [ -L "$2" ]; then printf 'path\t%s\tlink\t%s\n' "$1" "$(readlink -- "$2" | tr -d '\n' | b64)"
  elif [ -f "$2" ]; then printf '%s\0' "$2" >&3; printf '%s\n' "$1" >&4
  elif [ -d "$2" ]; then printf '%s\0' "$2" >&5; printf '%s\n' "$1" >&6
  elif [ -e "$2" ]; then printf 'path\t%s\tother\n' "$1"
  else printf 'path\t%s\tmissing\n' "$1"; fi
}
chaton_stat_all() {
  exec 3>&- 4>&- 5>&- 6>&-
  xargs -0r stat --printf '%U\t%G\t%a\t%s\n' -- < "$T/files" > "$T/file-stats"
  xargs -0r sha256sum -- < "$T/files" > "$T/file-digests"
  xargs -0r stat --printf '%U\t%G\t%a\n' -- < "$T/dirs" > "$T/dir-stats"
  while IFS= read -r i <&4 && IFS= read -r s <&7 && read -r h _ <&8; do
    # sha256sum starts the line with a backslash when the name needed escaping.
    h=${h#\\}
    printf 'path\t%s\tfile\t%s\t%s\n' "$i" "$s" "$h"
    eval "h_$i=\$h; z_$i=\${s##*	}"
  done 4<"$T/file-ids" 7<"$T/file-stats" 8<"$T/file-digests"
  while IFS= read -r i <&5 && IFS= read -r s <&7; do
    printf 'path\t%s\tdir\t%s\n' "$i" "$s"
  done 5<"$T/dir-ids" 7<"$T/dir-stats"
}
# $1 index, $2 path, $3 desired digest: the content, when it differs and is small.
chaton_text() {
  eval "h=\${h_$1:-}; z=\${z_$1:-0}"
  if [ -n "$h" ] && [ "$h" != "$3" ] && [ "$z" -le 262144 ]; then printf 'text\t%s\t%s\n' "$1" "$(b64 < "$2")"; fi
}
chaton_user() { if l=$(getent passwd "$2"); then printf 'user\t%s\t%s\t%s\n' "$1" "$l" "$(id -Gn -- "$2" | tr ' ' ',')"; fi; }
chaton_group() { if l=$(getent group "$2"); then printf 'group\t%s\t%s\n' "$1" "$l"; fi; }
# Every unit in one `systemctl show` (is-enabled costs some 15 ms a unit and stops at the
# first unknown one): blocks in the order asked, a blank line between them.
chaton_units() {
  systemctl show --property=UnitFileState,ActiveState -- "$@" 2>/dev/null | {
    i=0; a=; f=
    while IFS= read -r l; do
      case $l in
        ActiveState=*) a=${l#*=} ;;
        UnitFileState=*) f=${l#*=} ;;
        '') printf 'unit\t%s\t%s\t%s\n' "$i" "$f" "$a"; i=$((i + 1)); a=; f= ;;
      esac
    done
    if [ -n "$a$f" ]; then printf 'unit\t%s\t%s\t%s\n' "$i" "$f" "$a"; fi
  }
}
"#;

/// The script that gathers `query` on a host whose chaton state lives in `state_dir`.
pub fn script(query: &FactQuery, state_dir: &str) -> String {
    let mut s = String::from(PRELUDE);
    s.push_str(
        "( . /etc/os-release && printf 'os\\t%s\\t%s\\t%s\\n' \"$ID\" \"$VERSION_ID\" \"${VERSION_CODENAME:-}\" )\n",
    );
    if query.packages {
        s.push_str("dpkg-query -W -f 'pkg\\t${db:Status-Abbrev}\\t${Package}\\t${Version}\\n' 2>/dev/null\n");
    }
    for (i, path) in query.paths.iter().enumerate() {
        let _ = writeln!(s, "chaton_path {i} {}", quote(path));
    }
    s.push_str("chaton_stat_all\n");
    for (i, path) in query.paths.iter().enumerate() {
        if let Some(digest) = query.texts.get(path) {
            let _ = writeln!(s, "chaton_text {i} {} {digest}", quote(path));
        }
        if let Some(pairs) = query.masked.get(path) {
            let args: String =
                pairs.iter().map(|(file, placeholder)| format!(" {} {}", quote(file), quote(placeholder))).collect();
            let _ = writeln!(
                s,
                "if [ -f {p} ] && m=$(awk {program} {p}{args} | sha256sum); then printf 'masked\t{i}\t%s\n' \"${{m%% *}}\"; fi",
                p = quote(path),
                program = quote(MASK_PROGRAM),
            );
        }
    }
    for (i, user) in query.users.iter().enumerate() {
        let _ = writeln!(s, "chaton_user {i} {}", quote(user));
    }
    for (i, group) in query.groups.iter().enumerate() {
        let _ = writeln!(s, "chaton_group {i} {}", quote(group));
    }
    if !query.units.is_empty() {
        let units: Vec<String> = query.units.iter().map(|u| quote(u).into_owned()).collect();
        let _ = writeln!(s, "chaton_units {}", units.join(" "));
    }
    if query.firewall {
        s.push_str("if command -v nft >/dev/null 2>&1 && nft list table inet chaton >/dev/null 2>&1; then printf 'fw\\t%s\\n' \"$(nft -j list table inet chaton | b64)\"; fi\n");
    }
    if query.postgres {
        // Names as hex, so no name can break a record.
        s.push_str(concat!(
            "if command -v psql >/dev/null 2>&1; then ( cd / && runuser -u postgres -- psql -X -A -t -F \"$(printf '\\t')\" ",
            "-c \"select 'pg', 'up'\" ",
            "-c \"select 'pgrole', encode(convert_to(rolname, 'UTF8'), 'hex') from pg_roles\" ",
            "-c \"select 'pgdb', encode(convert_to(datname, 'UTF8'), 'hex'), encode(convert_to(pg_get_userbyid(datdba), 'UTF8'), 'hex') from pg_database\" ",
            "2>/dev/null ); fi\n"
        ));
    }
    for (i, guard) in query.guards.iter().enumerate() {
        // The guard is already shell text built by `shell::render`.
        let _ = writeln!(s, "( {guard} ) </dev/null >/dev/null 2>&1; printf 'guard\\t{i}\\t%s\\n' \"$?\"");
    }
    for (i, (explain, runs)) in query.explains.iter().enumerate() {
        let condition = if runs.is_empty() { "true" } else { runs.as_str() };
        let _ = writeln!(
            s,
            "if {condition}; then printf 'explain\\t{i}\\t%s\\n' \"$( ( {explain} ) </dev/null 2>/dev/null | head -n 1 | head -c 300 | b64)\"; fi"
        );
    }
    let journal = format!("{state_dir}/handlers");
    let _ = writeln!(
        s,
        "if [ -f {j} ]; then while IFS= read -r h; do [ -n \"$h\" ] && printf 'pending\\t%s\\n' \"$(printf '%s' \"$h\" | b64)\"; done < {j}; fi",
        j = quote(&journal)
    );
    if let Some(described) = &query.described {
        s.push_str(&undescribed_script(described, &query.probes, &format!("{state_dir}/managed")));
    }
    if query.container {
        s.push_str("if c=$(systemd-detect-virt --container 2>/dev/null); then printf 'container\\t%s\\n' \"$c\"; fi\n");
    }
    s.push_str(
        "if [ -e /run/reboot-required ]; then printf 'reboot\\t%s\\n' \"$(sort -u /run/reboot-required.pkgs 2>/dev/null | tr '\\n' ' ' | b64)\"; fi\n",
    );
    let unchecked = format!("{state_dir}/access/unchecked");
    let _ = writeln!(s, "if [ -e {} ]; then printf 'access\\tunchecked\\n'; fi", quote(&unchecked));
    s.push_str("printf 'end\\n'\n");
    s
}

/// The lines of the record (`resolve::record`) whose `KIND<TAB>NAME` is not among
/// `described`, each with what the server says of it. One `awk` when nothing left the
/// description; a few processes per thing that did.
fn undescribed_script(described: &[String], probes: &[(&str, &str)], record: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "R={}", quote(record));
    s.push_str("if [ -f \"$R\" ]; then\n  tab=$(printf '\\t')\n  printf '%s\\n' '#'");
    for key in described {
        let _ = write!(s, " {}", quote(key));
    }
    s.push_str(concat!(
        " | awk -F '\t' 'NR==FNR{want[$1 FS $2]=1;next} /^#/{next} !(($1 FS $2) in want)' - \"$R\" | while IFS= read -r line; do\n",
        "    kind=${line%%\"$tab\"*}; rest=${line#*\"$tab\"}; n=${rest%%\"$tab\"*}\n",
        "    case \"$kind\" in\n",
    ));
    // Each kind says how to find its things' state (`resource::Kind::PROBE`).
    for (kind, probe) in probes {
        let _ = writeln!(s, "      {kind}) {probe} ;;");
    }
    s.push_str(concat!(
        "      *) st=present ;;\n",
        "    esac\n",
        "    printf 'undescribed\\t%s\\t%s\\n' \"$(printf '%s' \"$line\" | b64)\" \"$(printf '%s' \"$st\" | b64)\"\n",
        "  done\n",
        "fi\n",
    ));
    s
}

fn b64(text: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|e| format!("bad base64 in facts: {e}"))
}

fn unhex(text: &str) -> Result<String, String> {
    let bytes: Result<Vec<u8>, _> = (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).ok_or(()).and_then(|h| u8::from_str_radix(h, 16).map_err(|_| ())))
        .collect();
    bytes.map(|b| String::from_utf8_lossy(&b).into_owned()).map_err(|()| format!("bad hex {text:?} in facts"))
}

fn nth<'a>(set: &'a BTreeSet<String>, index: &str) -> Result<&'a String, String> {
    let i: usize = index.parse().map_err(|_| format!("bad index {index:?} in facts"))?;
    set.iter().nth(i).ok_or_else(|| format!("index {i} out of range in facts"))
}

fn mode(text: &str) -> Result<FileMode, String> {
    u32::from_str_radix(text, 8).map(FileMode).map_err(|_| format!("bad mode {text:?} in facts"))
}

/// Parses the script's output. Lines that are not records (warnings on stderr) are ignored;
/// a missing `end` record means the script did not finish.
pub fn parse(output: &str, query: &FactQuery) -> Result<HostFacts, String> {
    let mut facts = HostFacts::default();
    let mut texts: Vec<(String, String)> = Vec::new();
    let mut masked: Vec<(String, String)> = Vec::new();
    let mut ended = false;
    for line in output.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["os", id, version, codename] => {
                facts.os = OsRelease { id: (*id).into(), version_id: (*version).into(), codename: (*codename).into() }
            }
            ["pkg", status, name, version] if status.starts_with("ii") => {
                facts.packages.insert((*name).into(), (*version).into());
            }
            ["pkg", ..] => {}
            ["path", i, "missing"] => {
                facts.paths.insert(nth(&query.paths, i)?.clone(), PathState::Missing);
            }
            ["path", i, "other"] => {
                facts.paths.insert(nth(&query.paths, i)?.clone(), PathState::Other);
            }
            ["path", i, "link", target] => {
                let target = String::from_utf8_lossy(&b64(target)?).into_owned();
                facts.paths.insert(nth(&query.paths, i)?.clone(), PathState::Symlink { target });
            }
            ["path", i, "dir", owner, group, m] => {
                let state = PathState::Directory { owner: (*owner).into(), group: (*group).into(), mode: mode(m)? };
                facts.paths.insert(nth(&query.paths, i)?.clone(), state);
            }
            ["path", i, "file", owner, group, m, size, sha256] => {
                let state = PathState::File {
                    sha256: (*sha256).into(),
                    size: size.parse().map_err(|_| format!("bad size {size:?} in facts"))?,
                    owner: (*owner).into(),
                    group: (*group).into(),
                    mode: mode(m)?,
                    text: None,
                };
                facts.paths.insert(nth(&query.paths, i)?.clone(), state);
            }
            ["masked", i, sha256] => masked.push((nth(&query.paths, i)?.clone(), (*sha256).to_owned())),
            ["text", i, content] => {
                if let Ok(text) = String::from_utf8(b64(content)?) {
                    texts.push((nth(&query.paths, i)?.clone(), text));
                }
            }
            ["user", i, passwd, groups] => {
                let parts: Vec<&str> = passwd.split(':').collect();
                if let [_, _, uid, _, _, home, shell] = parts.as_slice() {
                    let user = UserFacts {
                        uid: uid.parse().map_err(|_| format!("bad uid {uid:?} in facts"))?,
                        home: (*home).into(),
                        shell: (*shell).into(),
                        groups: groups.split(',').filter(|g| !g.is_empty()).map(str::to_owned).collect(),
                    };
                    facts.users.insert(nth(&query.users, i)?.clone(), user);
                }
            }
            ["group", i, line] => {
                if let Some(gid) = line.split(':').nth(2).and_then(|g| g.parse().ok()) {
                    facts.groups.insert(nth(&query.groups, i)?.clone(), GroupFacts { gid });
                }
            }
            ["unit", i, enabled, active] => {
                let enabled = super::ENABLED_STATES.contains(enabled);
                let state = UnitFacts { enabled, active: *active == "active" || *active == "reloading" };
                facts.units.insert(nth(&query.units, i)?.clone(), state);
            }
            ["fw", json] => facts.firewall = Some(open_ports(&b64(json)?)?),
            ["guard", i, code] => {
                facts.guards.insert(nth(&query.guards, i)?.clone(), *code == "0");
            }
            ["explain", i, text] => {
                let said = String::from_utf8_lossy(&b64(text)?).trim().to_owned();
                let (key, _) = query
                    .explains
                    .iter()
                    .nth(i.parse::<usize>().map_err(|e| e.to_string())?)
                    .ok_or("explain index out of range")?;
                if !said.is_empty() {
                    facts.explanations.insert(key.clone(), crate::diagnostic::sanitize(&said));
                }
            }
            ["pending", name] => {
                let name = String::from_utf8_lossy(&b64(name)?).into_owned();
                if !facts.pending_handlers.contains(&name) {
                    facts.pending_handlers.push(name);
                }
            }
            ["access", "unchecked"] => facts.access_unchecked = true,
            ["container", name] => facts.container = Some((*name).to_owned()),
            ["reboot", packages] => {
                let packages = String::from_utf8_lossy(&b64(packages)?).into_owned();
                facts.reboot_required = Some(packages.split_whitespace().map(crate::diagnostic::sanitize).collect());
            }
            ["undescribed", line, state] => {
                let line = String::from_utf8_lossy(&b64(line)?).into_owned();
                let state = String::from_utf8_lossy(&b64(state)?).trim().to_owned();
                let mut fields = line.split('\t').map(str::to_owned);
                let (Some(kind), Some(name), Some(origin)) = (fields.next(), fields.next(), fields.next()) else {
                    return Err(format!("a line of the record of managed things has too few fields: {line:?}"));
                };
                facts.undescribed.push(super::Undescribed { kind, name, origin, notify: fields.collect(), state });
            }
            ["pg", "up"] => facts.postgres = Some(Default::default()),
            ["pgrole", name] => {
                if let Some(pg) = facts.postgres.as_mut() {
                    pg.roles.insert(unhex(name)?);
                }
            }
            ["pgdb", name, owner] => {
                if let Some(pg) = facts.postgres.as_mut() {
                    pg.databases.insert(unhex(name)?, unhex(owner)?);
                }
            }
            ["end"] => ended = true,
            _ => {}
        }
    }
    if !ended {
        return Err("the facts script did not finish".into());
    }
    for (path, digest) in masked {
        if let Some(PathState::File { sha256, .. }) = facts.paths.get_mut(&path) {
            *sha256 = digest;
        }
    }
    for (path, text) in texts {
        if let Some(PathState::File { text: slot, .. }) = facts.paths.get_mut(&path) {
            *slot = Some(text);
        }
    }
    Ok(facts)
}

/// Ports accepted by the input chain of `table inet chaton`, from `nft -j` output: open to
/// everyone, so a rule that only accepts from one interface (what a relay passes on through
/// its tunnel) opens no port.
pub fn open_ports(json: &[u8]) -> Result<BTreeSet<(u16, Proto)>, String> {
    let value: serde_json::Value = serde_json::from_slice(json).map_err(|e| format!("bad nft JSON: {e}"))?;
    let mut ports = BTreeSet::new();
    let items = value["nftables"].as_array().cloned().unwrap_or_default();
    for item in items {
        let rule = &item["rule"];
        if rule["chain"] != "input" {
            continue;
        }
        let Some(expr) = rule["expr"].as_array() else { continue };
        if !expr.iter().any(|e| e.get("accept").is_some()) {
            continue;
        }
        if expr.iter().any(|e| e["match"]["left"]["meta"]["key"] == "iifname") {
            continue;
        }
        for e in expr {
            let m = &e["match"];
            let payload = &m["left"]["payload"];
            if payload["field"] != "dport" || m["op"] != "==" {
                continue;
            }
            let proto = match payload["protocol"].as_str() {
                Some("tcp") => Proto::Tcp,
                Some("udp") => Proto::Udp,
                _ => continue,
            };
            let numbers: Vec<&serde_json::Value> = match &m["right"] {
                serde_json::Value::Object(o) if o.contains_key("set") => {
                    o["set"].as_array().map(|a| a.iter().collect()).unwrap_or_default()
                }
                other => vec![other],
            };
            for n in numbers {
                if let Some(port) = n.as_u64().and_then(|p| u16::try_from(p).ok()) {
                    ports.insert((port, proto));
                }
            }
        }
    }
    Ok(ports)
}

/// awk, same arguments but no OUTPUT: prints INPUT with each secret value replaced by its
/// placeholder (what the file looked like before it was filled), for the facts digest.
pub const MASK_PROGRAM: &str = r#"BEGIN {
  input = ARGV[1]; n = 0
  for (i = 2; i + 1 < ARGC; i += 2) {
    if ((getline value < ARGV[i]) <= 0) { exit 2 }
    close(ARGV[i]); n++; from[n] = value; to[n] = ARGV[i + 1]
  }
  while ((getline line < input) > 0) {
    for (k = 1; k <= n; k++) {
      out = ""
      while ((j = index(line, from[k])) > 0) { out = out substr(line, 1, j - 1) to[k]; line = substr(line, j + length(from[k])) }
      line = out line
    }
    printf "%s\n", line
  }
  exit 0
}"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> FactQuery {
        let mut q = FactQuery { packages: true, firewall: true, ..FactQuery::default() };
        q.paths.extend(["/etc/motd".to_owned(), "/etc/a\tb".to_owned(), "/srv".to_owned(), "/x".to_owned()]);
        q.texts.insert("/etc/motd".into(), "0".repeat(64));
        q.users.insert("camille".into());
        q.units.insert("nginx".into());
        q
    }

    #[test]
    fn parses_every_record_kind() {
        let hello = base64::engine::general_purpose::STANDARD.encode("hello\n");
        let nft = r#"{"nftables":[{"metainfo":{}},{"rule":{"family":"inet","table":"chaton","chain":"input","handle":4,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":22}},{"accept":null}]}},{"rule":{"chain":"input","expr":[{"match":{"op":"==","left":{"payload":{"protocol":"udp","field":"dport"}},"right":{"set":[51820,53]}}},{"accept":null}]}}]}"#;
        let output = format!(
            "os\tdebian\t12\tbookworm\npkg\tii \tnginx\t1.22.1-9\npkg\trc \told\t1\npath\t1\tfile\troot\troot\t644\t6\tabc\ntext\t1\t{hello}\npath\t0\tmissing\npath\t2\tdir\troot\troot\t755\npath\t3\tlink\t{}\nuser\t0\tcamille:x:1000:1000:,,,:/home/camille:/bin/bash\tcamille,sudo\nunit\t0\tenabled\tactive\nfw\t{}\nstray warning line\npending\t{}\nend\n",
            base64::engine::general_purpose::STANDARD.encode("/etc/target"),
            base64::engine::general_purpose::STANDARD.encode(nft),
            base64::engine::general_purpose::STANDARD.encode("reload nginx"),
        );
        let f = parse(&output, &query()).unwrap();
        assert_eq!(f.os.codename, "bookworm");
        assert_eq!(f.packages.keys().collect::<Vec<_>>(), ["nginx"]);
        assert!(
            matches!(f.path("/etc/motd"), PathState::File { text: Some(t), mode, .. } if t == "hello\n" && *mode == FileMode(0o644))
        );
        assert_eq!(f.path("/etc/a\tb"), &PathState::Missing);
        assert!(matches!(f.path("/x"), PathState::Symlink { target } if target == "/etc/target"));
        assert!(f.users["camille"].groups.contains("sudo"));
        assert!(f.units["nginx"].enabled && f.units["nginx"].active);
        assert_eq!(f.firewall.unwrap(), BTreeSet::from([(22, Proto::Tcp), (53, Proto::Udp), (51820, Proto::Udp)]));
        assert_eq!(f.pending_handlers, ["reload nginx"]);
    }

    #[test]
    fn a_port_accepted_from_one_interface_only_is_not_open() {
        let nft = r#"{"nftables":[{"rule":{"chain":"input","expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"chaton-relay"}},{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":{"set":[8080,8443]}}},{"accept":null}]}},{"rule":{"chain":"input","expr":[{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":443}},{"accept":null}]}}]}"#;
        let ports = super::open_ports(nft.as_bytes()).unwrap();
        assert_eq!(ports.into_iter().collect::<Vec<_>>(), [(443, Proto::Tcp)]);
    }

    #[test]
    fn a_truncated_output_is_an_error() {
        assert!(parse("os\tdebian\t12\tbookworm\n", &query()).is_err());
    }

    #[test]
    fn the_script_quotes_hostile_paths() {
        let s = script(&query(), "/var/lib/chaton");
        // Sorted: "/etc/a\tb" comes before "/etc/motd".
        assert!(s.contains("chaton_path 0 '/etc/a\tb'\n"), "{s}");
        assert!(s.contains(&format!("chaton_text 1 /etc/motd {}\n", "0".repeat(64))));
    }

    /// The batched script, run for real by `sh` on files with hostile names: every kind
    /// comes back at its own index, with its digest, and the content only where it differs.
    #[test]
    fn the_script_reads_every_kind_of_path_in_one_batch() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name).display().to_string();
        std::fs::write(at("tab\tname"), "one\n").unwrap();
        std::fs::write(at("new\nline"), "two\n").unwrap();
        std::fs::write(at("same"), "three\n").unwrap();
        std::fs::set_permissions(at("same"), std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::create_dir(at("folder")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", at("link")).unwrap();
        let mut query = FactQuery::default();
        for name in ["tab\tname", "new\nline", "same", "folder", "link", "missing"] {
            query.paths.insert(at(name));
        }
        let digest = |text: &str| crate::command::sha256_hex(text.as_bytes());
        query.texts.insert(at("new\nline"), digest("other\n"));
        query.texts.insert(at("same"), digest("three\n"));
        let output = std::process::Command::new("sh").arg("-c").arg(script(&query, "/nonexistent")).output().unwrap();
        let facts = parse(&String::from_utf8(output.stdout).unwrap(), &query).unwrap();
        match facts.path(&at("new\nline")) {
            PathState::File { sha256, size, text, .. } => {
                assert_eq!((sha256.as_str(), *size), (digest("two\n").as_str(), 4));
                assert_eq!(text.as_deref(), Some("two\n"), "differs from the desired content: sent");
            }
            other => panic!("{other:?}"),
        }
        match facts.path(&at("same")) {
            PathState::File { sha256, mode, text, .. } => {
                assert_eq!(*sha256, digest("three\n"));
                assert_eq!(*mode, FileMode(0o600));
                assert_eq!(*text, None, "the desired content: not sent");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(facts.path(&at("tab\tname")), PathState::File { sha256, .. } if *sha256 == digest("one\n")));
        assert!(matches!(facts.path(&at("folder")), PathState::Directory { .. }));
        assert!(matches!(facts.path(&at("link")), PathState::Symlink { target } if target == "/etc/hostname"));
        assert_eq!(*facts.path(&at("missing")), PathState::Missing);
    }
}
