//! Query strings as Jaeger's and Zipkin's query services read them: a parameter may repeat
//! (`tag=a:1&tag=b:2`, `traceID=..&traceID=..`), and an empty value is the same as no value.

use axum::extract::Query;
use axum::http::Uri;

/// The parameters of one request, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct QueryString(Vec<(String, String)>);

impl QueryString {
    /// Reads the query string of `uri`; percent-escapes and `+` are decoded.
    pub fn of(uri: &Uri) -> Result<Self, String> {
        match Query::<Vec<(String, String)>>::try_from_uri(uri) {
            Ok(Query(pairs)) => Ok(Self(pairs)),
            Err(rejection) => Err(format!("the query string cannot be read: {rejection}")),
        }
    }

    /// The first non-empty value of `name`, as Go's `FormValue` reads it (which treats an empty
    /// value as absent).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.all(name).find(|value| !value.is_empty())
    }

    /// Every non-empty value of `name`, in order.
    pub fn all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.0
            .iter()
            .filter(move |(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.as_str())
    }

    /// Whether `name` was given with a value other than `false` (`?prettyPrint`, `?raw=true`).
    pub fn flag(&self, name: &str) -> bool {
        self.0.iter().any(|(key, value)| key == name && value != "false" && value != "0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> QueryString {
        QueryString::of(&format!("/x?{query}").parse::<Uri>().unwrap()).unwrap()
    }

    #[test]
    fn repeated_parameters_keep_their_order_and_empty_values_are_absent() {
        let query = parse("tag=a%3A1&service=&tag=b:2&service=cart&tag=");
        assert_eq!(query.all("tag").collect::<Vec<_>>(), ["a:1", "b:2"]);
        assert_eq!(query.get("service"), Some("cart"));
        assert_eq!(query.get("limit"), None);
    }

    #[test]
    fn plus_and_escapes_are_decoded() {
        let query = parse("annotationQuery=error+and+http.method%3DGET");
        assert_eq!(query.get("annotationQuery"), Some("error and http.method=GET"));
    }

    #[test]
    fn flags_are_on_unless_false() {
        let query = parse("prettyPrint&raw=false&x=1");
        assert!(query.flag("prettyPrint"));
        assert!(!query.flag("raw"));
        assert!(query.flag("x"));
        assert!(!query.flag("y"));
        assert_eq!(QueryString::of(&"/x".parse::<Uri>().unwrap()).unwrap(), QueryString::default());
    }
}
