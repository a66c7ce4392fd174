//! Every bound of the origin's intake, named (issue 13, finding 8). The README's limits table
//! lists them with what happens at each; the batch bounds themselves
//! (`MAX_OUTBOX_BATCH_BYTES`, `MAX_OUTBOX_RECORDS_PER_BATCH`) are the edge contract and live in
//! `attrib_core::limits`.

use std::time::Duration;

/// `POST /v1/outbox` requests handled at once (`ATTRIB_ORIGIN_MAX_IN_FLIGHT`). Each may buffer
/// up to `MAX_OUTBOX_BATCH_BYTES` before its signature can be checked, so this also bounds
/// the memory unauthenticated senders can hold: 16 × 8 MiB. At the bound: 503
/// `overloaded` with `Retry-After`.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 16;

/// How long reading one request body may take (`ATTRIB_ORIGIN_REQUEST_TIMEOUT_MS`): a
/// trickling sender holds a slot no longer. At the bound: 408 `request_timeout`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a connection may take to send a whole request head
/// (`ATTRIB_ORIGIN_HEADER_TIMEOUT_MS`), counted from when it is ready for one: just accepted,
/// or idle on keep-alive after an answer. So it is also the idle keep-alive bound. A client
/// that never finishes its head (slowloris) or never uses its connection holds it no longer
/// (issue 13, finding 8 "no timeouts"). At the bound: the connection is closed, without an
/// answer (hyper sends none on a head timeout). The edge sends its head at once, so 10 s is
/// generous.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Open connections at once (`ATTRIB_ORIGIN_MAX_CONNECTIONS`): each holds a socket, a task
/// and its buffers until its head timeout at the latest. At the bound the origin accepts no
/// more until one closes; new ones wait in the kernel's listen backlog (and are refused by the
/// kernel once that is full), so a flood of idle connections cannot exhaust file descriptors.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Batches waiting for the spool writer (`ATTRIB_ORIGIN_MAX_QUEUED_APPENDS`): beyond it the
/// disk is not keeping up. At the bound: 503 `spool_busy` with `Retry-After`.
pub const DEFAULT_MAX_QUEUED_APPENDS: usize = 256;

/// Free space the spool's file system must keep (`ATTRIB_ORIGIN_MIN_FREE_DISK_BYTES`): below
/// it batches are refused before anything is written, 507 `insufficient_storage` with
/// `Retry-After`; intake resumes by itself once space is freed (no restart).
pub const DEFAULT_MIN_FREE_DISK_BYTES: u64 = 512 * 1024 * 1024;

/// `Retry-After` (seconds) on 503 and 507 answers.
pub const RETRY_AFTER_SECS: u64 = 1;

/// Bytes one page of the query Worker's retention answer may hold
/// (`crate::retention_source`): a page names at most
/// `attrib_core::limits::RETENTION_APPS_PER_PAGE` apps of at most 64 characters, well under.
pub const MAX_RETENTION_PAGE_BYTES: usize = 1024 * 1024;

/// `max_query_size` the retention mutation is sent with (`crate::retention`): it names every
/// app at most twice (its own rule, the default rule's exceptions), up to
/// `attrib_core::limits::MAX_RETENTION_APPS` ids of at most 64 characters, over ClickHouse's
/// 256 KiB default.
pub const RETENTION_MUTATION_MAX_QUERY_BYTES: usize = 4 * 1024 * 1024;
