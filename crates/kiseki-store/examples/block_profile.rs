//! Writes and merges blocks of seeded traffic in a loop, for a profiler to watch:
//! `cargo run --release -p kiseki-store --example block_profile -- write|compact [rounds]`.

use kiseki_model::Span;
use kiseki_store::embedded::block::{Block, BlockId, compact, write_block_of};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const START: u64 = 1_700_000_000_000_000_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "write".into());
    let rounds: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10);
    let count = if what == "write" { 200_000 } else { 1_000_000 };
    let spans: Vec<Span> = kiseki_testkit::Generator::new(42).spans(count, START);
    let dir = tempfile::tempdir().expect("temp dir");
    match what.as_str() {
        "write" => {
            let borrowed: Vec<&Span> = spans.iter().take(200_000).collect();
            for _ in 0..rounds {
                let block =
                    write_block_of(dir.path(), BlockId::generate(), 0, &borrowed).expect("write");
                block.remove().expect("remove");
            }
        }
        _ => {
            let inputs: Vec<Block> = spans
                .chunks(125_000)
                .map(|part| {
                    let borrowed: Vec<&Span> = part.iter().collect();
                    write_block_of(dir.path(), BlockId::generate(), 0, &borrowed).expect("write")
                })
                .collect();
            let inputs: Vec<&Block> = inputs.iter().collect();
            for _ in 0..rounds {
                let merged = compact(&inputs, dir.path(), BlockId::generate(), 1).expect("merge");
                merged.remove().expect("remove");
            }
        }
    }
}
