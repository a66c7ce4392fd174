use std::io::Write;
use std::time::Duration;

use tokio::sync::watch;

use super::*;

fn records(prefix: &str, n: usize) -> EncodedBatch {
    let ids: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
    record::tests::batch_of(&ids)
}

fn config(dir: &Path, segment_bytes: u64) -> SpoolConfig {
    SpoolConfig {
        dir: dir.to_owned(),
        segment_bytes,
        dedup_retention_days: 7,
        max_queued_appends: 64,
        min_free_disk_bytes: 0,
        free_space_override: None,
    }
}

const NOW: BatchLimits = BatchLimits {
    max_records: 1_000,
    max_wait: Duration::ZERO,
};

async fn read_all(spool: &Spool, sink: &str) -> Vec<String> {
    let (_stop_tx, mut stop) = watch::channel(false);
    let mut reader = spool.reader(sink);
    let mut ids = Vec::new();
    while reader.position() < spool.stats().next_seq {
        let batch = reader
            .next_batch(NOW, &mut stop)
            .await
            .expect("reads")
            .expect("a batch");
        ids.extend(batch.records().map(|r| r.expect("record").id.to_owned()));
    }
    ids
}

#[tokio::test]
async fn duplicates_are_spooled_once_even_within_a_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(&config(dir.path(), 1 << 20), &["a"]).expect("opens");
    let first = spool.append(records("m", 3)).await.expect("appends");
    assert_eq!((first.accepted, first.duplicates), (3, 0));
    let ids: Vec<String> = ["m0", "m1", "m2", "m3", "m3"].map(String::from).to_vec();
    let again = record::tests::batch_of(&ids);
    let second = spool.append(again).await.expect("appends");
    assert_eq!((second.accepted, second.duplicates), (1, 4));
    assert_eq!(read_all(&spool, "a").await, ["m0", "m1", "m2", "m3"]);
    spool.close();
}

#[tokio::test]
async fn cursors_survive_reopen_and_each_sink_has_its_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), 1 << 20);
    {
        let spool = Spool::open(&cfg, &["fast", "slow"]).expect("opens");
        spool.append(records("a", 2)).await.expect("appends");
        spool.append(records("b", 2)).await.expect("appends");
        let (_tx, mut stop) = watch::channel(false);
        let mut reader = spool.reader("fast");
        let batch = reader
            .next_batch(NOW, &mut stop)
            .await
            .expect("reads")
            .expect("batch");
        assert_eq!(batch.record_count(), 4);
        spool.commit("fast", batch.next_seq).await.expect("commits");
        spool.close();
    }
    let spool = Spool::open(&cfg, &["fast", "slow"]).expect("reopens");
    assert!(read_all(&spool, "fast").await.is_empty());
    assert_eq!(read_all(&spool, "slow").await, ["a0", "a1", "b0", "b1"]);
    let dup = spool.append(records("a", 2)).await.expect("appends");
    assert_eq!(dup.duplicates, 2, "dedup index rebuilt from segments");
    spool.close();
}

#[tokio::test]
async fn trims_only_what_every_sink_delivered_and_keeps_dedup() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Tiny segments: every entry rolls a new one.
    let cfg = config(dir.path(), 1);
    let spool = Spool::open(&cfg, &["x", "y"]).expect("opens");
    for i in 0..5 {
        spool
            .append(records(&format!("r{i}-"), 2))
            .await
            .expect("appends");
    }
    let end = spool.stats().next_seq;
    let before = spool.stats().segments;
    spool.commit("x", end).await.expect("commits");
    assert_eq!(spool.stats().segments, before, "y still needs them");
    spool.commit("y", 3).await.expect("commits");
    let after_y = spool.stats();
    assert!(after_y.segments < before);
    assert!(after_y.oldest_seq <= 3, "entry 3 is still there for y");
    spool.commit("y", end).await.expect("commits");
    assert_eq!(spool.stats().segments, 1, "only the active segment stays");
    spool.close();

    let spool = Spool::open(&cfg, &["x", "y"]).expect("reopens");
    let dup = spool.append(records("r0-", 2)).await.expect("appends");
    assert_eq!(dup.duplicates, 2, "trimmed ids are still known");
    spool.close();
}

/// Issue 12: an erasure's append closes the segment (1 MiB here, far from full), so the
/// records before it are deleted once every sink is past them, not when the segment fills.
#[tokio::test]
async fn an_erasure_closes_the_segment_so_delivered_records_go_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), 1 << 20);
    let spool = Spool::open(&cfg, &["x"]).expect("opens");
    spool.append(records("person-", 3)).await.expect("appends");
    spool
        .append_then_roll(records("erasure-", 1))
        .await
        .expect("appends");
    assert_eq!(spool.stats().segments, 2, "a new segment was started");
    spool.append(records("later-", 1)).await.expect("appends");
    spool.commit("x", 3).await.expect("commits");
    assert_eq!(
        spool.stats().segments,
        1,
        "the closed segment went with its delivery"
    );
    let left = fs::read_dir(dir.path().join("segments"))
        .expect("lists")
        .map(|e| fs::read(e.expect("entry").path()).expect("reads"))
        .any(|bytes| bytes.windows(7).any(|w| w == b"person-"));
    assert!(!left, "no record of the person is left in a segment");
    spool.close();
}

#[tokio::test]
async fn a_torn_tail_is_cut_and_appends_continue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), 1 << 20);
    {
        let spool = Spool::open(&cfg, &["a"]).expect("opens");
        spool.append(records("ok", 2)).await.expect("appends");
        spool.close();
    }
    let (_, last) = segment::list_segments(&dir.path().join("segments"))
        .expect("lists")
        .pop()
        .expect("a segment");
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(&last)
        .expect("opens");
    file.write_all(&[9, 0, 0, 0, 1, 2, 3])
        .expect("writes garbage");
    drop(file);

    let spool = Spool::open(&cfg, &["a"]).expect("recovers");
    spool.append(records("after", 1)).await.expect("appends");
    assert_eq!(read_all(&spool, "a").await, ["ok0", "ok1", "after0"]);
    spool.close();
}

#[tokio::test]
async fn batches_close_at_max_records_or_after_max_wait() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(&config(dir.path(), 1 << 20), &["a"]).expect("opens");
    for i in 0..3 {
        spool
            .append(records(&format!("e{i}-"), 2))
            .await
            .expect("appends");
    }
    let (_tx, mut stop) = watch::channel(false);
    let mut reader = spool.reader("a");
    let limits = BatchLimits {
        max_records: 4,
        max_wait: Duration::from_secs(60),
    };
    let full = reader
        .next_batch(limits, &mut stop)
        .await
        .expect("reads")
        .expect("batch");
    assert_eq!(
        full.record_count(),
        4,
        "closed by size, not by the 60 s wait"
    );

    let short_wait = BatchLimits {
        max_records: 1_000,
        max_wait: Duration::from_millis(50),
    };
    let started = std::time::Instant::now();
    let rest = reader
        .next_batch(short_wait, &mut stop)
        .await
        .expect("reads")
        .expect("batch");
    assert_eq!(rest.record_count(), 2);
    assert!(started.elapsed() < Duration::from_secs(5));
    spool.close();
}

#[tokio::test]
async fn stop_ends_an_idle_reader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(&config(dir.path(), 1 << 20), &["a"]).expect("opens");
    let (tx, mut stop) = watch::channel(false);
    let mut reader = spool.reader("a");
    let waiting = tokio::spawn(async move { reader.next_batch(NOW, &mut stop).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    tx.send_replace(true);
    let result = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("returns promptly")
        .expect("joins")
        .expect("no error");
    assert!(result.is_none());
    spool.close();
}

/// Issue 13, finding 8: damage in a segment before the last one stopped the start-up for
/// good. Now the segment is repaired: the original is quarantined, the frames that still
/// check are kept, the lost entry reads as empty, and appends go on.
#[tokio::test]
async fn corruption_in_a_non_final_segment_is_quarantined_and_repaired() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Small segments: each append rolls, so there are several segments.
    let cfg = config(dir.path(), 64);
    {
        let spool = Spool::open(&cfg, &["a"]).expect("opens");
        for prefix in ["a", "b", "c", "d"] {
            spool.append(records(prefix, 2)).await.expect("appends");
        }
        spool.close();
    }
    let segments = segment::list_segments(&dir.path().join("segments")).expect("lists");
    assert!(segments.len() >= 3, "{segments:?}");
    // Damage the second entry's payload (segment 2 of 3+).
    let damaged = &segments[1].1;
    let mut bytes = std::fs::read(damaged).expect("reads");
    let middle = bytes.len() - 5;
    bytes[middle] ^= 0xff;
    std::fs::write(damaged, &bytes).expect("writes");

    let spool = Spool::open(&cfg, &["a"]).expect("starts despite the damage");
    let quarantined: Vec<_> = std::fs::read_dir(dir.path().join("quarantine"))
        .expect("quarantine dir")
        .collect();
    assert_eq!(quarantined.len(), 1, "the damaged original is kept");
    assert_eq!(
        read_all(&spool, "a").await,
        ["a0", "a1", "c0", "c1", "d0", "d1"],
        "the damaged entry reads as empty, its neighbours intact"
    );
    let more = spool.append(records("e", 1)).await.expect("appends");
    assert_eq!(more.accepted, 1);
    spool.close();
}

#[test]
fn salvage_resynchronises_past_garbage() {
    let mut bytes = Vec::new();
    segment::encode_frame(5, 1, b"one", &mut bytes);
    bytes.extend_from_slice(&[0xAB; 37]);
    segment::encode_frame(7, 2, b"three", &mut bytes);
    let frames = repair::salvage(&bytes, 5, 9);
    let seqs: Vec<u64> = frames.iter().map(|f| f.0).collect();
    assert_eq!(seqs, [5, 7]);
    assert!(
        repair::salvage(&bytes, 6, 7).is_empty(),
        "out-of-range seqs are not frames"
    );
}

/// Issue 13, finding 8: a full disk poisoned the spool until a restart. Now appends under the
/// free-space watermark are refused before anything is written, and accepted again as soon
/// as space is back, with no restart.
#[tokio::test]
async fn disk_watermark_refuses_then_recovers_without_restart() {
    use std::sync::atomic::AtomicU64;
    let dir = tempfile::tempdir().expect("tempdir");
    let free = Arc::new(AtomicU64::new(10));
    let mut cfg = config(dir.path(), 1 << 20);
    cfg.min_free_disk_bytes = 1_000;
    cfg.free_space_override = Some(free.clone());
    let spool = Spool::open(&cfg, &["a"]).expect("opens");
    let refused = spool.append(records("x", 2)).await;
    assert!(
        matches!(
            refused,
            Err(SpoolError::DiskFull {
                free: 10,
                min: 1_000
            })
        ),
        "{refused:?}"
    );
    assert!(spool.is_healthy());
    free.store(1_000_000, Ordering::Release);
    let ok = spool.append(records("x", 2)).await.expect("appends again");
    assert_eq!(ok.accepted, 2, "nothing of the refused attempt was kept");
    assert_eq!(read_all(&spool, "a").await, ["x0", "x1"]);
    spool.close();
}

#[test]
fn free_disk_bytes_reads_the_file_system() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(free_bytes(dir.path()).expect("statvfs") > 0);
}
