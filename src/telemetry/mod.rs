//! Telemetry that is not HTTP-specific: the tracing subscriber (text or JSON lines) and the
//! latency [`Histogram`] `/metrics` renders. Log lines name tenants by
//! [`crate::tenant::KeyHash`], never by key.
//!
//! Nothing here ever sees a body, a token or a setting value.

use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::config::LogFormat;

pub mod access_line;

use access_line::{AccessLine, Style};
use tracing_subscriber::fmt::format::format as tracing_format;
use tracing_subscriber::fmt::time::SystemTime;

/// Installs the global tracing subscriber. `RUST_LOG` filters (default `info`). Does nothing
/// if a subscriber is already installed (tests).
///
/// Lines go to stderr through [`LogWriter`]: on a runtime worker thread they are batched
/// (see [`flush_thread_logs`]), elsewhere written at once as before.
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // ANSI colours only on a terminal (and never with `NO_COLOR`, as tracing's default):
    // escape codes in a log file or a collector's pipe are noise, and styling every field
    // name and level cost about a quarter of the access line's formatting (perf, 36 KB
    // requests under wrk). The text and its fields are unchanged.
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(LogWriter);
    // The access line is formatted by hand, exactly as tracing's formatter of the same
    // format would (see `access_line`); every other event goes to tracing's formatter.
    let _ = match format {
        LogFormat::Text => builder
            .event_format(AccessLine::new(tracing_format(), SystemTime, Style::Text))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .event_format(AccessLine::new(
                tracing_format().json().flatten_event(true),
                SystemTime,
                Style::Json,
            ))
            .try_init(),
    };
}

/// Flush a thread's batch once it holds this much: about 60-100 access lines, one write(2)
/// instead of one per line, and well under a pipe's 64 KiB so a collector reading stderr
/// takes it in one go. Bounds the memory per thread and the lines a crash could lose.
const LOG_BATCH_BYTES: usize = 16 * 1024;

/// A thread's pending log lines. `on` is set by the runtime's park hook, so only runtime
/// worker threads batch: lines from the main thread, the blocking pool or any other thread
/// (which never park through the runtime, so nothing would flush them) go out at once.
struct LogBatch {
    on: bool,
    buf: Vec<u8>,
}

thread_local! {
    static LOG_BATCH: RefCell<LogBatch> = const { RefCell::new(LogBatch { on: false, buf: Vec::new() }) };
}

/// The tracing writer: whole lines (the fmt layer formats a line, then writes it with one
/// `write_all`) to stderr, or into this thread's batch.
///
/// Why it is fast: an access line per request used to be one write(2) to stderr per
/// request; on a busy worker the lines now collect in a reused per-thread buffer and go out
/// in one write(2) per [`LOG_BATCH_BYTES`], or when the worker runs out of work and parks.
/// No thread, no channel, no allocation per line.
///
/// Why nothing is lost or late: a worker flushes before it parks (so when the service is
/// not saturated every line is written before the worker sleeps, as promptly as before), at
/// the batch size, and when it stops (`on_thread_stop`, and [`flush_thread_logs`] at the end
/// of a per-core runtime thread), so a graceful shutdown writes every line. The policy
/// stays blocking, as before: a flush writes the whole batch, waiting if stderr's reader is
/// slow, so no line is ever dropped and memory stays bounded. Only a hard crash (SIGKILL,
/// abort) can lose the lines of the current batch, at most [`LOG_BATCH_BYTES`] per worker.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        self.write_all(line)?;
        Ok(line.len())
    }

    fn write_all(&mut self, line: &[u8]) -> std::io::Result<()> {
        let direct = LOG_BATCH
            .try_with(|b| {
                let Ok(mut b) = b.try_borrow_mut() else {
                    return true;
                };
                if !b.on {
                    return true;
                }
                b.buf.extend_from_slice(line);
                if b.buf.len() >= LOG_BATCH_BYTES {
                    write_out(&mut b.buf);
                }
                false
            })
            .unwrap_or(true);
        if direct {
            std::io::stderr().write_all(line)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> LogWriter {
        LogWriter
    }
}

/// Writes a batch in one `write_all` (stderr's lock is held across it, so batches of
/// different threads never interleave inside a line) and empties it, keeping its capacity.
fn write_out(buf: &mut Vec<u8>) {
    if !buf.is_empty() {
        // As the fmt layer's own writes: a log that cannot be written is not an error the
        // service can do anything about.
        let _ = std::io::stderr().write_all(buf);
        buf.clear();
    }
}

/// The runtime's park hook (`on_thread_park`): the worker has no more work for now, so its
/// batched lines are written; from its first park on, the thread batches its lines.
pub fn flush_thread_logs() {
    let _ = LOG_BATCH.try_with(|b| {
        if let Ok(mut b) = b.try_borrow_mut() {
            b.on = true;
            write_out(&mut b.buf);
        }
    });
}

/// The runtime's stop hook (`on_thread_stop`) and the end of a per-core runtime thread:
/// writes what is left and stops batching on this thread.
pub fn end_thread_logs() {
    let _ = LOG_BATCH.try_with(|b| {
        if let Ok(mut b) = b.try_borrow_mut() {
            b.on = false;
            write_out(&mut b.buf);
            b.buf = Vec::new();
        }
    });
}

/// Upper bounds of latency histogram buckets, in microseconds (`+Inf` is implied).
pub const LATENCY_BUCKETS_US: [u64; 14] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 5_000_000,
];

/// A latency histogram of relaxed atomics: recording is a few uncontended `fetch_add`s, no
/// lock, no allocation. Buckets are stored non-cumulative and summed when rendered.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn record(&self, d: Duration) {
        let us = d.as_micros().min(u128::from(u64::MAX)) as u64;
        let i = LATENCY_BUCKETS_US.partition_point(|&b| b < us);
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
    }

    /// The number of observations.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Relaxed)).sum()
    }

    /// Writes the `_bucket`, `_sum` and `_count` lines of `name` with `labels` (either
    /// empty or `k="v",...` without braces).
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        use std::fmt::Write;
        let sep = if labels.is_empty() { "" } else { "," };
        let mut acc = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            acc += b.load(Relaxed);
            match LATENCY_BUCKETS_US.get(i) {
                Some(&le) => {
                    let le = le as f64 / 1e6;
                    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {acc}");
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {acc}");
                }
            }
        }
        let sum = self.sum_us.load(Relaxed) as f64 / 1e6;
        let braces = |s: &str| {
            if s.is_empty() {
                String::new()
            } else {
                format!("{{{s}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
        let _ = writeln!(out, "{name}_count{} {acc}", braces(labels));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_batch_only_after_a_park_and_all_are_written() {
        use tracing_subscriber::fmt::MakeWriter;
        let pending = || LOG_BATCH.with(|b| b.borrow().buf.len());
        let mut w = LogWriter.make_writer();
        // Not a runtime worker yet: written at once.
        w.write_all(b"(telemetry test: a direct line)\n").unwrap();
        assert_eq!(pending(), 0);
        flush_thread_logs();
        let batched = b"(telemetry test: a batched line)\n";
        w.write_all(batched).unwrap();
        assert_eq!(pending(), batched.len());
        flush_thread_logs();
        assert_eq!(pending(), 0);
        // A full batch goes out without waiting for a park.
        let mut line = b"(telemetry test: filler)".to_vec();
        line.resize(1000, b'.');
        line.push(b'\n');
        for _ in 0..LOG_BATCH_BYTES / line.len() {
            w.write_all(&line).unwrap();
        }
        assert!(pending() > 0);
        w.write_all(&line).unwrap();
        assert_eq!(pending(), 0);
        w.write_all(b"(telemetry test: the last batched line)\n")
            .unwrap();
        end_thread_logs();
        assert_eq!(pending(), 0);
        w.write_all(b"(telemetry test: direct again)\n").unwrap();
        assert_eq!(pending(), 0);
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::default();
        h.record(Duration::from_micros(50));
        h.record(Duration::from_micros(300));
        h.record(Duration::from_secs(60));
        let mut s = String::new();
        h.render(&mut s, "x", "a=\"b\"");
        assert!(s.contains("x_bucket{a=\"b\",le=\"0.0001\"} 1"), "{s}");
        assert!(s.contains("x_bucket{a=\"b\",le=\"0.0005\"} 2"), "{s}");
        assert!(s.contains("x_bucket{a=\"b\",le=\"+Inf\"} 3"), "{s}");
        assert!(s.contains("x_count{a=\"b\"} 3"), "{s}");
        assert_eq!(h.count(), 3);
    }
}
