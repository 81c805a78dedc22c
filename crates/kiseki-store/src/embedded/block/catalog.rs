//! The names one block holds (services, operations, attribute keys and some values), gathered
//! while the block is written, kept in its index, and turned into a [`Catalog`] when opened.
//! Searches use it to skip a block that cannot match without reading the data file.

use std::collections::{BTreeMap, BTreeSet};

use kiseki_model::{AnyValue, SpanKind, Str};
use rustc_hash::{FxHashMap, FxHashSet};

use super::values::{Corrupt, Reader, put_str, put_varint};
use crate::catalog::{Catalog, MAX_KEYS, MAX_VALUE_LEN, MAX_VALUES_PER_KEY};
use crate::query::Operation;

/// Services with their operations, and attribute keys with up to [`MAX_VALUES_PER_KEY`] values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockCatalog {
    pub operations: BTreeMap<Str, BTreeSet<(Str, SpanKind)>>,
    pub attributes: BTreeMap<Str, KeyValues>,
}

/// The values seen for one key, as text; `too_many` when there were more than a catalog keeps,
/// `unlisted` when some values were not listed (too long, or not text, numbers or booleans).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyValues {
    pub values: BTreeSet<Str>,
    pub too_many: bool,
    pub unlisted: bool,
}

impl BlockCatalog {
    pub fn has_service(&self, service: &str) -> bool {
        self.operations.contains_key(service)
    }

    /// Whether some span has this name (under `service` when given).
    pub fn has_operation(&self, service: Option<&str>, name: &str) -> bool {
        let mut services = self.operations.iter().filter(|(s, _)| service.is_none_or(|w| s == &w));
        services.any(|(_, ops)| ops.iter().any(|(op, _)| op == name))
    }

    /// Whether some span or resource may have `key` with a value that reads as `text` (see
    /// [`value_reads_as`](crate::query::value_reads_as)); false only when the listed values
    /// of the key are complete and none can.
    pub fn may_have_value(&self, key: &str, text: &str) -> bool {
        if self.attributes.len() >= MAX_KEYS {
            return true;
        }
        let Some(values) = self.attributes.get(key) else { return false };
        if values.too_many || values.unlisted {
            return true;
        }
        let int = text.parse::<i64>().ok();
        let double = text.parse::<f64>().ok();
        let boolean = text.parse::<bool>().ok();
        values.values.iter().any(|value| {
            value == text
                || int.is_some_and(|i| value.parse::<i64>().ok() == Some(i))
                || double.is_some_and(|d| value.parse::<f64>().ok() == Some(d))
                || boolean.is_some_and(|b| value.parse::<bool>().ok() == Some(b))
        })
    }

    /// The catalog of a block holding the spans of blocks with `catalogs` (a compaction's
    /// output): everything any of them lists, a key's values marked too many once together
    /// they pass [`MAX_VALUES_PER_KEY`], at most [`MAX_KEYS`] keys.
    pub fn merge<'c>(catalogs: impl IntoIterator<Item = &'c BlockCatalog>) -> Self {
        let mut merged = Self::default();
        for catalog in catalogs {
            for (service, operations) in &catalog.operations {
                let into = merged.operations.entry(service.clone()).or_default();
                into.extend(operations.iter().cloned());
            }
            for (key, values) in &catalog.attributes {
                if merged.attributes.len() >= MAX_KEYS && !merged.attributes.contains_key(key) {
                    continue;
                }
                let into = merged.attributes.entry(key.clone()).or_default();
                into.unlisted |= values.unlisted;
                if into.too_many {
                    continue;
                }
                into.too_many = values.too_many;
                into.values.extend(values.values.iter().cloned());
                if into.too_many || into.values.len() > MAX_VALUES_PER_KEY {
                    into.too_many = true;
                    into.values.clear();
                }
            }
        }
        merged
    }

    /// The shared [`Catalog`] form, for the engine to merge.
    pub fn to_catalog(&self) -> Catalog {
        let mut catalog = Catalog::default();
        for (service, operations) in &self.operations {
            for (name, kind) in operations {
                catalog.add_operation(service, Operation { name: name.to_string(), kind: *kind });
            }
        }
        for (key, values) in &self.attributes {
            if values.too_many || values.values.is_empty() {
                catalog.add_attribute(key, &AnyValue::Empty);
            } else {
                for value in &values.values {
                    catalog.add_attribute(key, &AnyValue::Str(value.clone()));
                }
            }
        }
        catalog
    }

    pub fn encode(&self, buf: &mut Vec<u8>) {
        put_varint(buf, self.operations.len() as u64);
        for (service, operations) in &self.operations {
            put_str(buf, service);
            put_varint(buf, operations.len() as u64);
            for (name, kind) in operations {
                put_str(buf, name);
                buf.push(*kind as u8);
            }
        }
        put_varint(buf, self.attributes.len() as u64);
        for (key, values) in &self.attributes {
            put_str(buf, key);
            buf.push(u8::from(values.too_many) | u8::from(values.unlisted) << 1);
            put_varint(buf, values.values.len() as u64);
            for value in &values.values {
                put_str(buf, value);
            }
        }
    }

    pub fn decode(reader: &mut Reader<'_>) -> Result<Self, Corrupt> {
        let mut catalog = Self::default();
        for _ in 0..reader.count()? {
            let service = reader.str()?;
            let mut operations = BTreeSet::new();
            for _ in 0..reader.count()? {
                let name = reader.str()?;
                let kind = SpanKind::from_number(i64::from(reader.byte()?))
                    .ok_or_else(|| Corrupt::new("unknown span kind in catalog"))?;
                operations.insert((name, kind));
            }
            catalog.operations.insert(service, operations);
        }
        for _ in 0..reader.count()? {
            let key = reader.str()?;
            let flags = reader.byte()?;
            let (too_many, unlisted) = (flags & 1 != 0, flags & 2 != 0);
            let mut values = BTreeSet::new();
            for _ in 0..reader.count()? {
                values.insert(reader.str()?);
            }
            catalog.attributes.insert(key, KeyValues { values, too_many, unlisted });
        }
        Ok(catalog)
    }
}

/// A value other than text as the catalog will show it, kept unformatted until the block is
/// finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum SeenScalar {
    Int(i64),
    Bool(bool),
    Double(u64),
}

#[derive(Default)]
struct SeenKey {
    /// Text values, looked up by `&str` so that a value seen before is not copied.
    texts: FxHashSet<Str>,
    scalars: FxHashSet<SeenScalar>,
    too_many: bool,
    unlisted: bool,
}

impl SeenKey {
    fn listed(&self) -> usize {
        self.texts.len() + self.scalars.len()
    }
}

/// Gathers a [`BlockCatalog`] span by span, cheaply: keys are numbered once (the writer keeps
/// the numbers per shape), values are hashed, not formatted.
#[derive(Default)]
pub struct CatalogBuilder {
    /// (resource index, span name, kind); the resource gives the service at the end.
    operations: FxHashSet<(u32, Str, SpanKind)>,
    key_numbers: FxHashMap<Str, u32>,
    keys: Vec<(Str, SeenKey)>,
}

impl CatalogBuilder {
    pub fn add_operation(&mut self, resource: u32, name: &Str, kind: SpanKind) {
        // Looking up by a borrowed tuple is not possible, so clone only on a miss.
        let key = (resource, name.clone(), kind);
        if !self.operations.contains(&key) {
            self.operations.insert(key);
        }
    }

    /// The number of `key`; `None` once [`MAX_KEYS`] keys were seen and this is another.
    pub fn key_number(&mut self, key: &Str) -> Option<u32> {
        if let Some(&number) = self.key_numbers.get(key.as_str()) {
            return Some(number);
        }
        if self.keys.len() >= MAX_KEYS {
            return None;
        }
        let number = self.keys.len() as u32;
        self.key_numbers.insert(key.clone(), number);
        self.keys.push((key.clone(), SeenKey::default()));
        Some(number)
    }

    pub fn add_attribute(&mut self, key: &Str, value: &AnyValue) {
        if let Some(number) = self.key_number(key) {
            self.add_value(number, value);
        }
    }

    /// Records a value of the key numbered `number`.
    pub fn add_value(&mut self, number: u32, value: &AnyValue) {
        let Some((_, seen)) = self.keys.get_mut(number as usize) else { return };
        if seen.too_many {
            return;
        }
        let added = match value {
            AnyValue::Str(s) if s.len() <= MAX_VALUE_LEN => {
                !seen.texts.contains(s.as_str()) && seen.texts.insert(s.clone())
            }
            AnyValue::Int(i) => seen.scalars.insert(SeenScalar::Int(*i)),
            AnyValue::Bool(b) => seen.scalars.insert(SeenScalar::Bool(*b)),
            AnyValue::Double(d) => seen.scalars.insert(SeenScalar::Double(d.to_bits())),
            _ => {
                seen.unlisted = true;
                return;
            }
        };
        if added && seen.listed() > MAX_VALUES_PER_KEY {
            seen.too_many = true;
            seen.texts = FxHashSet::default();
            seen.scalars = FxHashSet::default();
        }
    }

    /// The catalog, with `service_of` naming the service of each resource index.
    pub fn finish(self, service_of: impl Fn(u32) -> Str) -> BlockCatalog {
        let mut catalog = BlockCatalog::default();
        for (resource, name, kind) in self.operations {
            catalog.operations.entry(service_of(resource)).or_default().insert((name, kind));
        }
        for (key, seen) in self.keys {
            let listed = seen.listed();
            let scalars = seen.scalars.into_iter().map(|value| match value {
                SeenScalar::Int(i) => Str::from(i.to_string()),
                SeenScalar::Bool(b) => Str::from(b.to_string()),
                SeenScalar::Double(bits) => Str::from(f64::from_bits(bits).to_string()),
            });
            let values: BTreeSet<Str> = seen
                .texts
                .into_iter()
                .chain(scalars)
                .filter(|text| text.len() <= MAX_VALUE_LEN)
                .collect();
            // Values too long to list once formatted make the list incomplete.
            let unlisted = seen.unlisted || values.len() < listed;
            catalog.attributes.insert(key, KeyValues { values, too_many: seen.too_many, unlisted });
        }
        catalog
    }
}
