//! The command line: `rater` (or `rater serve`) runs the service, `rater check` validates
//! plans, `rater rate` prices a request file with no server, `rater test` runs plans' test
//! cases and `rater impact` compares two plans over a book (both in [`crate::actuary`]; this
//! file only prints).

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
    /// Run every plan's test cases (`<plan>/tests/NNN.request.json` with
    /// `NNN.expected.json`); exits non-zero on any failure or a plan that does not load.
    Test {
        /// Plan folders, folders of plan folders, or bundle files (`.tar.gz`).
        #[arg(default_value = "rating-tables")]
        dirs: Vec<PathBuf>,
        /// For each failing case, print the explain trace of every peril that differs.
        #[arg(long)]
        explain: bool,
        /// Print every case, and both messages of expected errors.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Price a book of requests with two plans and report the change in written premium.
    Impact(ImpactArgs),
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
        Some(Command::Test {
            dirs,
            explain,
            verbose,
        }) => test(&dirs, explain, verbose),
        Some(Command::Impact(args)) => impact(&args),
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

fn test(dirs: &[PathBuf], explain: bool, verbose: bool) -> anyhow::Result<ExitCode> {
    use crate::actuary::plantest::{self, CaseOutcome, PlanOutcome, TestOptions};

    let results = plantest::run(dirs, TestOptions { explain })?;
    let mut out = std::io::stdout().lock();
    for plan in &results {
        let cases = match &plan.outcome {
            PlanOutcome::LoadFailed(errors) => {
                writeln!(out, "plan {}: does not load", plan.dir.display())?;
                for e in &errors.0 {
                    writeln!(out, "  {e}")?;
                }
                continue;
            }
            PlanOutcome::Ran { id, cases } => {
                let failed = cases.iter().filter(|c| !c.outcome.passed()).count();
                writeln!(
                    out,
                    "plan {id} ({}): {} cases, {failed} failed",
                    plan.dir.display(),
                    cases.len()
                )?;
                cases
            }
        };
        for case in cases {
            let passed = case.outcome.passed();
            if passed && !verbose {
                continue;
            }
            let mark = if passed { "ok  " } else { "FAIL" };
            writeln!(out, "  {mark} {}  {}", case.name, case.request.display())?;
            match &case.outcome {
                CaseOutcome::Passed { amounts } => writeln!(out, "       {amounts} amounts equal")?,
                CaseOutcome::Refused { expected, got } => {
                    writeln!(out, "       refused as expected")?;
                    writeln!(out, "       want error: {expected}")?;
                    writeln!(out, "       got error:  {got}")?;
                }
                CaseOutcome::NotRefused { expected, answer } => {
                    writeln!(out, "       want error: {expected}")?;
                    writeln!(out, "       got answer: {answer}")?;
                }
                CaseOutcome::UnexpectedError { error } => {
                    writeln!(out, "       want an answer")?;
                    writeln!(out, "       got error: {error}")?;
                }
                CaseOutcome::Broken(e) => writeln!(out, "       cannot run: {e}")?,
                CaseOutcome::Differs {
                    differences,
                    traces,
                } => {
                    let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
                    for d in differences {
                        writeln!(
                            out,
                            "       {} {}: want {}, got {}",
                            d.locator,
                            d.field,
                            shown(&d.want),
                            shown(&d.got)
                        )?;
                    }
                    for (locator, lines) in traces {
                        writeln!(out, "       explain {locator}:")?;
                        for line in lines {
                            writeln!(out, "         {line}")?;
                        }
                    }
                }
            }
        }
    }
    let s = plantest::summary(&results);
    writeln!(out, "{} passed, {} failed", s.passed, s.failed)?;
    Ok(if s.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[derive(Debug, clap::Args)]
struct ImpactArgs {
    /// The plan before the change: a plan folder or a plan id under `rating-tables/`.
    #[arg(long)]
    from: String,
    /// The plan after the change.
    #[arg(long)]
    to: String,
    /// A folder of rating requests (*.json) or a .jsonl file (one request per line).
    book: PathBuf,
    /// Also group by this plan input, named value or table (repeatable), as computed for each peril characteristic.
    #[arg(long = "by", value_name = "NAME")]
    by: Vec<String>,
    /// Write one CSV file per table into this folder.
    #[arg(long, value_name = "DIR")]
    csv: Option<PathBuf>,
    /// Write the report as one self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// How many largest increases, decreases and one-sided requests to list.
    #[arg(long, default_value_t = 10)]
    top: usize,
}

/// A plan out of a bundle file: `FILE.tar.gz` (a bundle of one plan) or `FILE.tar.gz:ID`;
/// `None` when `arg` names no file. The bundle is unpacked, validated and tested as the
/// service would before activating it.
fn plan_of_bundle(arg: &str) -> anyhow::Result<Option<Arc<crate::plan::Plan>>> {
    let (file, id) = match arg.rsplit_once(':') {
        Some((file, id)) if Path::new(file).is_file() => (file, Some(id)),
        _ if Path::new(arg).is_file() => (arg, None),
        _ => return Ok(None),
    };
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {file}"))?;
    let bundle = crate::bundle::load(file, &bytes, &crate::bundle::Limits::default())?;
    let ids: Vec<&str> = bundle.plans.iter().map(|p| p.id()).collect();
    let plan = match id {
        Some(id) => bundle.plans.get(id),
        None if ids.len() == 1 => bundle.plans.iter().next(),
        None => None,
    };
    match plan {
        Some(p) => Ok(Some(p.clone())),
        None => anyhow::bail!(
            "bundle {file} holds plans {}: name one as {file}:ID",
            ids.join(", ")
        ),
    }
}

fn impact(args: &ImpactArgs) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal as _;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use crate::actuary::impact::{self, Book, ImpactOptions, ProgressUnit};
    use crate::actuary::report::{self, Meta};

    let load = |arg: &str| -> anyhow::Result<Arc<crate::plan::Plan>> {
        if let Some(plan) = plan_of_bundle(arg)? {
            return Ok(plan);
        }
        let dir = plan_dir(arg);
        load_plan(&dir)
            .map(Arc::new)
            .map_err(|e| anyhow::anyhow!("plan {} does not load:\n{e}", dir.display()))
    };
    let from = load(&args.from)?;
    let to = load(&args.to)?;
    let opts = ImpactOptions {
        by: args.by.clone(),
        top: args.top,
    };
    // Checked before the book is read: a misspelt --by fails at once, not after the run.
    impact::by_names(&from, &to, &opts.by)?;
    let book = Book::open(&args.book)?;
    let (total, unit) = book.size()?;
    let meta = Meta {
        from: format!("{} {}", from.id(), from.version()),
        to: format!("{} {}", to.id(), to.version()),
        book: args.book.display().to_string(),
    };

    let started = Instant::now();
    let done = AtomicU64::new(0);
    let finished = AtomicBool::new(false);
    let terminal = std::io::stderr().is_terminal();
    let bar = terminal.then(|| {
        let bar = indicatif::ProgressBar::new(total);
        let template = match unit {
            ProgressUnit::Requests => "{bar:40} {pos}/{len} requests  {elapsed} elapsed, eta {eta}",
            ProgressUnit::Bytes => "{bar:40} {bytes}/{total_bytes}  {elapsed} elapsed, eta {eta}",
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar
    });
    let result = std::thread::scope(|scope| {
        if !terminal {
            // Off a terminal (CI logs, pipes) a bar would be noise: one line every few seconds.
            scope.spawn(|| {
                let mut last = Instant::now();
                while !finished.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                    if last.elapsed() >= Duration::from_secs(5) {
                        last = Instant::now();
                        let done = done.load(Ordering::Relaxed);
                        let secs = started.elapsed().as_secs_f64();
                        match unit {
                            ProgressUnit::Requests => {
                                eprintln!("impact: {done} of {total} requests, {secs:.0} s")
                            }
                            ProgressUnit::Bytes => eprintln!(
                                "impact: {} of {} MB read, {secs:.0} s",
                                done >> 20,
                                total >> 20
                            ),
                        }
                    }
                }
            });
        }
        let progress = |n: u64| {
            done.fetch_add(n, Ordering::Relaxed);
            if let Some(bar) = &bar {
                bar.inc(n);
            }
        };
        let r = impact::run(from.clone(), to.clone(), &book, &opts, &progress);
        finished.store(true, Ordering::Relaxed);
        r
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let result = result?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "priced {} requests with both plans in {secs:.2} s ({:.0} requests/s on {} threads)",
        result.requests,
        result.requests as f64 / secs.max(1e-9),
        rayon::current_num_threads()
    );

    let mut stdout = std::io::stdout().lock();
    report::write_text(&mut stdout, &meta, &result)?;
    if let Some(dir) = &args.csv {
        let files = report::write_csv(dir, &result)
            .with_context(|| format!("cannot write the CSV files into {}", dir.display()))?;
        eprintln!("wrote {} CSV files into {}", files.len(), dir.display());
    }
    if let Some(file) = &args.html {
        std::fs::write(file, crate::actuary::report_html::render(&meta, &result))
            .with_context(|| format!("cannot write {}", file.display()))?;
        eprintln!("wrote {}", file.display());
    }
    Ok(ExitCode::SUCCESS)
}
