//! A small, bounded HTTP/1.1 load loop for the fault scripts in `loadtest/faults/`: groups
//! of keep-alive connections POST a rating request for a set of tenant keys, and every
//! answer is counted per group and per phase (time windows the script switches faults at).
//!
//! ```text
//! cargo run --release --example faultload -- --addr 127.0.0.1:PORT --body FILE --secs 50 \
//!     --phases 10,40 --group cached:4:tenant-:0:8 --group uncached:1:tenant-:1000:9000
//! ```
//!
//! `--group NAME:CONNS:PREFIX:FROM:TO[:once]` runs CONNS connections cycling through the keys
//! PREFIX{FROM..TO} (each connection starts at its own offset; with a range longer than the
//! run, every request is a key never asked before; with `:once`, each key is asked exactly
//! once and the group stops). `--phases` are the seconds at which a
//! new phase starts; a request belongs to the phase it started in. Loopback only: the
//! address must be 127.0.0.0/8 or ::1.
//!
//! Each request ends one way: a status (2xx, 4xx, 503 with or without Retry-After, other
//! 5xx); `unanswered` (the connection closed or reset without a byte of answer: either a
//! keep-alive connection the server closed as idle just as the request went out, or a
//! connection still in the kernel's backlog when the server stopped listening; in both the
//! server never read the request, as long as its log shows it drained without abandoning
//! a connection); `lost` (part of an answer, then the connection died: an accepted request
//! failed); `refused` (no connection could be made: the server had stopped accepting).
//! Connections honour `connection: close` and reconnect.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

#[derive(Clone, Debug)]
struct Group {
    name: String,
    conns: usize,
    prefix: String,
    from: usize,
    to: usize,
    /// `:once` after TO: each key of the range is asked exactly once, then the group stops.
    once: bool,
}

#[derive(Default, Clone)]
struct Tally {
    ok: u64,
    c4xx: u64,
    c503: u64,
    c503_retry_after: u64,
    c5xx: u64,
    unanswered: u64,
    lost: u64,
    refused: u64,
    micros: Vec<u32>,
}

impl Tally {
    fn sent(&self) -> u64 {
        self.ok + self.c4xx + self.c503 + self.c5xx + self.unanswered + self.lost
    }
}

enum End {
    Status(u16, bool),
    Unanswered,
    Lost,
}

struct Conn {
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    async fn request(&mut self, addr: SocketAddr, raw: &[u8]) -> Result<End, ()> {
        if self.stream.is_none() {
            let s = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr))
                .await
                .map_err(|_| ())?
                .map_err(|_| ())?;
            let _ = s.set_nodelay(true);
            self.stream = Some(s);
            self.buf.clear();
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(());
        };
        if stream.write_all(raw).await.is_err() {
            self.stream = None;
            return Ok(End::Unanswered);
        }
        let mut got_any = false;
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if self.buf.len() >= end + 4 + len {
                    let status: u16 = head
                        .split(' ')
                        .nth(1)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    let retry = head.lines().any(|l| l.starts_with("retry-after:"));
                    let close = head.lines().any(|l| l.trim() == "connection: close");
                    self.buf.drain(..end + 4 + len);
                    if close {
                        self.stream = None;
                    }
                    return Ok(End::Status(status, retry));
                }
            }
            let read = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk)).await;
            match read {
                Ok(Ok(n)) if n > 0 => {
                    got_any = true;
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                _ => {
                    self.stream = None;
                    return Ok(if got_any { End::Lost } else { End::Unanswered });
                }
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_group(s: &str) -> Option<Group> {
    let mut p = s.split(':');
    let g = Group {
        name: p.next()?.to_owned(),
        conns: p.next()?.parse().ok()?,
        prefix: p.next()?.to_owned(),
        from: p.next()?.parse().ok()?,
        to: p.next()?.parse().ok()?,
        once: match p.next() {
            None => false,
            Some("once") => true,
            Some(_) => return None,
        },
    };
    (g.conns > 0 && g.to > g.from).then_some(g)
}

fn pct(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut addr: Option<SocketAddr> = None;
    let mut body_path = None;
    let mut secs = 10u64;
    let mut phases: Vec<u64> = Vec::new();
    let mut groups = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--addr" => addr = v.parse().ok(),
            "--body" => body_path = Some(v),
            "--secs" => secs = v.parse().unwrap_or(10).min(600),
            "--phases" => phases = v.split(',').filter_map(|p| p.parse().ok()).collect(),
            "--group" => match parse_group(&v) {
                Some(g) => groups.push(g),
                None => {
                    eprintln!("bad --group {v:?}: NAME:CONNS:PREFIX:FROM:TO");
                    std::process::exit(2);
                }
            },
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let Some(addr) = addr.filter(|a| a.ip().is_loopback()) else {
        eprintln!("--addr must be a loopback address:port");
        std::process::exit(2);
    };
    let body = match body_path.map(std::fs::read) {
        Some(Ok(b)) => b,
        _ => {
            eprintln!("--body FILE is required and must be readable");
            std::process::exit(2);
        }
    };
    phases.sort_unstable();
    let nphases = phases.len() + 1;
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let body = Arc::new(body);
    let phases = Arc::new(phases);
    let tallies: Arc<Mutex<Vec<Vec<Tally>>>> =
        Arc::new(Mutex::new(vec![
            vec![Tally::default(); nphases];
            groups.len()
        ]));
    let mut tasks = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        let span = g.to - g.from;
        for c in 0..g.conns {
            let (g, body, phases, tallies) =
                (g.clone(), body.clone(), phases.clone(), tallies.clone());
            tasks.push(tokio::spawn(async move {
                let mut conn = Conn {
                    stream: None,
                    buf: Vec::new(),
                };
                let mut local = vec![Tally::default(); phases.len() + 1];
                // Connections of a group walk disjoint stretches of its key range.
                let mut i = c * span / g.conns;
                let stop = if g.once { (c + 1) * span / g.conns } else { usize::MAX };
                while Instant::now() < end && i < stop {
                    let key = format!("{}{}", g.prefix, g.from + i % span);
                    i += 1;
                    let mut raw = format!(
                        "POST /rate HTTP/1.1\r\nHost: loadtest\r\nContent-Type: application/json\r\n\
                         x-smp-key: {key}\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    raw.extend_from_slice(&body);
                    let t = Instant::now();
                    let phase = phases
                        .iter()
                        .filter(|&&p| start.elapsed() >= Duration::from_secs(p))
                        .count();
                    let tally = &mut local[phase];
                    match conn.request(addr, &raw).await {
                        Err(()) => {
                            tally.refused += 1;
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Ok(End::Unanswered) => tally.unanswered += 1,
                        Ok(End::Lost) => tally.lost += 1,
                        Ok(End::Status(s, retry)) => {
                            tally
                                .micros
                                .push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                            match s {
                                200..=299 => tally.ok += 1,
                                503 => {
                                    tally.c503 += 1;
                                    if retry {
                                        tally.c503_retry_after += 1;
                                    }
                                }
                                400..=499 => tally.c4xx += 1,
                                _ => tally.c5xx += 1,
                            }
                        }
                    }
                }
                let mut all = tallies.lock().await;
                for (p, t) in local.into_iter().enumerate() {
                    let dst = &mut all[gi][p];
                    dst.ok += t.ok;
                    dst.c4xx += t.c4xx;
                    dst.c503 += t.c503;
                    dst.c503_retry_after += t.c503_retry_after;
                    dst.c5xx += t.c5xx;
                    dst.unanswered += t.unanswered;
                    dst.lost += t.lost;
                    dst.refused += t.refused;
                    dst.micros.extend(t.micros);
                }
            }));
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut all = tallies.lock().await;
    for (gi, g) in groups.iter().enumerate() {
        for (p, t) in all[gi].iter_mut().enumerate() {
            t.micros.sort_unstable();
            let from = if p == 0 { 0 } else { phases[p - 1] };
            let to = phases.get(p).copied().unwrap_or(secs);
            println!(
                "group={} phase={p} window={from}s-{to}s sent={} ok={} 4xx={} 503={} 503_with_retry_after={} other_5xx={} unanswered={} lost={} refused={} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
                g.name,
                t.sent(),
                t.ok,
                t.c4xx,
                t.c503,
                t.c503_retry_after,
                t.c5xx,
                t.unanswered,
                t.lost,
                t.refused,
                pct(&t.micros, 0.5),
                pct(&t.micros, 0.99),
                pct(&t.micros, 1.0),
            );
        }
    }
}
