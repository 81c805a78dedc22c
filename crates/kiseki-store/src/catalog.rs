//! The names a store has seen, for pickers and autocompletion: services with their operations,
//! and attribute keys with some of their values, bounded so that ids and free text cannot grow
//! it without end.

use std::collections::BTreeSet;
use std::io::Write;

use kiseki_model::{AnyValue, Resource, Span, Str};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::query::Operation;

/// Attribute keys a catalog keeps; later new keys are not recorded.
pub const MAX_KEYS: usize = 1_000;
/// Values kept per key; a key with more is high-cardinality and its values are not offered.
pub const MAX_VALUES_PER_KEY: usize = 200;
/// Longer values (statements, stack traces) are not worth offering for completion.
pub const MAX_VALUE_LEN: usize = 200;

/// Services, operations, attribute keys and (bounded) values.
///
/// Hash-based, since spans are added to it on the ingest path; lists come out sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    operations: FxHashMap<Str, BTreeSet<Operation>>,
    attributes: FxHashMap<Str, FxHashSet<Str>>,
}

impl Catalog {
    /// Adds the span's service, operation and attributes, and those of its resource.
    pub fn add_span(&mut self, span: &Span) {
        self.add_span_only(span);
        self.add_resource(&span.resource);
    }

    /// Adds the resource's attributes; spans of one batch share a resource, so callers that
    /// see many spans add each resource once with this and the spans with [`Self::add_span_only`].
    pub fn add_resource(&mut self, resource: &Resource) {
        for kv in resource.attributes.iter() {
            self.add_attribute(&kv.key, &kv.value);
        }
    }

    /// Adds the span's service, operation and own attributes, not its resource's.
    pub fn add_span_only(&mut self, span: &Span) {
        let service = span.service_name();
        let operations = match self.operations.get_mut(service) {
            Some(operations) => operations,
            None => self.operations.entry(Str::new(service)).or_default(),
        };
        if !operations.iter().any(|o| o.kind == span.kind && o.name == span.name.as_str()) {
            operations.insert(Operation { name: span.name.to_string(), kind: span.kind });
        }
        for kv in span.attributes.iter() {
            self.add_attribute(&kv.key, &kv.value);
        }
    }

    pub fn add_operation(&mut self, service: &str, operation: Operation) {
        self.operations.entry(Str::new(service)).or_default().insert(operation);
    }

    pub fn add_attribute(&mut self, key: &Str, value: &AnyValue) {
        let room_for_keys = self.attributes.len() < MAX_KEYS;
        let values = match self.attributes.get_mut(key.as_str()) {
            Some(values) => values,
            None if room_for_keys => self.attributes.entry(key.clone()).or_default(),
            None => return,
        };
        if values.len() > MAX_VALUES_PER_KEY {
            return;
        }
        let text = match value {
            AnyValue::Str(s) => s.clone(),
            AnyValue::Int(_) | AnyValue::Bool(_) | AnyValue::Double(_) => {
                // Numbers are short: format them on the stack, not in a new String.
                let mut buffer = [0u8; 64];
                let mut cursor = &mut buffer[..];
                if write!(cursor, "{value}").is_err() {
                    return;
                }
                let written = 64 - cursor.len();
                match std::str::from_utf8(&buffer[..written]) {
                    Ok(text) if values.contains(text) => return,
                    Ok(text) => Str::new(text),
                    Err(_) => return,
                }
            }
            _ => return,
        };
        if text.len() <= MAX_VALUE_LEN {
            values.insert(text);
        }
    }

    /// Adds everything another catalog holds.
    pub fn merge(&mut self, other: &Catalog) {
        for (service, operations) in &other.operations {
            self.operations.entry(service.clone()).or_default().extend(operations.iter().cloned());
        }
        for (key, values) in &other.attributes {
            for value in values {
                self.add_attribute(key, &AnyValue::Str(value.clone()));
            }
        }
    }

    /// Service names, sorted.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        sorted(self.operations.keys().map(Str::as_str))
    }

    pub fn operations(&self, service: &str) -> impl Iterator<Item = &Operation> {
        self.operations.get(service).into_iter().flatten()
    }

    /// Attribute keys, sorted.
    pub fn attribute_keys(&self) -> impl Iterator<Item = &str> {
        sorted(self.attributes.keys().map(Str::as_str))
    }

    /// The values of `key`, sorted; none when it has more than [`MAX_VALUES_PER_KEY`].
    pub fn attribute_values(&self, key: &str) -> impl Iterator<Item = &str> {
        sorted(
            self.attributes
                .get(key)
                .filter(|values| values.len() <= MAX_VALUES_PER_KEY)
                .into_iter()
                .flatten()
                .map(Str::as_str),
        )
    }
}

fn sorted<'a>(items: impl Iterator<Item = &'a str>) -> std::vec::IntoIter<&'a str> {
    let mut items: Vec<&str> = items.collect();
    items.sort_unstable();
    items.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_services_operations_and_low_cardinality_values() {
        let spans = kiseki_testkit::Generator::new(2).spans(5_000, 1_000);
        let mut catalog = Catalog::default();
        spans.iter().for_each(|s| catalog.add_span(s));
        assert!(catalog.services().count() >= 10);
        let frontend: Vec<_> = catalog.operations("frontend").collect();
        assert!(!frontend.is_empty());
        let methods: Vec<_> = catalog.attribute_values("http.request.method").collect();
        assert!(methods.contains(&"GET"), "{methods:?}");
        assert!(catalog.attribute_keys().any(|k| k == "service.version"));
        // Every trace has its own user: too many values to offer.
        assert!(catalog.attribute_keys().any(|k| k == "app.user.id"));
        assert_eq!(catalog.attribute_values("app.user.id").count(), 0);
        let mut copy = Catalog::default();
        copy.merge(&catalog);
        assert_eq!(copy.services().count(), catalog.services().count());
    }
}
