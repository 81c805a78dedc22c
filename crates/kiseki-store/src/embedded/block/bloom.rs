//! A bloom filter over a block's trace ids, kept in memory so that a trace-by-id lookup skips
//! every block that cannot hold the trace without touching the disk.
//!
//! Split-block layout: each id sets 8 bits inside one 256-bit block chosen by its hash, so a
//! lookup touches one cache line. About 10 bits per trace give about 1 % false positives.

use kiseki_model::TraceId;

use super::values::{Corrupt, Reader, put_varint};

/// Bits per inserted trace id.
const BITS_PER_ID: usize = 10;
const WORDS_PER_BLOCK: usize = 8;
/// Odd constants that spread one 32-bit hash into eight bit positions (as Parquet's bloom).
const SALT: [u32; WORDS_PER_BLOCK] = [
    0x47b6_137b,
    0x4497_4d91,
    0x8824_ad5b,
    0xa2b7_289d,
    0x7054_95c7,
    0x2df1_424b,
    0x9efc_4947,
    0x5c6b_fb31,
];

/// Answers "maybe" or "certainly not" for a trace id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceBloom {
    blocks: Vec<[u32; WORDS_PER_BLOCK]>,
}

impl TraceBloom {
    /// An empty filter sized for `expected_ids` trace ids.
    pub fn with_capacity(expected_ids: usize) -> Self {
        let bits = expected_ids.max(1) * BITS_PER_ID;
        let blocks = bits.div_ceil(WORDS_PER_BLOCK * 32).next_power_of_two();
        Self { blocks: vec![[0; WORDS_PER_BLOCK]; blocks] }
    }

    pub fn insert(&mut self, trace_id: TraceId) {
        let (block, word_hash) = self.locate(trace_id);
        let block = &mut self.blocks[block];
        for (word, salt) in block.iter_mut().zip(SALT) {
            *word |= 1 << (word_hash.wrapping_mul(salt) >> 27);
        }
    }

    pub fn may_contain(&self, trace_id: TraceId) -> bool {
        let (block, word_hash) = self.locate(trace_id);
        let block = &self.blocks[block];
        block
            .iter()
            .zip(SALT)
            .all(|(word, salt)| word & (1 << (word_hash.wrapping_mul(salt) >> 27)) != 0)
    }

    /// The block index and the 32 bits that choose bits inside it.
    fn locate(&self, trace_id: TraceId) -> (usize, u32) {
        let hash = mix(trace_id.get());
        // `blocks.len()` is a power of two and at least one.
        let block = ((hash >> 32) as usize) & (self.blocks.len() - 1);
        (block, hash as u32)
    }

    pub fn encode(&self, buf: &mut Vec<u8>) {
        put_varint(buf, self.blocks.len() as u64);
        for block in &self.blocks {
            for word in block {
                buf.extend_from_slice(&word.to_le_bytes());
            }
        }
    }

    pub fn decode(reader: &mut Reader<'_>) -> Result<Self, Corrupt> {
        let count = reader.varint()?;
        let count = usize::try_from(count)
            .ok()
            .filter(|&n| n.is_power_of_two() && n.saturating_mul(32) <= reader.remaining())
            .ok_or_else(|| Corrupt(format!("bloom filter of {count} blocks")))?;
        let mut blocks = Vec::with_capacity(count);
        for _ in 0..count {
            let mut block = [0u32; WORDS_PER_BLOCK];
            for word in &mut block {
                *word = u32::from_le_bytes(reader.array()?);
            }
            blocks.push(block);
        }
        Ok(Self { blocks })
    }

    /// Bytes the filter takes in memory.
    pub fn size_bytes(&self) -> usize {
        self.blocks.len() * WORDS_PER_BLOCK * 4
    }
}

/// Folds 128 bits into 64 well-mixed ones; trace ids from some tracers are not random
/// (64-bit ids in the low half, time-ordered high halves).
fn mix(id: u128) -> u64 {
    let mut x = (id as u64) ^ ((id >> 64) as u64).rotate_left(29);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_every_inserted_id_and_few_others() {
        let ids: Vec<TraceId> = (1..=20_000u128).map(|i| TraceId::new(i * 7919).unwrap()).collect();
        let mut bloom = TraceBloom::with_capacity(ids.len());
        ids.iter().for_each(|&id| bloom.insert(id));
        assert!(ids.iter().all(|&id| bloom.may_contain(id)));
        let false_positives = (1..=100_000u128)
            .map(|i| TraceId::new((i << 64) | 3).unwrap())
            .filter(|&id| bloom.may_contain(id))
            .count();
        assert!(false_positives < 3_000, "{false_positives} false positives in 100000");
        let mut buf = Vec::new();
        bloom.encode(&mut buf);
        let mut reader = Reader::new(&buf);
        assert_eq!(TraceBloom::decode(&mut reader).unwrap(), bloom);
        assert!(TraceBloom::decode(&mut Reader::new(&buf[..buf.len() - 1])).is_err());
    }
}
