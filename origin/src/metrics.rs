//! Counters and gauges for `/metrics`, rendered in the Prometheus text format.
//!
//! Hand-rolled on atomics: the origin exports a couple of dozen series, which does not
//! justify a metrics framework, and the format is simple and stable.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::spool::SpoolStats;

#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    fn set(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }
}

/// One sink's delivery figures.
#[derive(Default)]
pub struct SinkMetrics {
    pub delivered_records: Counter,
    pub delivered_batches: Counter,
    pub errors: Counter,
    pub retries: Counter,
    /// Records the sink refused for good, stored as dead letters.
    pub dead_lettered: Counter,
    /// Age of the oldest undelivered entry when the current batch was read, in ms (0: idle).
    pub lag_ms: Counter,
}

impl SinkMetrics {
    pub fn set_lag_ms(&self, ms: u64) {
        self.lag_ms.set(ms);
    }
}

#[derive(Default)]
pub struct Metrics {
    pub batches_accepted: Counter,
    pub records_accepted: Counter,
    pub records_duplicate: Counter,
    /// Outbox batches of journeys erased lately, taken and dropped (`crate::erased_journeys`).
    pub batches_of_erased_journeys: Counter,
    /// Rejected requests by error code (`bad_signature`, `batch_too_large`, ...).
    rejected: Mutex<BTreeMap<&'static str, u64>>,
    sinks: Mutex<BTreeMap<&'static str, Arc<SinkMetrics>>>,
    /// Rollup pushes by (target, result).
    rollup_pushes: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    pub rollup_days_pushed: Counter,
}

impl Metrics {
    pub fn sink(&self, name: &'static str) -> Arc<SinkMetrics> {
        let mut sinks = self.sinks.lock().unwrap_or_else(|p| p.into_inner());
        sinks.entry(name).or_default().clone()
    }

    pub fn rejected(&self, code: &'static str) {
        let mut rejected = self.rejected.lock().unwrap_or_else(|p| p.into_inner());
        *rejected.entry(code).or_default() += 1;
    }

    pub fn rollup_push(&self, target: &'static str, ok: bool) {
        let mut pushes = self.rollup_pushes.lock().unwrap_or_else(|p| p.into_inner());
        *pushes
            .entry((target, if ok { "ok" } else { "error" }))
            .or_default() += 1;
    }

    pub fn render(&self, spool: &SpoolStats) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: Vec<(String, u64)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let plain = |v: u64| vec![(String::new(), v)];
        metric(
            "origin_batches_accepted_total",
            "counter",
            "Outbox batches acknowledged (durable in the spool).",
            plain(self.batches_accepted.get()),
        );
        metric(
            "origin_records_accepted_total",
            "counter",
            "Records spooled for delivery.",
            plain(self.records_accepted.get()),
        );
        metric(
            "origin_records_duplicate_total",
            "counter",
            "Records received again and dropped by the spool's dedup.",
            plain(self.records_duplicate.get()),
        );
        metric(
            "origin_batches_of_erased_journeys_total",
            "counter",
            "Outbox batches of journeys erased lately, taken and dropped.",
            plain(self.batches_of_erased_journeys.get()),
        );
        let rejected = self.rejected.lock().map(|r| r.clone()).unwrap_or_default();
        metric(
            "origin_batches_rejected_total",
            "counter",
            "Outbox requests refused, by error code.",
            rejected
                .into_iter()
                .map(|(code, n)| (format!("{{code=\"{code}\"}}"), n))
                .collect(),
        );
        metric(
            "origin_spool_entries",
            "gauge",
            "Spooled entries (batches) not yet delivered to every sink.",
            plain(
                spool.next_seq.saturating_sub(
                    spool
                        .cursors
                        .values()
                        .copied()
                        .min()
                        .unwrap_or(spool.next_seq),
                ),
            ),
        );
        metric(
            "origin_spool_bytes",
            "gauge",
            "Bytes of spool segments on disk.",
            plain(spool.bytes),
        );
        metric(
            "origin_spool_segments",
            "gauge",
            "Spool segment files on disk.",
            plain(spool.segments as u64),
        );
        let sinks = self.sinks.lock().map(|s| s.clone()).unwrap_or_default();
        let per_sink = |f: &dyn Fn(&str, &SinkMetrics) -> u64| -> Vec<(String, u64)> {
            sinks
                .iter()
                .map(|(name, m)| (format!("{{sink=\"{name}\"}}"), f(name, m)))
                .collect()
        };
        metric(
            "origin_sink_lag_entries",
            "gauge",
            "Spooled entries a sink has not delivered yet.",
            per_sink(&|name, _| {
                spool
                    .next_seq
                    .saturating_sub(spool.cursors.get(name).copied().unwrap_or(spool.next_seq))
            }),
        );
        metric(
            "origin_sink_lag_seconds",
            "gauge",
            "Age of the oldest entry a sink is delivering (0 when caught up).",
            per_sink(&|_, m| m.lag_ms.get() / 1000),
        );
        metric(
            "origin_sink_delivered_records_total",
            "counter",
            "Records a sink acknowledged.",
            per_sink(&|_, m| m.delivered_records.get()),
        );
        metric(
            "origin_sink_delivered_batches_total",
            "counter",
            "Batches a sink acknowledged.",
            per_sink(&|_, m| m.delivered_batches.get()),
        );
        metric(
            "origin_sink_errors_total",
            "counter",
            "Failed delivery attempts.",
            per_sink(&|_, m| m.errors.get()),
        );
        metric(
            "origin_sink_retries_total",
            "counter",
            "Delivery attempts that repeated a failed one.",
            per_sink(&|_, m| m.retries.get()),
        );
        metric(
            "origin_sink_dead_lettered_total",
            "counter",
            "Records a sink refused for good, kept as dead letters (GET /admin/dead-letters).",
            per_sink(&|_, m| m.dead_lettered.get()),
        );
        let pushes = self
            .rollup_pushes
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default();
        metric(
            "origin_rollup_pushes_total",
            "counter",
            "Rollup upserts sent, by target and result.",
            pushes
                .into_iter()
                .map(|((target, result), n)| {
                    (format!("{{target=\"{target}\",result=\"{result}\"}}"), n)
                })
                .collect(),
        );
        metric(
            "origin_rollup_days_pushed_total",
            "counter",
            "(app, day) pairs whose complete stats were pushed.",
            plain(self.rollup_days_pushed.get()),
        );
        out
    }
}
