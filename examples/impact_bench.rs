//! Measures `rater impact`'s engine against `price_request` alone, in one process over one
//! book: first a single-threaded loop that reads the book and prices every request with both
//! plans (nothing else), then `actuary::impact::run` on rayon's pool (every core), which also
//! reads the grouping values and aggregates. Figures in docs/PERFORMANCE.md.
//!
//! Besides wall time it reports the process's CPU time per phase (`/proc/self/stat`, 10 ms
//! ticks): on a machine shared with other builds the wall-clock rate of several threads says
//! more about the neighbours than about the code, while requests per CPU-second do not.
//!
//! ```sh
//! cargo run --release --example impact_bench -- FROM_PLAN_DIR TO_PLAN_DIR BOOK.jsonl [ROUNDS]
//! ```

use std::io::BufRead as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rater::actuary::impact::{self, Book, ImpactOptions};
use rater::plan::{Selector, load_plan};
use rater::pricing::{PriceOptions, price_request};

/// This process's user + system CPU time in seconds, from `/proc/self/stat` (Linux; USER_HZ is
/// 100 on every Linux build this runs on). Zero elsewhere, which the figures then show.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: impact_bench FROM_PLAN_DIR TO_PLAN_DIR BOOK.jsonl [ROUNDS]");
        std::process::exit(2);
    }
    let load = |d: &str| Arc::new(load_plan(&PathBuf::from(d)).expect("plan loads"));
    let (from, to) = (load(&args[0]), load(&args[1]));
    let book = PathBuf::from(&args[2]);
    let rounds: usize = args.get(3).map_or(3, |r| r.parse().expect("ROUNDS"));
    let threads = rayon::current_num_threads();

    for round in 1..=rounds {
        // price_request alone, one thread: read each line, price it with both plans.
        let (sf, st) = (Selector::fixed(from.clone()), Selector::fixed(to.clone()));
        let file = std::fs::File::open(&book).expect("book");
        let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
        let mut line = Vec::new();
        let mut out = Vec::with_capacity(4096);
        let (mut n, mut priced) = (0u64, 0u64);
        let c = cpu_seconds();
        let t = Instant::now();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).expect("read") == 0 {
                break;
            }
            n += 1;
            for s in [&sf, &st] {
                out.clear();
                priced +=
                    u64::from(price_request(s, &line, &mut out, PriceOptions::default()).is_ok());
            }
        }
        let single = t.elapsed().as_secs_f64();
        let single_cpu = cpu_seconds() - c;

        let opts = ImpactOptions {
            by: vec!["vehicle_type".into()],
            top: 10,
        };
        let c = cpu_seconds();
        let t = Instant::now();
        let r = impact::run(
            from.clone(),
            to.clone(),
            &Book::open(&book).expect("book"),
            &opts,
            &|_| {},
        )
        .expect("impact runs");
        let parallel = t.elapsed().as_secs_f64();
        let parallel_cpu = cpu_seconds() - c;
        assert_eq!(r.requests, n);

        let base = n as f64 / single;
        let imp = n as f64 / parallel;
        println!(
            "round {round}: {n} requests ({priced} of {} pricings answered)\n  \
             price_request alone, 1 thread, both plans: {single:.2} s = {base:.0} requests/s\n  \
             (CPU {single_cpu:.2} s = {:.0} requests per CPU-second)\n  \
             impact::run, {threads} threads: {parallel:.2} s = {imp:.0} requests/s = {:.0} per thread \
             (CPU {parallel_cpu:.2} s = {:.0} requests per CPU-second, {:.0} % of price_request alone's)",
            2 * n,
            n as f64 / single_cpu,
            imp / threads as f64,
            n as f64 / parallel_cpu,
            100.0 * single_cpu / parallel_cpu
        );
    }
}
