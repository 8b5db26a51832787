//! The load driver: N concurrent clients (tokio tasks sharing one keep-alive HTTP client) run an
//! operation until a count or a deadline, and every operation's latency is kept for percentiles.

use serde_json::{json, Value};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// When a scenario stops.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// After this many operations in all.
    Count(u64),
    /// After this long.
    Time(Duration),
}

/// What one scenario measured.
#[derive(Debug, Default)]
pub struct Stats {
    pub ok: u64,
    pub errors: u64,
    pub secs: f64,
    /// Latencies of the successful operations, sorted.
    pub latencies: Vec<Duration>,
    pub first_error: Option<String>,
}

impl Stats {
    /// From latencies measured elsewhere (pgbench's log, the in-process baseline).
    pub fn from_latencies(mut latencies: Vec<Duration>, errors: u64, secs: f64) -> Self {
        latencies.sort_unstable();
        Self {
            ok: u64::try_from(latencies.len()).unwrap_or(u64::MAX),
            errors,
            secs,
            latencies,
            first_error: None,
        }
    }

    /// The `p`th percentile in milliseconds (nearest rank).
    pub fn percentile_ms(&self, p: usize) -> f64 {
        let n = self.latencies.len();
        if n == 0 {
            return 0.0;
        }
        let rank = (n * p).div_ceil(100).clamp(1, n);
        let ms = self.latencies[rank - 1].as_secs_f64() * 1000.0;
        (ms * 100.0).round() / 100.0
    }

    /// Successful operations per second.
    pub fn rate(&self) -> f64 {
        let rate = crate::u64_to_f64(self.ok) / self.secs.max(1e-9);
        (rate * 10.0).round() / 10.0
    }

    pub fn to_json(&self) -> Value {
        json!({
            "ok": self.ok,
            "errors": self.errors,
            "seconds": crate::round(self.secs),
            "per_sec": self.rate(),
            "p50_ms": self.percentile_ms(50),
            "p90_ms": self.percentile_ms(90),
            "p99_ms": self.percentile_ms(99),
            "first_error": self.first_error,
        })
    }
}

/// Runs `op(client, i)` from `clients` concurrent tasks until `stop`; `i` counts operations
/// across all clients (so that a scenario can spread them over funds).
pub async fn drive<F, Fut>(clients: usize, stop: Stop, op: F) -> Stats
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let op = Arc::new(op);
    let counter = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let (op, counter, errors, first_error) = (
            op.clone(),
            counter.clone(),
            errors.clone(),
            first_error.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let go = match stop {
                    Stop::Count(n) => i < n,
                    Stop::Time(d) => start.elapsed() < d,
                };
                if !go {
                    break;
                }
                let t = Instant::now();
                match op(client, i).await {
                    Ok(()) => latencies.push(t.elapsed()),
                    Err(e) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        let mut first = first_error.lock().unwrap_or_else(PoisonError::into_inner);
                        if first.is_none() {
                            *first = Some(format!("{e:#}"));
                        }
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        if let Ok(l) = t.await {
            latencies.extend(l);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let mut stats = Stats::from_latencies(latencies, errors.load(Ordering::Relaxed), secs);
    stats.first_error = first_error
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    stats
}
