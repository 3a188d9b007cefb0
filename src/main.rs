//! The `rater` binary: everything is in the library; this only picks the allocator and
//! maps the outcome to an exit code.

use std::process::ExitCode;

// mimalloc: see docs/PERFORMANCE.md for the comparison with the system allocator.
// MEASURED-ALLOC-PLACEHOLDER
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `--features system-alloc`: the system allocator, for the comparison only.
#[cfg(feature = "system-alloc")]
#[global_allocator]
static GLOBAL: std::alloc::System = std::alloc::System;

fn main() -> ExitCode {
    match rater::cli::run() {
        Ok(code) => code,
        // A closed pipe (`rater rate ... | head`) is not an error, as for any Unix tool.
        Err(err)
            if err
                .chain()
                .filter_map(|e| e.downcast_ref::<std::io::Error>())
                .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
