//! The command line: argument parsing and dispatch. The only module that prints: data on
//! stdout, messages and diagnostics on stderr.

mod backup;
mod docs;
mod init;
mod keys;
mod lab;
mod moving;
mod output;
mod plan_text;
mod recipes;
mod remote;
mod render;

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::error::{Error, exit};
use crate::facts::fresh::fresh;
use crate::pipeline::{self, KeysFrom};
use crate::plan::{self, FactsSource};

const EXIT_CODES: &str = "\
Exit codes:
  0  success (with --detailed-exitcode: success and nothing to change)
  1  invalid input or failure
  2  with --detailed-exitcode: success, and the plan has changes
  64 the command line is wrong (unknown flag, missing argument)";

#[derive(Debug, Parser)]
#[command(name = "chaton", version, about = "Describe a small ethical hoster in one YAML file; plan, apply and document its servers.", after_help = EXIT_CODES)]
pub struct Cli {
    /// When to use colours (NO_COLOR is respected).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Language of error messages (default: from LC_ALL, LC_MESSAGES or LANG).
    #[arg(long, global = true, value_enum)]
    lang: Option<crate::i18n::Lang>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a description offline: every problem at once, with file:line:col.
    #[command(after_help = EXIT_CODES)]
    Check {
        /// The description file (hoster.yml).
        /// The description (hoster.yml).
        file: PathBuf,
        #[command(flatten)]
        recipes: RecipesArg,
        /// Machine-readable result on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Show what would change on each server.
    #[command(after_help = EXIT_CODES)]
    Plan {
        /// The description (hoster.yml).
        file: PathBuf,
        /// Plan against a freshly installed server of each server's distribution, without
        /// connecting (for reviews and CI).
        #[arg(long)]
        offline: bool,
        /// The plan as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Show the content of new files too, not only diffs of changed files.
        #[arg(long)]
        diff: bool,
        /// Say in one sentence why each change is needed.
        #[arg(long)]
        explain: bool,
        /// Exit 2 when there are changes, 0 when there are none.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Also write the plan as JSON to this file (for `apply --plan`).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        recipes: RecipesArg,
        #[command(flatten)]
        connection: remote::ConnectionArgs,
    },
    /// Apply the changes on each server (hosts in parallel), then run the handlers.
    #[command(after_help = EXIT_CODES)]
    Apply {
        /// The description (hoster.yml).
        file: PathBuf,
        /// Apply exactly this saved plan (`plan --out`); refused when a server changed since.
        #[arg(long, value_name = "FILE")]
        plan: Option<PathBuf>,
        /// Progress as JSON lines on stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        recipes: RecipesArg,
        #[command(flatten)]
        connection: remote::ConnectionArgs,
    },
    /// Check that each server is converged (the plan is empty) and run the recipes' checks.
    #[command(after_help = EXIT_CODES)]
    Verify {
        /// The description (hoster.yml).
        file: PathBuf,
        /// Results as JSON lines on stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        recipes: RecipesArg,
        #[command(flatten)]
        connection: remote::ConnectionArgs,
    },
    /// Print what chaton knows about a server (JSON): packages, files, users, services...
    Facts {
        /// The description (hoster.yml).
        file: PathBuf,
        /// The server's name in the description.
        server: String,
        #[command(flatten)]
        recipes: RecipesArg,
        #[command(flatten)]
        connection: remote::ConnectionArgs,
    },
    /// Write every file chaton would put on each server, for review and CI diffs.
    Render {
        /// The description (hoster.yml).
        file: PathBuf,
        /// Output folder: one sub-folder per server.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[command(flatten)]
        recipes: RecipesArg,
    },
    /// Build the charter website (French and English) and the ChatonsInfos files.
    #[command(
        after_help = "Exit codes:\n  0  success\n  1  invalid input, or with --check a required charter item is missing"
    )]
    Docs {
        /// The description (hoster.yml).
        file: PathBuf,
        /// Write the site into this folder.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Report the charter self-check; exit 1 when a required item is missing.
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        recipes: RecipesArg,
    },
    /// Write a new, commented description (asks a few questions, or takes flags).
    Init(init::InitArgs),
    /// Print the JSON Schema of a description (the default), a recipe (`recipe.yml`) or a
    /// recipe's proof (`proof.yml`), for editors' YAML language servers.
    Schema {
        #[arg(value_enum, default_value = "description")]
        of: SchemaOf,
    },
    /// Print shell completions (bash, zsh, fish).
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff).
    Man,
    /// Backups on the servers: status, a backup now, a restore drill, a restore.
    Backup {
        #[command(subcommand)]
        command: backup::BackupCommand,
    },
    /// Move a service, with its data, to another server: shows the steps, then (with --yes)
    /// stops it, copies its data, installs it there, switches its visitors, verifies, and
    /// removes it from the old server, which keeps its data until --purge. Run again to
    /// resume a move that was cut off, or with --abandon to roll it back.
    #[command(name = "move")]
    Move(moving::MoveArgs),
    /// The keys kept next to the description (`secrets/`): fetch back those the servers hold.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Practice servers on this machine: real Debian hosts in containers (needs root).
    Lab {
        #[command(subcommand)]
        command: lab::LabCommand,
    },
    /// List or show the recipes.
    Recipes {
        #[command(subcommand)]
        command: RecipesCommand,
        #[command(flatten)]
        recipes: RecipesArg,
    },
}

/// What `chaton schema` describes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum SchemaOf {
    Description,
    Recipe,
    Proof,
}

#[derive(Debug, clap::Args)]
struct RecipesArg {
    /// A folder of local recipes (`recipes/NAME/recipe.yml`, `recipes/NAME/templates/`) that add to or
    /// replace the built-in ones; overrides `recipes_dir` in the description.
    #[arg(long = "recipes", value_name = "DIR", global = true)]
    dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum RecipesCommand {
    /// List the recipes.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a recipe: metadata, parameters, ports, resources, handlers, checks.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

/// Entry point of the binary.
/// The language messages are printed in, chosen once at start.
static LANG: std::sync::OnceLock<crate::i18n::Lang> = std::sync::OnceLock::new();

pub(crate) fn lang() -> crate::i18n::Lang {
    *LANG.get().unwrap_or(&crate::i18n::Lang::En)
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version print and succeed; a wrong command line gets its own code.
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { exit::OK });
        }
    };
    let _ = LANG.set(cli.lang.unwrap_or_else(crate::i18n::Lang::from_environment));
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
        }
    };
    match run(cli.command, color) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            output::print_error(&error, color);
            ExitCode::from(error.exit_code())
        }
    }
}

/// The sequence every command that needs the desired state runs first: the description
/// checked (its warnings shown), then `resolved`.
fn checked_and_resolved(
    file: &std::path::Path,
    recipes_dir: Option<&std::path::Path>,
    state_dir: &str,
    keys: KeysFrom,
    color: bool,
) -> Result<(pipeline::Checked, crate::resolve::DesiredState), Error> {
    let checked = pipeline::check(file, recipes_dir)?;
    output::print_diagnostics(&checked.warnings, color);
    let (_, desired) = resolved(&checked, state_dir, keys)?;
    Ok((checked, desired))
}

/// The keys a checked description needs, from where `keys` says, and its desired state for
/// chaton's folder `state_dir` on the servers.
fn resolved(
    checked: &pipeline::Checked,
    state_dir: &str,
    keys: KeysFrom,
) -> Result<(crate::keys::Keys, crate::resolve::DesiredState), Error> {
    let keys = pipeline::keys(checked, keys)?;
    let desired = pipeline::desired(checked, state_dir, &keys)?;
    Ok((keys, desired))
}

fn run(command: Command, color: bool) -> Result<u8, Error> {
    match command {
        Command::Check { file, recipes, json } => check(&file, recipes.dir, json, color),
        Command::Plan { file, offline, json, diff, explain, detailed_exitcode, out, recipes, connection } => {
            // A plan writes nothing next to the description (known_hosts aside, with
            // --accept-new): keys it lacks are made in a scratch copy of secrets/ and go with
            // it. Only a saved plan (--out) keeps them, since apply must use the same ones.
            let checked = pipeline::check(&file, recipes.dir.as_deref())?;
            output::print_diagnostics(&checked.warnings, color);
            let scratch = if offline || out.is_some() {
                None
            } else {
                Some(crate::keys::scratch_copy(&checked.description.dir)?)
            };
            let from = match (&scratch, offline) {
                (Some(scratch), _) => KeysFrom::Folder(scratch.path()),
                (None, true) => KeysFrom::StandIns,
                (None, false) => KeysFrom::Kept,
            };
            let (keys, desired) = resolved(&checked, connection.state_dir(), from)?;
            let made: Vec<String> =
                keys.kept.iter().filter(|k| k.made_now).map(|k| format!("{} of {}", k.what, k.server)).collect();
            if !made.is_empty() {
                if scratch.is_some() {
                    eprintln!(
                        "note: {} will be made by apply and kept in {}/; this plan used stand-ins and wrote nothing there",
                        made.join(", "),
                        crate::keys::FOLDER
                    );
                } else if out.is_some() {
                    eprintln!("made and kept in {}/ for the saved plan: {}", crate::keys::FOLDER, made.join(", "));
                }
            }
            let (plan, failed) = if offline {
                let facts = desired
                    .servers
                    .iter()
                    .map(|s| {
                        let source = FactsSource::AssumedFresh { distribution: s.distribution.label().to_owned() };
                        (s.name.clone(), (source, fresh(s.distribution, &plan::fact_query(s))))
                    })
                    .collect();
                (plan::plan(&desired, &facts), false)
            } else {
                remote::plan(&checked, &desired, &connection)?
            };
            if let Some(path) = &out {
                output::write_json_file(path, &plan)?;
            }
            if json {
                output::print_json(&plan)?;
            } else {
                let options = plan_text::Options {
                    show_new_content: diff,
                    explain,
                    color: color && std::io::stdout().is_terminal(),
                };
                print!("{}", plan_text::render(&plan, &options));
            }
            Ok(if failed {
                exit::ERROR
            } else if detailed_exitcode && plan.servers.iter().any(|s| !s.is_empty()) {
                exit::CHANGES
            } else {
                exit::OK
            })
        }
        Command::Apply { file, plan, json, recipes, connection } => {
            let (checked, desired) =
                checked_and_resolved(&file, recipes.dir.as_deref(), connection.state_dir(), KeysFrom::Kept, color)?;
            remote::apply(&checked, &desired, plan.as_deref(), &connection, json)
        }
        Command::Verify { file, json, recipes, connection } => {
            let (checked, desired) =
                checked_and_resolved(&file, recipes.dir.as_deref(), connection.state_dir(), KeysFrom::Kept, color)?;
            remote::verify(&checked, &desired, &connection, json)
        }
        Command::Facts { file, server, recipes, connection } => {
            let (checked, desired) =
                checked_and_resolved(&file, recipes.dir.as_deref(), connection.state_dir(), KeysFrom::Kept, color)?;
            remote::facts(&checked, &desired, &server, &connection)
        }
        Command::Render { file, out, recipes } => {
            let (_, desired) = checked_and_resolved(
                &file,
                recipes.dir.as_deref(),
                crate::apply::DEFAULT_STATE_DIR,
                KeysFrom::StandIns,
                color,
            )?;
            let written = render::write(&desired, &out)?;
            eprintln!("wrote {written} files under {}", out.display());
            Ok(exit::OK)
        }
        Command::Recipes { command, recipes } => recipes::run(command, recipes.dir.as_deref()),
        Command::Lab { command } => lab::run(command),
        Command::Backup { command } => backup::run(command),
        Command::Move(args) => moving::run(args),
        Command::Keys { command } => keys::run(command),
        Command::Init(args) => init::run(args),
        Command::Schema { of } => {
            let schema = match of {
                SchemaOf::Description => schemars::schema_for!(crate::description::Hoster),
                SchemaOf::Recipe => schemars::schema_for!(crate::recipe::Recipe),
                SchemaOf::Proof => schemars::schema_for!(crate::recipe::proof::Proof),
            };
            output::print_json(&schema)?;
            Ok(exit::OK)
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "chaton", &mut std::io::stdout());
            Ok(exit::OK)
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command)
                .render(&mut std::io::stdout())
                .map_err(|e| Error::Output(format!("cannot write the man page: {e}")))?;
            Ok(exit::OK)
        }
        Command::Docs { file, out, check, recipes } => {
            docs::run(&file, out.as_deref(), check, recipes.dir.as_deref(), color)
        }
    }
}

fn check(file: &std::path::Path, recipes_dir: Option<PathBuf>, json: bool, color: bool) -> Result<u8, Error> {
    let result = pipeline::check(file, recipes_dir.as_deref()).and_then(|checked| {
        // Resolving renders every template: a template error is a description error too
        // (kept as diagnostics, which --json prints). Stand-ins cannot fail to be made.
        let keys = pipeline::keys(&checked, KeysFrom::StandIns).unwrap_or_default();
        pipeline::desired(&checked, crate::apply::DEFAULT_STATE_DIR, &keys).map(|desired| (checked, desired))
    });
    match result {
        Ok((checked, desired)) => {
            if json {
                output::print_check_json(true, &checked.warnings)?;
            } else {
                output::print_diagnostics(&checked.warnings, color);
                let hoster = &checked.description.hoster;
                let resources: usize = desired.servers.iter().map(|s| s.resources.len()).sum();
                eprintln!(
                    "{} is valid: {} server(s), {} service(s), {} resource(s)",
                    file.display(),
                    hoster.servers.len(),
                    hoster.services.len(),
                    resources
                );
            }
            Ok(exit::OK)
        }
        Err(diagnostics) if json => {
            output::print_check_json(false, &diagnostics)?;
            Ok(exit::ERROR)
        }
        Err(diagnostics) => Err(Error::Invalid(diagnostics)),
    }
}
