//! The reader alone: parses a JSONL file into messages as the import's reader thread does and
//! drops them, ROUNDS times, printing the time of each round (no store, no classifier).
//!
//!   cargo run --release -p copernic-pipeline --example read_hot -- FILE.jsonl [ROUNDS]

use std::io::BufReader;
use std::time::Instant;

use copernic_pipeline::sources::{self, Context, Format, Item, Mapping};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: read_hot FILE.jsonl [ROUNDS]");
    let rounds: usize = args
        .next()
        .map_or(3, |r| r.parse().expect("ROUNDS is a number"));
    let ctx = Context::new("bench", &path);
    let mapping = Mapping::default();
    for round in 1..=rounds {
        let file = std::fs::File::open(&path).expect("cannot open the file");
        let mut input = BufReader::with_capacity(1 << 20, file);
        let (mut messages, mut rejects, mut text_bytes) = (0u64, 0u64, 0usize);
        let mut batch = Vec::with_capacity(4096);
        let start = Instant::now();
        sources::read(Format::Jsonl, &mut input, &mapping, &ctx, &mut |item| {
            match &item {
                Item::Message(m) => {
                    messages += 1;
                    text_bytes += m.text.len();
                }
                Item::Reject(_) => rejects += 1,
            }
            batch.push(item);
            if batch.len() == 4096 {
                batch.clear();
            }
        })
        .expect("read failed");
        let s = start.elapsed().as_secs_f64();
        println!(
            "round {round}: {messages} messages, {rejects} rejects, {text_bytes} text bytes in {s:.3} s ({:.0} msg/s)",
            messages as f64 / s
        );
    }
}
