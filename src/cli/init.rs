//! `chaton init`: a new hoster's repository in one step. A few plain questions (or flags
//! with `--non-interactive`), then a complete, commented `hoster.yml` that passes
//! `chaton check` as it is, a `.gitignore` and a README. Never overwrites without --force.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};

use clap::ValueEnum;

use crate::error::{Error, exit};
use crate::site::check::{PLACEHOLDER_DOMAIN, PLACEHOLDER_NAME, PLACEHOLDER_PROVIDER};
use crate::vocab::values::{is_domain_name, is_email};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LegalFormArg {
    Person,
    Association,
    Company,
    Coop,
}

impl LegalFormArg {
    fn yaml(self) -> &'static str {
        match self {
            LegalFormArg::Person => "person",
            LegalFormArg::Association => "association",
            LegalFormArg::Company => "company",
            LegalFormArg::Coop => "coop",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Folder to write into (created if needed).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Ask nothing: take the flags, and defaults for the rest.
    #[arg(long)]
    non_interactive: bool,
    /// Replace files that already exist.
    #[arg(long)]
    force: bool,
    /// Name of the organisation.
    #[arg(long)]
    name: Option<String>,
    /// Contact email address.
    #[arg(long)]
    email: Option<String>,
    /// Domain of the website (example: amipo.example).
    #[arg(long)]
    domain: Option<String>,
    #[arg(long, value_enum)]
    legal_form: Option<LegalFormArg>,
    /// Address of the first server (IP, DNS name or ~/.ssh/config alias).
    #[arg(long)]
    server_address: Option<String>,
    /// The account chaton logs in with on that server.
    #[arg(long)]
    ssh_user: Option<String>,
    /// A service to offer, by recipe (repeat for several; see `chaton recipes list`).
    #[arg(long = "service", value_name = "RECIPE")]
    services: Vec<String>,
}

/// The answers, whatever way they came.
struct Answers {
    name: String,
    email: String,
    domain: String,
    legal_form: LegalFormArg,
    server_address: String,
    ssh_user: String,
    services: Vec<String>,
}

/// Asks on stderr, reads a line on stdin; empty (or end of input) takes the default.
/// Re-asks until `valid` accepts the answer.
fn ask(question: &str, default: &str, valid: &dyn Fn(&str) -> Result<(), String>) -> String {
    let stdin = std::io::stdin();
    for _ in 0..5 {
        eprint!("{question} [{default}]: ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line).unwrap_or(0) == 0 {
            eprintln!();
            return default.to_owned();
        }
        let answer = line.trim();
        let answer = if answer.is_empty() { default } else { answer };
        match valid(answer) {
            Ok(()) => return answer.to_owned(),
            Err(why) => eprintln!("  {why}"),
        }
    }
    default.to_owned()
}

fn anything(_: &str) -> Result<(), String> {
    Ok(())
}

fn domain_ok(d: &str) -> Result<(), String> {
    if is_domain_name(d) {
        Ok(())
    } else {
        Err("a domain looks like amipo.example: lower case letters, digits, `-` and dots".into())
    }
}

fn email_ok(e: &str) -> Result<(), String> {
    if is_email(e) { Ok(()) } else { Err("an email address looks like contact@amipo.example".into()) }
}

fn collect(args: &InitArgs) -> Answers {
    let interactive = !args.non_interactive;
    let pick =
        |given: &Option<String>, question: &str, default: &str, valid: &dyn Fn(&str) -> Result<(), String>| match given
        {
            Some(v) => v.clone(),
            None if interactive => ask(question, default, valid),
            None => default.to_owned(),
        };
    let name = pick(&args.name, "Name of your organisation", PLACEHOLDER_NAME, &anything);
    let domain = pick(&args.domain, "Domain of your website", PLACEHOLDER_DOMAIN, &domain_ok);
    let email = pick(&args.email, "Contact email address", &format!("contact@{domain}"), &email_ok);
    let legal_form = match args.legal_form {
        Some(f) => f,
        None if interactive => {
            let answer = ask("Legal form (person, association, company, coop)", "association", &|a| {
                LegalFormArg::from_str(a, true)
                    .map(|_| ())
                    .map_err(|_| "one of: person, association, company, coop".into())
            });
            LegalFormArg::from_str(&answer, true).unwrap_or(LegalFormArg::Association)
        }
        None => LegalFormArg::Association,
    };
    let server_address = pick(
        &args.server_address,
        "Address of your first server (IP, name or ~/.ssh/config alias)",
        "192.0.2.10",
        &|a| {
            if a.is_empty() || a.contains(char::is_whitespace) {
                Err("one word: an address or a name".into())
            } else {
                Ok(())
            }
        },
    );
    let ssh_user = pick(&args.ssh_user, "Account chaton logs in with on it", "root", &|u| {
        if crate::vocab::values::is_unix_name(u) {
            Ok(())
        } else {
            Err("a Unix login: lower case letters, digits, `-`, `_`".into())
        }
    });
    let offered = service_recipes();
    let valid_services = |list: &str| -> Result<(), String> {
        let unknown: Vec<&str> =
            list.split([',', ' ']).filter(|s| !s.is_empty()).filter(|s| !offered.iter().any(|o| o == s)).collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(format!("unknown: {}; available: {}", unknown.join(", "), offered.join(", ")))
        }
    };
    let services = if !args.services.is_empty() {
        args.services.clone()
    } else {
        let default = "website".to_owned();
        let answer = if interactive {
            ask(&format!("Services to offer ({})", offered.join(", ")), &default, &valid_services)
        } else {
            default
        };
        answer.split([',', ' ']).filter(|s| !s.is_empty()).map(str::to_owned).collect()
    };
    Answers { name, email, domain, legal_form, server_address, ssh_user, services }
}

/// The recipes a hoster can offer as services.
fn service_recipes() -> Vec<String> {
    crate::recipe::Catalogue::builtin()
        .map(|c| {
            c.recipes()
                .filter(|r| r.recipe.kind == crate::recipe::model::RecipeKind::Service)
                .map(|r| r.recipe.name.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The `services:` entries: the website on the main domain, others on sub-domains.
fn services_yaml(a: &Answers, date: &str) -> String {
    let mut out = String::new();
    for recipe in &a.services {
        let (name, domain, params) = if recipe == "website" {
            (
                "site".to_owned(),
                a.domain.clone(),
                "    params:\n      # Publish the charter pages on this website.\n      charter_site: true\n",
            )
        } else {
            (recipe.clone(), format!("{recipe}.{}", a.domain), "")
        };
        out.push_str(&format!(
            "  - name: {name}\n    recipe: {recipe}\n    server: server1\n    domain: {domain}\n    access:\n      registration: none\n    start_date: {date}\n{params}"
        ));
    }
    out
}

fn today() -> String {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    crate::engine::utc_timestamp(seconds)[..10].to_owned()
}

/// A YAML string value, quoted.
fn q(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialize")
}

fn description(a: &Answers, date: &str) -> String {
    format!(
        r#"# The description of {name}, for chaton.
#
# One file says who you are, your servers and the services you offer. chaton uses it
# to set up the servers and to write the pages the CHATONS charter asks you to publish.
#
#   chaton check hoster.yml              # is it valid?
#   chaton plan hoster.yml --offline     # what would be done on a fresh server
#   chaton docs hoster.yml --out site    # the charter pages
#
# YAML in two lines: `key: value`; indentation (spaces, never tabs) says what belongs to
# what; `- ` starts a list item; `#` starts a comment.

# Who you are: published on your legal-notice and about pages.
organisation:
  name: {name_q}
  # One or two sentences about what you do.
  description: {description_q}
  website: https://{domain}
  # person, association, company or coop.
  legal_form: {legal_form}
  # The person legally responsible for what is published.
  publication_director: {name_q}
  contact:
    email: {email}
  # When you started hosting services (YYYY-MM-DD).
  start_date: {date}
  # Default language of the charter pages: fr or en (both are always generated).
  language: fr
  # How you are funded: the charter asks for a page about it.
  economic_model:
    for_profit: false
    funding:
      - donations
    price_policy: Services are free.

# People with an account on every server: add yourself with your SSH public key (the
# line in ~/.ssh/id_ed25519.pub), then set ssh_user below to your login.
admins: []

servers:
  - name: server1
    # An IP address, a DNS name or a Host alias from ~/.ssh/config.
    address: {server}
    ssh_user: {ssh_user}
    provider:
      name: {placeholder_provider}
      # home, hosted_bay, hosted_server or outsourced.
      type: outsourced
      # Two-letter country code where the machine is.
      country: FR
    # owned, rented or vps.
    control: vps
    # debian-12 or debian-13.
    distribution: debian-12

# Your services (see `chaton recipes list`).
services:
{services}
# The charter pages.
site:
  # The date the pages show: change it when you change this file.
  updated: {date}
  # Set to true once you have read and adapted the proposed terms of use.
  terms_reviewed: false

backups:
  schedule: daily
  retention:
    daily: 7
    weekly: 4
  destinations:
    - name: local
      provider: {placeholder_provider}
      country: FR
  encryption: true
"#,
        name = a.name.replace('\n', " "),
        name_q = q(&a.name),
        description_q = q(&format!("{} offers free-software services to its members and neighbours.", a.name)),
        domain = a.domain,
        legal_form = a.legal_form.yaml(),
        email = q(&a.email),
        server = q(&a.server_address),
        ssh_user = a.ssh_user,
        services = services_yaml(a, date),
        placeholder_provider = PLACEHOLDER_PROVIDER,
    )
}

const GITIGNORE: &str = "# Built by chaton, rebuilt at will.\n/site/\n/rendered/\n/lab/\nplan.json\n# Backup passphrases and keys: keep a copy somewhere safe, away from the servers, and\n# out of this repository.\n/secrets/\n";

fn readme(a: &Answers) -> String {
    format!(
        "# {name}: our servers, described for chaton\n\n`hoster.yml` describes who we are, our servers and our services. With chaton:\n\n```sh\nchaton check hoster.yml          # valid?\nchaton plan hoster.yml           # what would change on the servers\nchaton apply hoster.yml          # make it so\nchaton verify hoster.yml         # and check it\nchaton docs hoster.yml --out site --check   # the charter pages\n```\n\n`known_hosts` (written by `chaton apply --accept-new`) holds the servers' host keys:\ncommit it, it is how chaton recognises them. `backup-drills.json` (written by\n`chaton backup drill`) records the restore drills the infrastructure page states: commit it\ntoo. `secrets/` holds the servers' backup passphrases and keys: never commit it, and keep\na copy somewhere safe, away from the servers: without it, backups cannot be read.\n",
        name = a.name.replace('\n', " ")
    )
}

pub fn run(args: InitArgs) -> Result<u8, Error> {
    let targets: Vec<PathBuf> = ["hoster.yml", ".gitignore", "README.md"].iter().map(|f| args.dir.join(f)).collect();
    let existing: Vec<String> = targets.iter().filter(|p| p.exists()).map(|p| p.display().to_string()).collect();
    let offered = service_recipes();
    if let Some(unknown) = args.services.iter().find(|s| !offered.contains(s)) {
        return Err(Error::Output(format!("unknown service recipe \"{unknown}\"; available: {}", offered.join(", "))));
    }
    if !existing.is_empty() && !args.force {
        return Err(Error::Output(format!(
            "{} already exist(s); nothing was written (use --force to replace)",
            existing.join(", ")
        )));
    }
    let answers = collect(&args);
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| Error::Output(format!("cannot create {}: {e}", args.dir.display())))?;
    let files = [
        (&targets[0], description(&answers, &today())),
        (&targets[1], GITIGNORE.to_owned()),
        (&targets[2], readme(&answers)),
    ];
    for (path, text) in files {
        super::output::write_atomically(Path::new(path), text.as_bytes())?;
    }
    eprintln!(
        "wrote {}. Next: chaton check {}",
        targets.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
        targets[0].display()
    );
    Ok(exit::OK)
}
