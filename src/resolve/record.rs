//! The record of what chaton manages on a server (`STATE/managed`), so that what leaves the
//! description leaves the server too.
//!
//! Each apply that finishes writes, as its last resource, one line per thing the description
//! puts on the server: `KIND<TAB>NAME<TAB>ORIGIN[<TAB>HANDLER...]` (the handlers its change
//! notifies, run again when it is removed: a removed site reloads nginx). The facts script
//! reads the lines whose `KIND<TAB>NAME` the description no longer has, and the plan removes
//! those things (`plan::removal`) or reports them kept when they are data.
//!
//! Commands and firewall ports are not recorded: a command leaves nothing of its own, and the
//! firewall is one file rendered from the ports described, so a port that goes is closed by
//! the next firewall change.

use super::Desired;
use crate::resource::Resource;
use crate::resource::file::File;
use crate::vocab::values::FileMode;

/// The record's file name in the state folder.
pub const RECORD: &str = "managed";

/// One recorded thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Managed {
    pub kind: &'static str,
    pub name: String,
    /// The service or recipe that wanted it.
    pub origin: String,
    /// Handlers its change notified.
    pub notify: Vec<String>,
}

impl Managed {
    /// `KIND<TAB>NAME`: what the facts script compares.
    pub fn key(&self) -> String {
        format!("{}\t{}", self.kind, self.name)
    }

    fn line(&self) -> String {
        let mut fields = vec![self.kind.to_owned(), self.name.clone(), self.origin.clone()];
        fields.extend(self.notify.iter().cloned());
        fields.join("\t")
    }
}

/// Whether a value can stand in a record field: a control character (a tab, a newline) would
/// shift the fields, and a shifted line could name something else to remove. Such values are
/// refused by validation long before; this keeps the record safe whatever comes.
fn fits(value: &str) -> bool {
    !value.is_empty() && !value.chars().any(char::is_control)
}

/// What `resources` put on the server, one entry per thing (a package resource names several),
/// in order, each once.
pub fn managed(resources: &[Desired]) -> Vec<Managed> {
    let mut out: Vec<Managed> = Vec::new();
    for desired in resources {
        let kind = desired.resource.kind();
        let names: Vec<(&'static str, String)> =
            desired.resource.recorded().into_iter().map(|name| (kind, name)).collect();
        for (kind, name) in names {
            let entry = Managed {
                kind,
                name,
                origin: desired.origin.clone(),
                notify: desired.notify.iter().filter(|n| fits(n)).cloned().collect(),
            };
            if !fits(&entry.name) || !fits(&entry.origin) || out.iter().any(|e| e.key() == entry.key()) {
                continue;
            }
            out.push(entry);
        }
    }
    out
}

/// The record as a file resource, written last (so a run that fails keeps the old record, and
/// the next run still knows what to remove), root-only.
pub fn record_resource(resources: &[Desired], state_dir: &str) -> Desired {
    let mut content =
        String::from("# Written by chaton: what it manages on this server, to remove what leaves the description.\n");
    for entry in managed(resources) {
        content.push_str(&entry.line());
        content.push('\n');
    }
    Desired {
        resource: Resource::File(File {
            path: format!("{state_dir}/{RECORD}"),
            content: content.into_bytes(),
            owner: "root".into(),
            group: "root".into(),
            mode: FileMode(0o600),
            validate: None,
            sensitive: false,
            secrets: Vec::new(),
            guards_access: false,
        }),
        origin: "chaton".into(),
        notify: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::package::Package;
    use crate::vocab::Presence;

    fn file(path: &str, origin: &str, notify: &[&str]) -> Desired {
        Desired {
            resource: Resource::File(File {
                path: path.into(),
                content: Vec::new(),
                owner: "root".into(),
                group: "root".into(),
                mode: FileMode(0o644),
                validate: None,
                sensitive: false,
                secrets: Vec::new(),
                guards_access: false,
            }),
            origin: origin.into(),
            notify: notify.iter().map(|n| (*n).to_owned()).collect(),
        }
    }

    #[test]
    fn each_thing_is_recorded_once_with_its_origin_and_handlers_and_nothing_that_could_shift_a_field() {
        let resources = vec![
            Desired {
                resource: Resource::Package(Package {
                    names: vec!["nginx".into(), "curl".into()],
                    state: Presence::Present,
                }),
                origin: "web".into(),
                notify: Vec::new(),
            },
            file("/etc/nginx/chaton/sites/pads.conf", "pads", &["reload nginx"]),
            file("/etc/nginx/chaton/sites/pads.conf", "pads", &["reload nginx"]),
            file("/etc/evil\tfile", "pads", &[]),
        ];
        let lines: Vec<String> = managed(&resources).iter().map(Managed::line).collect();
        assert_eq!(
            lines,
            [
                "package\tnginx\tweb",
                "package\tcurl\tweb",
                "file\t/etc/nginx/chaton/sites/pads.conf\tpads\treload nginx"
            ]
        );
    }
}
