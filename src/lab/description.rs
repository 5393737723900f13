//! A ready-to-use description for the lab's hosts: every host pinned by its host key, the
//! lab key to log in, a website on each, so `chaton apply lab/hoster.yml` works at once.

use std::fmt::Write as _;
use std::path::Path;

use super::{LabError, LabState};
use crate::description::model::Hoster;
use crate::vocab::Distribution;

fn distribution_name(d: Distribution) -> &'static str {
    match d {
        Distribution::Debian12 => "debian-12",
        Distribution::Debian13 => "debian-13",
    }
}

/// Writes `hoster.yml` in the lab folder and returns its path.
pub fn write_description(state: &LabState) -> Result<std::path::PathBuf, LabError> {
    let public_key = std::fs::read_to_string(state.key.with_extension("pub"))
        .map_err(|e| LabError::Step { what: "reading the lab key".into(), detail: e.to_string() })?;
    let public_key = public_key.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    let mut y = String::new();
    let _ = writeln!(
        y,
        "# A description of the practice servers of `chaton lab up`. Try:\n#   chaton plan {dir}/hoster.yml\n#   chaton apply {dir}/hoster.yml\n#   chaton verify {dir}/hoster.yml\n# The hosts are real Debian systems in containers on this machine; `chaton lab down`\n# removes them.",
        dir = state.dir.display()
    );
    y.push_str(
        "organisation:
  name: Lab association
  description: A practice hoster on local lab servers.
  website: https://lab.test
  legal_form: association
  publication_director: Lab Admin
  contact:
    email: admin@lab.test
  start_date: 2024-01-01
  language: en
  economic_model:
    for_profit: false
    funding: [donations]
admins:
  - name: Lab Admin
    login: labadmin
    ssh_keys:
",
    );
    let _ = writeln!(y, "      - {public_key} chaton-lab\n    confidentiality_commitment: true\nservers:");
    // A home host is relayed by the first host that is not at home.
    let relay = state.hosts.iter().find(|h| h.home.is_none()).map(|h| h.name.as_str());
    for host in &state.hosts {
        let _ = writeln!(
            y,
            "  - name: {name}
    address: {address}
    ssh_user: root
    # Pinned: chaton refuses the host if its key ever changes.
    host_key: {key}
    ssh_key: {ssh_key}
    provider:
      name: chaton lab on this machine
      type: {kind}
      country: FR
    hypervisor: systemd-nspawn
    control: owned
    distribution: {distribution}",
            name = host.name,
            address = host.address,
            key = host.host_key,
            ssh_key = relative(&state.key, &state.dir),
            distribution = distribution_name(host.distribution),
            // A relay is what visitors reach: a rented server, for the charter's pages.
            kind = if relay == Some(host.name.as_str()) && state.hosts.iter().any(|h| h.home.is_some()) {
                "hosted_server"
            } else {
                "home"
            },
        );
        if let (Some(_), Some(relay)) = (&host.home, relay) {
            let _ = writeln!(
                y,
                "    # At home behind a household router: reached through {relay}'s tunnel, or at\n    # the address above from the home's own network (the lab's `ip netns exec {box_ns}`).\n    relay: {relay}",
                box_ns = host.home.as_ref().map(|r| r.netns.as_str()).unwrap_or_default()
            );
        }
    }
    y.push_str("services:\n");
    // A website on each host not at home.
    for host in state.hosts.iter().filter(|h| h.home.is_none()) {
        let _ = writeln!(
            y,
            "  - name: site-{name}\n    recipe: website\n    server: {name}\n    domain: {name}.lab.test\n    access:\n      registration: none",
            name = host.name
        );
    }
    y.push_str(
        "backups:
  schedule: daily
  retention:
    daily: 7
  destinations:
    - name: local
      provider: chaton lab on this machine
      country: FR
  encryption: true
",
    );
    if let Some(acme) = &state.acme {
        let _ = writeln!(
            y,
            "# The lab's test certificate authority (pebble) stands in for Let's Encrypt.\ninfrastructure:\n  web:\n    acme_directory: {}\n    acme_ca_certificate: |",
            acme.directory
        );
        for line in acme.ca_certificate.lines() {
            let _ = writeln!(y, "      {line}");
        }
    }
    let path = state.dir.join("hoster.yml");
    std::fs::write(&path, y)
        .map_err(|e| LabError::Step { what: "writing the lab description".into(), detail: e.to_string() })?;
    Ok(path)
}

/// Writes `hoster.yml` in the lab folder as a lab copy of the hoster's own description
/// (`hoster`, from the folder `source_dir`): each server points at the lab host of its name
/// (address, pinned host key, the lab key, root, a container), and the lab's certificate
/// authority stands in for Let's Encrypt; the rest (organisation, admins, services,
/// backups, the charter pages) is theirs. Written as JSON, which is YAML: the copy is made
/// again by each `lab up --for`, never edited.
pub fn write_copy(state: &LabState, hoster: &Hoster, source: &Path) -> Result<std::path::PathBuf, LabError> {
    let fail = |what: &str, detail: String| LabError::Step { what: what.into(), detail };
    let mut value = serde_json::to_value(hoster).map_err(|e| fail("copying the description", e.to_string()))?;
    for server in value["servers"].as_array_mut().into_iter().flatten() {
        let name = server["name"].as_str().unwrap_or_default().to_owned();
        let host = state.host(&name).ok_or_else(|| fail("copying the description", format!("no lab host {name}")))?;
        let Some(fields) = server.as_object_mut() else { continue };
        for (key, text) in [
            ("address", host.address.clone()),
            ("ssh_user", "root".to_owned()),
            ("host_key", host.host_key.clone()),
            ("ssh_key", relative(&state.key, &state.dir)),
            ("hypervisor", "systemd-nspawn".to_owned()),
        ] {
            fields.insert(key.into(), serde_json::Value::String(text));
        }
        // Reached directly on the lab's network, on port 22.
        fields.remove("port");
        fields.remove("proxy_jump");
    }
    if let Some(acme) = &state.acme {
        let web = &mut value["infrastructure"]["web"];
        web["acme_directory"] = acme.directory.clone().into();
        web["acme_ca_certificate"] = acme.ca_certificate.clone().into();
    }
    // A recipes folder of their own stays theirs, wherever the copy is.
    if let Some(dir) = hoster.recipes_dir.as_deref().filter(|d| !Path::new(d).is_absolute()) {
        let folder = source.parent().unwrap_or(Path::new(".")).join(dir);
        value["recipes_dir"] = std::fs::canonicalize(&folder).unwrap_or(folder).display().to_string().into();
    }
    let text = serde_json::to_string_pretty(&value).map_err(|e| fail("copying the description", e.to_string()))?;
    let header = format!(
        "# A lab copy of {}, made by `chaton lab up --for`: each server is the lab host of its\n\
         # name on this machine, certificates come from the lab's test authority. Change the\n\
         # description itself, then run `chaton lab up --for` again; this copy is remade.\n\
         # Try: chaton apply {dir}/hoster.yml, then chaton docs {dir}/hoster.yml --out site\n",
        source.display(),
        dir = state.dir.display()
    );
    let path = state.dir.join("hoster.yml");
    std::fs::write(&path, format!("{header}{text}\n"))
        .map_err(|e| fail("writing the lab description", e.to_string()))?;
    Ok(path)
}

fn relative(path: &Path, base: &Path) -> String {
    path.strip_prefix(base).unwrap_or(path).display().to_string()
}
