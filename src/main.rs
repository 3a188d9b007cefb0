//! The `rater` binary: everything is in the library; this only picks the allocator and
//! maps the outcome to an exit code.

use std::process::ExitCode;

// mimalloc: see docs/PERFORMANCE.md for the comparison with the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match rater::cli::run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
