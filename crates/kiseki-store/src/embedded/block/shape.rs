//! Attribute shapes: the ordered keys of an attribute list with where each value is kept.
//!
//! Spans from the same instrumentation carry the same keys in the same order, so a block keeps
//! each distinct key list once and a row stores only its number and the values. Keeping the
//! order makes the round trip exact. A block keeps at most [`MAX_SHAPES`] shapes; lists beyond
//! that are written inline with their keys.

use std::hash::Hasher;

use kiseki_model::{KeyValue, Str};
use rustc_hash::{FxHashMap, FxHasher};

use super::schema::DedicatedType;
use super::values::{Corrupt, Reader, ValueTag, put_str, put_varint};

/// Shapes one block keeps; the rest are written inline.
pub const MAX_SHAPES: usize = 65_536;
/// Shapes a table hands out: [`MAX_SHAPES`], but few in tests, so that every path meets lists
/// written inline.
#[cfg(not(test))]
const SHAPES_KEPT: usize = MAX_SHAPES;
#[cfg(test)]
const SHAPES_KEPT: usize = 12;
/// Shapes with one hash value that are compared before giving up and writing inline, so that
/// keys made to collide cannot make writing slow.
const MAX_SHAPES_PER_HASH: usize = 8;

/// Where the value of one attribute is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    /// In the dedicated column with this index in the block's dedicated key list.
    Dedicated(u16),
    /// In the packed values column, as a value of this type.
    Generic(ValueTag),
}

impl Slot {
    fn to_code(self) -> u64 {
        match self {
            Slot::Generic(tag) => tag as u64,
            Slot::Dedicated(index) => 8 + u64::from(index),
        }
    }

    fn from_code(code: u64) -> Result<Self, Corrupt> {
        match code {
            0..8 => Ok(Slot::Generic(ValueTag::from_byte(code as u8)?)),
            _ => u16::try_from(code - 8)
                .map(Slot::Dedicated)
                .map_err(|_| Corrupt(format!("attribute slot {code}"))),
        }
    }
}

/// The keys of an attribute list, in order, with the slot of each value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Shape {
    pub entries: Vec<(Str, Slot)>,
}

impl Shape {
    pub fn encode(&self, buf: &mut Vec<u8>) {
        put_varint(buf, self.entries.len() as u64);
        for (key, slot) in &self.entries {
            put_str(buf, key);
            put_varint(buf, slot.to_code());
        }
    }

    pub fn decode(
        reader: &mut Reader<'_>,
        dedicated: &[(Str, DedicatedType)],
    ) -> Result<Self, Corrupt> {
        let count = reader.count()?;
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            let key = reader.str()?;
            let slot = Slot::from_code(reader.varint()?)?;
            if let Slot::Dedicated(index) = slot
                && usize::from(index) >= dedicated.len()
            {
                return Err(Corrupt(format!("shape names dedicated column {index}")));
            }
            entries.push((key, slot));
        }
        Ok(Self { entries })
    }

    /// The position and slot of the first entry with `key` (attribute lookups take the first).
    pub fn find(&self, key: &str) -> Option<(usize, Slot)> {
        self.entries.iter().position(|(k, _)| k == key).map(|i| (i, self.entries[i].1))
    }
}

/// Chooses slots for attribute lists and numbers the distinct shapes of one block.
pub struct ShapeTable {
    /// Dedicated keys with their type and index; a key is dedicated only with that type.
    dedicated: FxHashMap<Str, (u16, DedicatedType)>,
    shapes: Vec<Shape>,
    /// Per shape: the value type of each entry and whether dedicated slots were allowed, so a
    /// list is matched to a shape without deciding its slots again.
    signatures: Vec<(Vec<ValueTag>, bool)>,
    by_hash: FxHashMap<u64, Vec<u32>>,
}

impl ShapeTable {
    pub fn new(dedicated: &[(Str, DedicatedType)]) -> Self {
        let dedicated = dedicated
            .iter()
            .enumerate()
            .map(|(i, (key, kind))| (key.clone(), (i as u16, *kind)))
            .collect();
        Self {
            dedicated,
            shapes: Vec::new(),
            signatures: Vec::new(),
            by_hash: FxHashMap::default(),
        }
    }

    /// Numbers the shape of `attributes` (dedicated slots allowed when `use_dedicated`);
    /// `None` when it has to be written inline. `likely` is a shape to compare with before
    /// hashing: lists of spans with the same name mostly have the same shape.
    pub fn number(
        &mut self,
        attributes: &[KeyValue],
        use_dedicated: bool,
        likely: Option<u32>,
    ) -> Option<u32> {
        let entry = |i: usize| (&attributes[i].key, ValueTag::of(&attributes[i].value));
        if let Some(id) = likely
            && self.is(id, attributes.len(), entry, use_dedicated)
        {
            return Some(id);
        }
        self.number_by(attributes.len(), entry, use_dedicated)
    }

    /// [`Self::number`] for a list of keys with the type of each value (a shape of another
    /// block, whose values are not at hand).
    pub fn number_of_keys(&mut self, keys: &[(Str, ValueTag)], use_dedicated: bool) -> Option<u32> {
        self.number_by(keys.len(), |i| (&keys[i].0, keys[i].1), use_dedicated)
    }

    /// Numbers the shape of the list of `len` entries given by `entry` (key and value type).
    fn number_by<'k>(
        &mut self,
        len: usize,
        entry: impl Fn(usize) -> (&'k Str, ValueTag),
        use_dedicated: bool,
    ) -> Option<u32> {
        let mut hasher = FxHasher::default();
        hasher.write_u8(u8::from(use_dedicated));
        for i in 0..len {
            let (key, tag) = entry(i);
            hasher.write(key.as_bytes());
            hasher.write_u8(tag as u8);
        }
        let hash = hasher.finish();
        let found = self.by_hash.get(&hash).and_then(|candidates| {
            candidates.iter().copied().find(|&id| self.is(id, len, &entry, use_dedicated))
        });
        if found.is_some() {
            return found;
        }
        let candidates = self.by_hash.entry(hash).or_default();
        if self.shapes.len() >= SHAPES_KEPT || candidates.len() >= MAX_SHAPES_PER_HASH {
            return None;
        }
        let id = self.shapes.len() as u32;
        candidates.push(id);
        let mut used: u64 = 0;
        let mut entries = Vec::with_capacity(len);
        let mut tags = Vec::with_capacity(len);
        for i in 0..len {
            let (key, tag) = entry(i);
            let dedicated = if use_dedicated { self.dedicated.get(key.as_str()) } else { None };
            let slot = match (dedicated, tag) {
                (Some(&(index, DedicatedType::Str)), ValueTag::Str)
                | (Some(&(index, DedicatedType::Int)), ValueTag::Int)
                    if index < 64 && used & (1 << index) == 0 =>
                {
                    used |= 1 << index;
                    Slot::Dedicated(index)
                }
                _ => Slot::Generic(tag),
            };
            entries.push((key.clone(), slot));
            tags.push(tag);
        }
        self.signatures.push((tags, use_dedicated));
        self.shapes.push(Shape { entries });
        Some(id)
    }

    /// Whether shape `id` is the shape of the list of `len` entries given by `entry`.
    fn is<'k>(
        &self,
        id: u32,
        len: usize,
        entry: impl Fn(usize) -> (&'k Str, ValueTag),
        use_dedicated: bool,
    ) -> bool {
        let Some((tags, dedicated)) = self.signatures.get(id as usize) else { return false };
        let entries = &self.shapes[id as usize].entries;
        *dedicated == use_dedicated
            && entries.len() == len
            && entries.iter().zip(tags).enumerate().all(|(i, ((key, _), tag))| {
                let (other_key, other_tag) = entry(i);
                *tag == other_tag && key == other_key
            })
    }

    pub fn shape(&self, id: u32) -> &Shape {
        &self.shapes[id as usize]
    }

    pub fn into_shapes(self) -> Vec<Shape> {
        self.shapes
    }
}
