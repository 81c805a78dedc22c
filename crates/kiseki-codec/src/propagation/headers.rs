//! Two small traits that let extractors read and injectors write any header collection.
//!
//! The server adapts `http::HeaderMap` with a newtype (this crate does not depend on `http`);
//! tests and the load generator use the implementations here for `Vec<(String, String)>`,
//! slices of pairs, `HashMap` and `BTreeMap`.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

/// Headers to extract a trace context from.
///
/// Names are passed in lowercase; collections that keep other spellings must compare without
/// regard to ASCII case. A value that is not valid text (HTTP allows opaque bytes) is best
/// reported as absent: none of the formats here can carry such bytes.
///
/// An adapter for `http::HeaderMap` looks like this:
///
/// ```ignore
/// struct Headers<'a>(&'a http::HeaderMap);
/// impl HeaderSource for Headers<'_> {
///     fn header(&self, name: &str) -> Option<&str> {
///         self.0.get(name).and_then(|value| value.to_str().ok())
///     }
///     fn header_values(&self, name: &str) -> Vec<&str> {
///         self.0.get_all(name).iter().filter_map(|value| value.to_str().ok()).collect()
///     }
/// }
/// ```
pub trait HeaderSource {
    /// The first value of the header `name`, if any.
    fn header(&self, name: &str) -> Option<&str>;

    /// Every value of the header `name` in the order received: `tracestate` may be split over
    /// several fields, and a repeated `traceparent` is an error. By default the one value
    /// [`header`](Self::header) returns, for collections that keep one value per name.
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.header(name).into_iter().collect()
    }
}

/// Headers to inject a trace context into.
pub trait HeaderSink {
    /// Sets the header `name` (always lowercase) to `value`, replacing any value it had.
    fn set_header(&mut self, name: &'static str, value: String);
}

impl<T: HeaderSource + ?Sized> HeaderSource for &T {
    fn header(&self, name: &str) -> Option<&str> {
        (**self).header(name)
    }

    fn header_values(&self, name: &str) -> Vec<&str> {
        (**self).header_values(name)
    }
}

impl<T: HeaderSink + ?Sized> HeaderSink for &mut T {
    fn set_header(&mut self, name: &'static str, value: String) {
        (**self).set_header(name, value);
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderSource for [(K, V)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(key, _)| key.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    fn header_values(&self, name: &str) -> Vec<&str> {
        self.iter()
            .filter(|(key, _)| key.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_ref())
            .collect()
    }
}

impl<K: AsRef<str>, V: AsRef<str>, const N: usize> HeaderSource for [(K, V); N] {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }

    fn header_values(&self, name: &str) -> Vec<&str> {
        self.as_slice().header_values(name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderSource for Vec<(K, V)> {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }

    fn header_values(&self, name: &str) -> Vec<&str> {
        self.as_slice().header_values(name)
    }
}

/// Replaces every field of that name, whatever its case, by one lowercase field at the end.
impl HeaderSink for Vec<(String, String)> {
    fn set_header(&mut self, name: &'static str, value: String) {
        self.retain(|(key, _)| !key.eq_ignore_ascii_case(name));
        self.push((name.to_owned(), value));
    }
}

impl<K: AsRef<str>, V: AsRef<str>, S: BuildHasher> HeaderSource for HashMap<K, V, S> {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(key, _)| key.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

impl<S: BuildHasher> HeaderSink for HashMap<String, String, S> {
    fn set_header(&mut self, name: &'static str, value: String) {
        self.retain(|key, _| !key.eq_ignore_ascii_case(name));
        self.insert(name.to_owned(), value);
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderSource for BTreeMap<K, V> {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(key, _)| key.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

impl HeaderSink for BTreeMap<String, String> {
    fn set_header(&mut self, name: &'static str, value: String) {
        self.retain(|key, _| !key.eq_ignore_ascii_case(name));
        self.insert(name.to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_ignore_case_and_keep_every_value_in_order() {
        let headers = vec![("TraceState", "a=1"), ("content-type", "x"), ("tracestate", "b=2")];
        assert_eq!(headers.header("tracestate"), Some("a=1"));
        assert_eq!(headers.header_values("tracestate"), ["a=1", "b=2"]);
        assert_eq!(headers.header("traceparent"), None);
        assert!(headers.header_values("traceparent").is_empty());

        let map: HashMap<&str, &str> = [("X-B3-TraceId", "abc")].into_iter().collect();
        assert_eq!(map.header("x-b3-traceid"), Some("abc"));
        assert_eq!(map.header_values("x-b3-traceid"), ["abc"]);
    }

    #[test]
    fn setting_replaces_every_spelling_of_the_name() {
        let mut headers = vec![
            ("B3".to_owned(), "old".to_owned()),
            ("host".to_owned(), "h".to_owned()),
            ("b3".to_owned(), "older".to_owned()),
        ];
        headers.set_header("b3", "new".to_owned());
        assert_eq!(
            headers,
            [("host".to_owned(), "h".to_owned()), ("b3".to_owned(), "new".to_owned())]
        );

        let mut map = HashMap::from([("B3".to_owned(), "old".to_owned())]);
        map.set_header("b3", "new".to_owned());
        assert_eq!(map, HashMap::from([("b3".to_owned(), "new".to_owned())]));

        let mut tree = BTreeMap::from([("B3".to_owned(), "old".to_owned())]);
        tree.set_header("b3", "new".to_owned());
        assert_eq!(tree, BTreeMap::from([("b3".to_owned(), "new".to_owned())]));
    }
}
