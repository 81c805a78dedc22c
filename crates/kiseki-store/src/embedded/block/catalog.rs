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

/// The values seen for one key; `too_many` when there were more than a catalog keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyValues {
    pub values: BTreeSet<Str>,
    pub too_many: bool,
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

    /// Whether the key was seen on some span or resource (unknown once [`MAX_KEYS`] were seen).
    pub fn may_have_key(&self, key: &str) -> bool {
        self.attributes.len() >= MAX_KEYS || self.attributes.contains_key(key)
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
            buf.push(u8::from(values.too_many));
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
            let too_many = reader.byte()? != 0;
            let mut values = BTreeSet::new();
            for _ in 0..reader.count()? {
                values.insert(reader.str()?);
            }
            catalog.attributes.insert(key, KeyValues { values, too_many });
        }
        Ok(catalog)
    }
}

/// A value as the catalog will show it, kept unformatted until the block is finished.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum SeenValue {
    Str(Str),
    Int(i64),
    Bool(bool),
    Double(u64),
}

#[derive(Default)]
struct SeenKey {
    values: FxHashSet<SeenValue>,
    too_many: bool,
}

/// Gathers a [`BlockCatalog`] span by span, cheaply: values are hashed, not formatted.
#[derive(Default)]
pub struct CatalogBuilder {
    /// (resource index, span name, kind); the resource gives the service at the end.
    operations: FxHashSet<(u32, Str, SpanKind)>,
    keys: FxHashMap<Str, SeenKey>,
}

impl CatalogBuilder {
    pub fn add_operation(&mut self, resource: u32, name: &Str, kind: SpanKind) {
        // Looking up by a borrowed tuple is not possible, so clone only on a miss.
        let key = (resource, name.clone(), kind);
        if !self.operations.contains(&key) {
            self.operations.insert(key);
        }
    }

    pub fn add_attribute(&mut self, key: &Str, value: &AnyValue) {
        let room_for_keys = self.keys.len() < MAX_KEYS;
        let seen = match self.keys.get_mut(key.as_str()) {
            Some(seen) => seen,
            None if room_for_keys => self.keys.entry(key.clone()).or_default(),
            None => return,
        };
        if seen.too_many {
            return;
        }
        let value = match value {
            AnyValue::Str(s) if s.len() <= MAX_VALUE_LEN => SeenValue::Str(s.clone()),
            AnyValue::Int(i) => SeenValue::Int(*i),
            AnyValue::Bool(b) => SeenValue::Bool(*b),
            AnyValue::Double(d) => SeenValue::Double(d.to_bits()),
            _ => return,
        };
        if !seen.values.contains(&value) {
            seen.values.insert(value);
            // Formatting can merge values (1.0 and 1 are different doubles but not here), so
            // this counts raw values; finish() trims to what a catalog keeps.
            if seen.values.len() > MAX_VALUES_PER_KEY {
                seen.too_many = true;
                seen.values.clear();
            }
        }
    }

    /// The catalog, with `service_of` naming the service of each resource index.
    pub fn finish(self, service_of: impl Fn(u32) -> Str) -> BlockCatalog {
        let mut catalog = BlockCatalog::default();
        for (resource, name, kind) in self.operations {
            catalog.operations.entry(service_of(resource)).or_default().insert((name, kind));
        }
        for (key, seen) in self.keys {
            let values = seen
                .values
                .into_iter()
                .map(|value| match value {
                    SeenValue::Str(s) => s,
                    SeenValue::Int(i) => Str::from(i.to_string()),
                    SeenValue::Bool(b) => Str::from(b.to_string()),
                    SeenValue::Double(bits) => Str::from(f64::from_bits(bits).to_string()),
                })
                .filter(|text| text.len() <= MAX_VALUE_LEN)
                .collect();
            catalog.attributes.insert(key, KeyValues { values, too_many: seen.too_many });
        }
        catalog
    }
}
