//! The `rater` binary: everything is in the library; this only picks the allocator and
//! maps the outcome to an exit code.

use std::process::ExitCode;

// mimalloc, measured against the system allocator (docs/PERFORMANCE.md, section 6), rater on
// one pinned CPU, wrk on the other, 16 connections, requests/s:
//   loadtest/bench-http (best of 3):        12 KB  39,441 mimalloc | 40,905 system
//                                           36 KB  24,387          | 24,423
//                                           54 KB  17,153          | 18,400
//   interleaved A/B, mean of 4 x 3 s runs:  12 KB  37,484          | 37,380
//                                           36 KB  22,258          | 22,905
//   again with the LTO release profile      12 KB  54,748          | 54,334  (4 runs)
//   (docs/PERFORMANCE.md, section 0):       36 KB  39,155          | 39,765  (6 runs)
// A tie within this machine's noise (round-to-round spread about 5 %): pricing makes no heap
// allocation per request any more (tests/alloc_budget.rs), so the allocator only serves
// hyper's few per-request allocations. mimalloc stays: nothing measured beyond noise favours a
// switch and the allocation budget test counts through it; `--features system-alloc`
// re-runs the comparison.
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
