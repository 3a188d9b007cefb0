//! The command line: `rater` (or `rater serve`) runs the service, `rater check` validates
//! plans, `rater rate` prices a request file with no server.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::plan::{PLAN_FILE, Selector, load_dir, load_plan};
use crate::pricing::{PriceOptions, price_request};

/// A high-throughput external rater for Socotra Enterprise Core.
#[derive(Debug, Parser)]
#[command(
    name = "rater",
    version,
    about,
    args_conflicts_with_subcommands = true,
    after_help = crate::tenant::ENV_HELP
)]
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
    /// Validate a folder of plans, or a plan bundle (`.tar.gz`); exits non-zero on the first
    /// bad plan, printing its errors (a bundle's test cases are run too).
    Check {
        /// The folder holding plan folders, one plan folder, or a bundle file.
        #[arg(default_value = "rating-tables")]
        dir: PathBuf,
    },
    /// Pack plan folders into a reproducible bundle (`.tar.gz`) and print its SHA-256 last.
    Bundle {
        /// Plan folders (each holding a `plan.toml`).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// The bundle file to write.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
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
        Some(Command::Check { dir }) if dir.is_file() => check_bundle(&dir),
        Some(Command::Check { dir }) => check(&dir),
        Some(Command::Bundle { dirs, output }) => bundle(&dirs, &output),
        Some(Command::Rate {
            plan,
            explain,
            request,
        }) => rate(&plan, explain, &request),
    }
}

fn check(dir: &Path) -> anyhow::Result<ExitCode> {
    match load_dir(dir) {
        Ok(set) => {
            print_plans(&set);
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{} error(s)", errors.0.len());
            Ok(ExitCode::from(1))
        }
    }
}

/// `rater check FILE`: the bundle is unpacked, validated and tested as the service would
/// before activating it (with the service's default limits).
fn check_bundle(file: &Path) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file.display().to_string();
    match crate::bundle::load(&name, &bytes, &crate::bundle::Limits::default()) {
        Ok(bundle) => {
            print_plans(&bundle.plans);
            println!("{} test case(s) pass", bundle.cases);
            println!("{}", bundle.sha256);
            Ok(ExitCode::SUCCESS)
        }
        Err(crate::bundle::BundleError::Plan(errors)) => {
            eprintln!("{errors}");
            eprintln!("{} error(s)", errors.0.len());
            Ok(ExitCode::from(1))
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// `rater bundle DIR... -o FILE`: the SHA-256 is the last line, for scripts and pins.
fn bundle(dirs: &[PathBuf], output: &Path) -> anyhow::Result<ExitCode> {
    let bytes = crate::bundle::build(dirs)?;
    std::fs::write(output, &bytes).with_context(|| format!("cannot write {}", output.display()))?;
    println!("wrote {} ({} bytes)", output.display(), bytes.len());
    println!("{}", crate::bundle::sha256_hex(&bytes));
    Ok(ExitCode::SUCCESS)
}

fn print_plans(set: &crate::plan::PlanSet) {
    for plan in set.iter() {
        let tables: usize = plan.tables().iter().map(|t| t.rows()).sum();
        println!(
            "ok  {} (version {}, product {}, {} inputs, {} tables, {} rows)",
            plan.id(),
            plan.version(),
            plan.product(),
            plan.inputs().len(),
            plan.tables().len(),
            tables
        );
    }
}

/// A plan argument is a folder when it names one, else a plan id under `rating-tables/`.
fn plan_dir(plan: &str) -> PathBuf {
    let p = PathBuf::from(plan);
    if p.join(PLAN_FILE).is_file() {
        p
    } else {
        Path::new("rating-tables").join(plan)
    }
}

fn rate(plan: &str, explain: bool, request: &Path) -> anyhow::Result<ExitCode> {
    let dir = plan_dir(plan);
    let plan = match load_plan(&dir) {
        Ok(p) => Arc::new(p),
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(ExitCode::from(1));
        }
    };
    let body =
        std::fs::read(request).with_context(|| format!("cannot read {}", request.display()))?;
    let selector = Selector::fixed(plan);
    let mut out = Vec::with_capacity(1024);
    match price_request(&selector, &body, &mut out, PriceOptions { explain }) {
        Ok(()) if explain => {
            print_explain(&out)?;
            Ok(ExitCode::SUCCESS)
        }
        Ok(()) => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&out)?;
            stdout.write_all(b"\n")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {} ({})", e, e.code());
            Ok(ExitCode::from(1))
        }
    }
}

/// Prints the explain trace as text, then the answer without it.
fn print_explain(out: &[u8]) -> anyhow::Result<()> {
    let v: serde_json::Value = serde_json::from_slice(out)?;
    let mut stdout = std::io::stdout().lock();
    if let Some(traces) = v.get("explain").and_then(|e| e.as_object()) {
        for (locator, lines) in traces {
            writeln!(stdout, "peril characteristic {locator}")?;
            for line in lines.as_array().into_iter().flatten() {
                writeln!(stdout, "  {}", line.as_str().unwrap_or_default())?;
            }
        }
    }
    let answer =
        serde_json::json!({ "pricedPerilCharacteristics": v["pricedPerilCharacteristics"] });
    writeln!(stdout, "answer {answer}")?;
    Ok(())
}
