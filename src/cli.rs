//! The command line: `rater` (or `rater serve`) runs the service, `rater check` validates
//! plans, `rater rate` prices a request file with no server.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A high-throughput external rater for Socotra Enterprise Core.
#[derive(Debug, Parser)]
#[command(name = "rater", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// With no subcommand, the service's settings.
    #[command(flatten)]
    serve: crate::config::ServeArgs,
}

// `Serve` carries every service setting as a string; the enum is built once per process, so
// its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP service (the default with no arguments).
    Serve(crate::config::ServeArgs),
    /// Validate a folder of plans; exits non-zero on the first bad plan, printing its errors.
    Check {
        /// The folder holding plan folders, or one plan folder.
        #[arg(default_value = "rating-tables")]
        dir: PathBuf,
    },
    /// Price a Socotra rating request file and print the JSON answer the service gives.
    Rate {
        /// The plan folder, or a plan id under `rating-tables/`.
        #[arg(long)]
        plan: String,
        /// Print every step of every peril instead of the answer.
        #[arg(long)]
        explain: bool,
        /// The request JSON file.
        request: PathBuf,
    },
}

/// Runs the command line; `main` only maps the result to an exit code.
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        None => crate::http::serve(cli.serve),
        Some(Command::Serve(args)) => crate::http::serve(args),
        Some(Command::Check { dir }) => check(&dir),
        Some(Command::Rate {
            plan,
            explain,
            request,
        }) => rate(&plan, explain, &request),
    }
}

fn check(dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let _ = dir;
    anyhow::bail!("not built yet")
}

fn rate(plan: &str, explain: bool, request: &std::path::Path) -> anyhow::Result<ExitCode> {
    let _ = (plan, explain, request);
    anyhow::bail!("not built yet")
}
