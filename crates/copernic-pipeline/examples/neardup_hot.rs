//! The near-duplicate detector as an import runs it: the SimHash fingerprint of every message of
//! a JSONL file (timed), then every message assigned in order, in batches, with and without the
//! lists fetched ahead (`NearDup::prefetch`), on one thread. The wave counts must agree.
//!
//! ```text
//! cargo run --release -p copernic-pipeline --example neardup_hot -- FILE.jsonl [ROUNDS]
//! ```

use std::io::BufRead;
use std::time::Instant;

use copernic_core::MessageId;
use copernic_pipeline::transforms::neardup::{fingerprint, NearDup, NearDupConfig};

/// Messages per writer batch in an import.
const BATCH: usize = 32_768;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: neardup_hot FILE.jsonl [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(3);
    let file = std::fs::File::open(path).expect("cannot open the input");
    let texts: Vec<String> = std::io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
        .map(|v| v["text"].as_str().unwrap_or("").to_string())
        .collect();
    let started = Instant::now();
    let fingerprints: Vec<u64> = texts.iter().map(|t| fingerprint(t, 6)).collect();
    println!(
        "fingerprints: {:.3} s for {} messages",
        started.elapsed().as_secs_f64(),
        texts.len()
    );
    let ids: Vec<MessageId> = (0..fingerprints.len())
        .map(|i| MessageId::derive("bench", &i.to_string()))
        .collect();
    for round in 0..rounds {
        // 0: no prefetch; 8: as the writer does it.
        for ahead in [0usize, 8] {
            let mut detector = NearDup::new(NearDupConfig::default());
            let started = Instant::now();
            let mut in_waves = 0;
            for (fps, ids) in fingerprints.chunks(BATCH).zip(ids.chunks(BATCH)) {
                for (i, (&f, &id)) in fps.iter().zip(ids).enumerate() {
                    if ahead > 0 {
                        if let Some(&g) = fps.get(i + ahead) {
                            detector.prefetch(g, ahead, false);
                        }
                        if let Some(&g) = fps.get(i + ahead / 2) {
                            detector.prefetch(g, ahead / 2, true);
                        }
                    }
                    in_waves += usize::from(detector.assign(id, f).wave.is_some());
                }
            }
            println!(
                "round {round}, fetched {ahead} ahead: {:.3} s for {} messages ({in_waves} in waves)",
                started.elapsed().as_secs_f64(),
                fingerprints.len()
            );
        }
    }
}
