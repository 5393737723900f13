//! `chaton init`: a new hoster's repository in one step. A few plain questions (or flags
//! with `--non-interactive`), then a complete, commented `hoster.yml` that passes
//! `chaton check` as it is, a `.gitignore` and a README. Never overwrites without --force.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};

use clap::ValueEnum;

use crate::error::{Error, exit};
use crate::site::check::{PLACEHOLDER_DOMAIN, PLACEHOLDER_NAME, PLACEHOLDER_PROVIDER};
use crate::vocab::values::{is_domain_name, is_email, is_ssh_public_key};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum LegalFormArg {
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
pub(super) struct InitArgs {
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
    /// Postal address of the organisation (the legal notice gives it).
    #[arg(long)]
    address: Option<String>,
    /// The first admin's name.
    #[arg(long)]
    admin_name: Option<String>,
    /// The first admin's login on the servers.
    #[arg(long)]
    admin_login: Option<String>,
    /// The first admin's SSH public key: the key itself, or a `.pub` file holding it.
    #[arg(long)]
    admin_key: Option<String>,
    /// Name of the first server's hosting provider.
    #[arg(long)]
    provider: Option<String>,
    /// Postal address of that provider (a French legal notice must give it).
    #[arg(long)]
    provider_address: Option<String>,
    /// Phone number of that provider (a French legal notice must give it).
    #[arg(long)]
    provider_phone: Option<String>,
}

/// The answers, whatever way they came. `None`: not known yet (a comment in the file, and
/// the self-check names it).
struct Answers {
    name: String,
    email: String,
    domain: String,
    legal_form: LegalFormArg,
    address: Option<String>,
    admin: Option<Admin>,
    server_address: String,
    ssh_user: String,
    provider: String,
    provider_address: Option<String>,
    provider_phone: Option<String>,
    services: Vec<String>,
}

/// The first admin: who they are and the key they log in with.
struct Admin {
    name: String,
    login: String,
    key: String,
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

fn collect(args: &InitArgs) -> Result<Answers, Error> {
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
    let optional = |given: &Option<String>, question: &str| -> Option<String> {
        let answer = match given {
            Some(v) => v.clone(),
            None if interactive => ask(question, "", &anything),
            None => String::new(),
        };
        Some(answer.trim().to_owned()).filter(|a| !a.is_empty())
    };
    let address = optional(&args.address, "Postal address of the organisation (empty: later)");
    let admin = collect_admin(args, interactive)?;
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
    let provider = pick(&args.provider, "Name of its hosting provider", PLACEHOLDER_PROVIDER, &anything);
    let provider_address = optional(&args.provider_address, "The provider's postal address (empty: later)");
    let provider_phone = optional(&args.provider_phone, "The provider's phone number (empty: later)");
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
        // The first recipe that can publish the charter pages: a hoster starts with them.
        let default = offered.iter().find(|r| publishes_charter(r)).cloned().unwrap_or_default();
        let answer = if interactive {
            ask(&format!("Services to offer ({})", offered.join(", ")), &default, &valid_services)
        } else {
            default
        };
        answer.split([',', ' ']).filter(|s| !s.is_empty()).map(str::to_owned).collect()
    };
    Ok(Answers {
        name,
        email,
        domain,
        legal_form,
        address,
        admin,
        server_address,
        ssh_user,
        provider,
        provider_address,
        provider_phone,
        services,
    })
}

/// The SSH public keys in `~/.ssh/*.pub`, as (file, key line), sorted by file name.
fn keys_found() -> Vec<(PathBuf, String)> {
    let Some(home) = std::env::var_os("HOME") else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(Path::new(&home).join(".ssh")) else { return Vec::new() };
    let mut found: Vec<(PathBuf, String)> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pub"))
        .filter_map(|p| {
            let line = std::fs::read_to_string(&p).ok()?.lines().next()?.trim().to_owned();
            is_ssh_public_key(&line).then_some((p, line))
        })
        .collect();
    found.sort();
    found
}

/// An SSH public key given as the key itself or as a file holding it.
fn key_from(given: &str) -> Result<String, String> {
    let given = given.trim();
    if is_ssh_public_key(given) {
        return Ok(given.to_owned());
    }
    let path = match given.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME").map(|h| Path::new(&h).join(rest)).unwrap_or_else(|| rest.into()),
        None => PathBuf::from(given),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => match text.lines().next().map(str::trim) {
            Some(line) if is_ssh_public_key(line) => Ok(line.to_owned()),
            _ => Err(format!("{} holds no SSH public key (the .pub file, not the private key)", path.display())),
        },
        Err(_) => Err("an SSH public key (ssh-ed25519 AAAA...), or the .pub file that holds it".into()),
    }
}

/// A login made from a name: its first word, lower case, letters and digits only.
fn login_from(name: &str) -> String {
    let word: String = name
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    if word.chars().next().is_some_and(|c| c.is_ascii_lowercase()) { word } else { "admin".to_owned() }
}

/// The first admin, asked or from the flags: nobody when no key is given (the self-check
/// then says no admin is described).
fn collect_admin(args: &InitArgs, interactive: bool) -> Result<Option<Admin>, Error> {
    if !interactive {
        let Some(given) = &args.admin_key else { return Ok(None) };
        let key = key_from(given).map_err(|e| Error::Output(format!("--admin-key: {e}")))?;
        let login = args.admin_login.clone().unwrap_or_else(|| login_from(args.admin_name.as_deref().unwrap_or("")));
        if !crate::vocab::values::is_unix_name(&login) {
            return Err(Error::Output(format!("--admin-login: {login:?} is not a Unix login")));
        }
        let name = args.admin_name.clone().unwrap_or_else(|| login.clone());
        return Ok(Some(Admin { name, login, key }));
    }
    let name = match &args.admin_name {
        Some(n) => n.clone(),
        None => ask("Your name, as the first admin of the servers (empty: later)", "", &anything),
    };
    if name.trim().is_empty() && args.admin_key.is_none() {
        return Ok(None);
    }
    let login = match &args.admin_login {
        Some(l) => l.clone(),
        None => ask("Your login on the servers", &login_from(&name), &|u| {
            if crate::vocab::values::is_unix_name(u) {
                Ok(())
            } else {
                Err("a Unix login: lower case letters, digits, `-`, `_`".into())
            }
        }),
    };
    let key = match &args.admin_key {
        Some(k) => key_from(k).map_err(|e| Error::Output(format!("--admin-key: {e}")))?,
        None => {
            let found = keys_found();
            for (i, (path, line)) in found.iter().enumerate() {
                let comment = line.split_whitespace().nth(2).unwrap_or_default();
                eprintln!("  {}) {} {comment}", i + 1, path.display());
            }
            let default = if found.is_empty() { String::new() } else { "1".to_owned() };
            let answer = ask(
                "Your SSH public key: a number above, a .pub file, or the key itself (empty: later)",
                &default,
                &|a| {
                    if a.is_empty() || a.parse::<usize>().is_ok_and(|n| (1..=found.len()).contains(&n)) {
                        Ok(())
                    } else {
                        key_from(a).map(|_| ())
                    }
                },
            );
            match answer.parse::<usize>() {
                Ok(n) if (1..=found.len()).contains(&n) => found[n - 1].1.clone(),
                _ if answer.trim().is_empty() => return Ok(None),
                _ => key_from(&answer).map_err(Error::Output)?,
            }
        }
    };
    let name = if name.trim().is_empty() { login.clone() } else { name.trim().to_owned() };
    Ok(Some(Admin { name, login, key }))
}

/// What the written description leaves as a placeholder or out, in plain words.
fn placeholders_left(a: &Answers) -> Vec<&'static str> {
    let mut left = Vec::new();
    if a.name == PLACEHOLDER_NAME {
        left.push("the organisation's name");
    }
    if a.domain == PLACEHOLDER_DOMAIN {
        left.push("the website's domain");
    }
    if a.address.is_none() {
        left.push("the organisation's postal address");
    }
    if a.admin.is_none() {
        left.push("the first admin and their SSH key");
    }
    if a.provider == PLACEHOLDER_PROVIDER {
        left.push("the hosting provider's name");
    }
    if a.provider_address.is_none() || a.provider_phone.is_none() {
        left.push("the provider's address and phone");
    }
    left.push("the review of the terms of use (site.terms_reviewed)");
    left
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

/// `admins:`, with the first admin when known.
fn admins_yaml(a: &Answers) -> String {
    match &a.admin {
        Some(admin) => format!(
            "# People with an account on every server, with sudo, who log in with their SSH keys. Once\n\
             # the first apply made the accounts, set ssh_user below to your login.\n\
             admins:\n  - name: {}\n    login: {}\n    ssh_keys:\n      - {}\n    \
             # Signed the confidentiality commitment the charter asks of admins?\n    \
             confidentiality_commitment: false\n",
            q(&admin.name),
            admin.login,
            q(&admin.key)
        ),
        None => "# People with an account on every server: add yourself with your SSH public key (the\n\
                 # line in ~/.ssh/id_ed25519.pub), then set ssh_user below to your login.\n\
                 admins: []\n"
            .to_owned(),
    }
}

/// The provider's address and phone, or comments saying where they go.
fn provider_details_yaml(a: &Answers) -> String {
    let line = |key: &str, value: &Option<String>, example: &str| match value {
        Some(v) => format!("      {key}: {}\n", q(v)),
        None => format!("      # {key}: {example}\n"),
    };
    format!(
        "      # Its postal address and phone: a French legal notice must give them.\n{}{}",
        line("address", &a.provider_address, "16 rue de la Paix, 31000 Toulouse"),
        line("phone", &a.provider_phone, "+33 5 00 00 00 00")
    )
}

/// `registration:` for a recipe: for members where the hoster makes the accounts, open to
/// all without registration otherwise (ChatonsInfos' MEMBER and NONE).
fn registration_of(recipe: &str) -> &'static str {
    let accounts = crate::recipe::Catalogue::builtin()
        .ok()
        .and_then(|c| c.get(recipe).map(|l| l.recipe.data.accounts))
        .unwrap_or(false);
    if accounts { "member" } else { "none" }
}

/// Whether services of `recipe` can publish the charter pages (it has a `charter_site`
/// parameter, as the website recipe does).
fn publishes_charter(recipe: &str) -> bool {
    crate::recipe::Catalogue::builtin()
        .ok()
        .is_some_and(|c| c.get(recipe).is_some_and(|l| l.recipe.params.contains_key("charter_site")))
}

/// The `services:` entries: the first that can publish the charter pages on the main
/// domain, the others on sub-domains.
fn services_yaml(a: &Answers, date: &str) -> String {
    let mut out = String::new();
    let charter = a.services.iter().find(|r| publishes_charter(r));
    for recipe in &a.services {
        let (name, domain, params) = if Some(recipe) == charter {
            (
                "site".to_owned(),
                a.domain.clone(),
                "    params:\n      # Publish the charter pages on this website.\n      charter_site: true\n",
            )
        } else {
            (recipe.clone(), format!("{recipe}.{}", a.domain), "")
        };
        out.push_str(&format!(
            "  - name: {name}\n    recipe: {recipe}\n    server: server1\n    domain: {domain}\n    access:\n      # none: used without an account; member: accounts the hoster makes.\n      registration: {registration}\n    start_date: {date}\n{params}",
            registration = registration_of(recipe),
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
  # One or two sentences about what you do, in French and English (the pages of each
  # language show their own; one string is shown on both).
  description:
    fr: {description_fr}
    en: {description_q}
  website: https://{domain}
  # person, association, company or coop.
  legal_form: {legal_form}
  # The person legally responsible for what is published.
  publication_director: {name_q}
{address}
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
      - {{fr: dons, en: donations}}
    price_policy:
      fr: Les services sont gratuits.
      en: Services are free.

{admins}
servers:
  - name: server1
    # An IP address, a DNS name or a Host alias from ~/.ssh/config.
    address: {server}
    ssh_user: {ssh_user}
    provider:
      name: {provider}
{provider_details}      # home, hosted_bay, hosted_server or outsourced.
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
      provider: {provider}
      country: FR
  encryption: true
"#,
        name = a.name.replace('\n', " "),
        name_q = q(&a.name),
        description_q = q(&format!("{} offers free-software services to its members and neighbours.", a.name)),
        description_fr = q(&format!("{} propose des services libres à ses membres et à ses voisins.", a.name)),
        domain = a.domain,
        legal_form = a.legal_form.yaml(),
        email = q(&a.email),
        server = q(&a.server_address),
        ssh_user = a.ssh_user,
        services = services_yaml(a, date),
        address = match &a.address {
            Some(address) => format!("  # The postal address the legal notice gives.\n  address: {}", q(address)),
            None => "  # The postal address the legal notice gives (a French one must):\n  # address: 1 rue de la Paix, 31000 Toulouse".to_owned(),
        },
        admins = admins_yaml(a),
        provider = q(&a.provider),
        provider_details = provider_details_yaml(a),
    )
}

const GITIGNORE: &str = "# Built by chaton, rebuilt at will.\n/site/\n/rendered/\n/lab/\nplan.json\n# Backup passphrases and keys: keep a copy somewhere safe, away from the servers, and\n# out of this repository.\n/secrets/\n# A service's move (`chaton move`): its journal, and its data on the way.\n/moves/\n";

fn readme(a: &Answers) -> String {
    format!(
        "# {name}: our servers, described for chaton\n\n`hoster.yml` describes who we are, our servers and our services. With chaton:\n\n```sh\nchaton check hoster.yml          # valid?\nchaton plan hoster.yml           # what would change on the servers\nchaton apply hoster.yml          # make it so\nchaton verify hoster.yml         # and check it\nchaton docs hoster.yml --out site --check   # the charter pages\n```\n\n`known_hosts` (written by `chaton apply --accept-new`) holds the servers' host keys:\ncommit it, it is how chaton recognises them. `backup-drills.json` (written by\n`chaton backup drill`) records the restore drills the infrastructure page states: commit it\ntoo. `secrets/` holds the servers' backup passphrases and keys: never commit it, and keep\na copy somewhere safe, away from the servers: without it, backups cannot be read.\n",
        name = a.name.replace('\n', " ")
    )
}

pub(super) fn run(args: InitArgs) -> Result<u8, Error> {
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
    use std::io::IsTerminal as _;
    if !args.non_interactive && !std::io::stdin().is_terminal() {
        return Err(Error::Output(
            "chaton init asks its questions in a terminal, and standard input is not one: nothing was written. \
             Give the answers as flags with --non-interactive (see chaton init --help); what no flag gives is left \
             as a placeholder that chaton docs --check names"
                .into(),
        ));
    }
    let answers = collect(&args)?;
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
    let left = placeholders_left(&answers);
    if !left.is_empty() {
        eprintln!(
            "left for you to fill in (`chaton docs {} --check` names them until you do): {}",
            targets[0].display(),
            left.join(", ")
        );
    }
    eprintln!(
        "wrote {}. Next: chaton check {}",
        targets.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
        targets[0].display()
    );
    Ok(exit::OK)
}
