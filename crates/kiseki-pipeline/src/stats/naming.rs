//! The resource of a span: what it did, named the way Datadog names resources (`GET /users/{id}`,
//! `SELECT orders`, `publish orders`), so statistics group requests by endpoint, statement
//! family or destination, and the number of names stays bounded whatever the traffic.
//!
//! The rules, first match wins:
//! 1. a span from a Datadog tracer keeps the resource it chose ([`semconv::DATADOG_RESOURCE`]),
//!    except a database span's, which is its raw statement and is summarised as in rule 3;
//! 2. HTTP (`http.request.method`, or the older `http.method`): the method and the route
//!    (`http.route`, or a client's `url.template`); without one, the method and the path with
//!    every segment that holds a digit replaced by `?` (Datadog's `remove_paths_with_digits`),
//!    never the query string;
//! 3. a database call (`db.system.name`, `db.system`, OpenTracing's `db.type`):
//!    `db.query.summary` if the instrumentation wrote one, else `db.operation.name
//!    db.collection.name`, else the first keyword and the main table of `db.query.text`,
//!    `db.statement` or zipkin-js's `sql.query` (`SELECT orders`); literals never reach the name;
//! 4. RPC: `rpc.service/rpc.method`;
//! 5. messaging: the operation and the destination (`publish orders`), the destination's
//!    template when it has one;
//! 6. GraphQL: the operation type and name;
//! 7. otherwise the span name.
//!
//! Names longer than [`MAX_RESOURCE_BYTES`] are cut at a character boundary.

use kiseki_model::{AnyValue, Span, SpanKind, Str, semconv};

/// The longest resource name kept, in bytes.
pub const MAX_RESOURCE_BYTES: usize = 200;

/// The resource name of a span.
pub fn resource_name(span: &Span) -> Str {
    let facts = Facts::of(span);
    if let Some(resource) = facts.datadog_resource() {
        return truncated(resource).into();
    }
    let mut name = String::new();
    write_name(span, &facts, &mut name);
    Str::from(name)
}

/// Writes the resource name of a span into `out` (cleared first), so a caller that names many
/// spans reuses one buffer.
pub fn write_resource_name(span: &Span, out: &mut String) {
    write_name(span, &Facts::of(span), out);
}

fn write_name(span: &Span, facts: &Facts<'_>, out: &mut String) {
    out.clear();
    if let Some(resource) = facts.datadog_resource() {
        out.push_str(truncated(resource));
        return;
    }
    let named = write_http(span.kind, facts, out)
        || write_database(facts, out)
        || write_rpc(facts, out)
        || write_messaging(facts, out)
        || write_graphql(facts, out);
    if !named || out.is_empty() {
        out.clear();
        out.push_str(&span.name);
    }
    let end = truncated(out).len();
    out.truncate(end);
}

/// The attributes the rules read, found in one pass over the span's attributes (the stats stage
/// names every span, and most spans match none of the rules). The first non-empty string
/// value of a key counts.
#[derive(Default)]
struct Facts<'a> {
    datadog_resource: Option<&'a str>,
    datadog_span_type: Option<&'a str>,
    http_request_method: Option<&'a str>,
    http_method: Option<&'a str>,
    http_route: Option<&'a str>,
    url_template: Option<&'a str>,
    url_path: Option<&'a str>,
    /// Zipkin's.
    http_path: Option<&'a str>,
    http_target: Option<&'a str>,
    url_full: Option<&'a str>,
    http_url: Option<&'a str>,
    db_system_name: Option<&'a str>,
    db_system: Option<&'a str>,
    /// OpenTracing's.
    db_type: Option<&'a str>,
    db_query_summary: Option<&'a str>,
    db_operation_name: Option<&'a str>,
    db_operation: Option<&'a str>,
    db_collection_name: Option<&'a str>,
    db_sql_table: Option<&'a str>,
    db_mongodb_collection: Option<&'a str>,
    db_query_text: Option<&'a str>,
    db_statement: Option<&'a str>,
    /// zipkin-js's.
    sql_query: Option<&'a str>,
    rpc_service: Option<&'a str>,
    rpc_method: Option<&'a str>,
    messaging_operation_type: Option<&'a str>,
    messaging_operation: Option<&'a str>,
    messaging_operation_name: Option<&'a str>,
    messaging_destination_template: Option<&'a str>,
    messaging_destination_name: Option<&'a str>,
    messaging_destination: Option<&'a str>,
    messaging_destination_temporary: bool,
    graphql_operation_type: Option<&'a str>,
    graphql_operation_name: Option<&'a str>,
}

impl<'a> Facts<'a> {
    fn of(span: &'a Span) -> Self {
        let mut facts = Facts::default();
        for attribute in &span.attributes.0 {
            let key = attribute.key.as_str();
            let text = match &attribute.value {
                AnyValue::Str(text) if !text.is_empty() => text.as_str(),
                AnyValue::Bool(temporary) if key == "messaging.destination.temporary" => {
                    facts.messaging_destination_temporary = *temporary;
                    continue;
                }
                _ => continue,
            };
            let field = match key {
                semconv::DATADOG_RESOURCE => &mut facts.datadog_resource,
                semconv::DATADOG_SPAN_TYPE => &mut facts.datadog_span_type,
                semconv::HTTP_REQUEST_METHOD => &mut facts.http_request_method,
                "http.method" => &mut facts.http_method,
                semconv::HTTP_ROUTE => &mut facts.http_route,
                "url.template" => &mut facts.url_template,
                "url.path" => &mut facts.url_path,
                "http.path" => &mut facts.http_path,
                "http.target" => &mut facts.http_target,
                semconv::URL_FULL => &mut facts.url_full,
                "http.url" => &mut facts.http_url,
                "db.system.name" => &mut facts.db_system_name,
                semconv::DB_SYSTEM => &mut facts.db_system,
                "db.type" => &mut facts.db_type,
                "db.query.summary" => &mut facts.db_query_summary,
                "db.operation.name" => &mut facts.db_operation_name,
                "db.operation" => &mut facts.db_operation,
                "db.collection.name" => &mut facts.db_collection_name,
                "db.sql.table" => &mut facts.db_sql_table,
                "db.mongodb.collection" => &mut facts.db_mongodb_collection,
                semconv::DB_QUERY_TEXT => &mut facts.db_query_text,
                "db.statement" => &mut facts.db_statement,
                "sql.query" => &mut facts.sql_query,
                "rpc.service" => &mut facts.rpc_service,
                "rpc.method" => &mut facts.rpc_method,
                "messaging.operation.type" => &mut facts.messaging_operation_type,
                "messaging.operation" => &mut facts.messaging_operation,
                "messaging.operation.name" => &mut facts.messaging_operation_name,
                "messaging.destination.template" => &mut facts.messaging_destination_template,
                "messaging.destination.name" => &mut facts.messaging_destination_name,
                "messaging.destination" => &mut facts.messaging_destination,
                "graphql.operation.type" => &mut facts.graphql_operation_type,
                "graphql.operation.name" => &mut facts.graphql_operation_name,
                _ => continue,
            };
            field.get_or_insert(text);
        }
        facts
    }

    /// A Datadog tracer's own resource, unless it is a raw database statement.
    fn datadog_resource(&self) -> Option<&'a str> {
        self.datadog_resource.filter(|_| !self.is_database())
    }

    fn is_database(&self) -> bool {
        self.db_system_name.or(self.db_system).or(self.db_type).or(self.sql_query).is_some()
            || self.datadog_span_type.is_some_and(|kind| {
                matches!(kind, "sql" | "db" | "cassandra" | "mongodb" | "redis" | "memcached")
            })
    }

    /// The path of the request, without scheme, host, query or fragment.
    fn http_path(&self) -> Option<&'a str> {
        if let Some(path) = self.url_path.or(self.http_path) {
            return Some(path);
        }
        let target = self.http_target.or(self.url_full).or(self.http_url)?;
        let without_scheme = match target.find("://") {
            Some(at) => {
                let after = &target[at + 3..];
                &after[after.find('/').unwrap_or(after.len())..]
            }
            None => target,
        };
        let end = without_scheme.find(['?', '#']).unwrap_or(without_scheme.len());
        let path = &without_scheme[..end];
        (!path.is_empty()).then_some(path)
    }
}

fn write_http(kind: SpanKind, facts: &Facts<'_>, out: &mut String) -> bool {
    let Some(method) = facts.http_request_method.or(facts.http_method) else {
        return false;
    };
    // OpenTelemetry's placeholder for a method it does not know.
    let method = if method == "_OTHER" { "HTTP" } else { method };
    out.push_str(method);
    let template = match kind {
        SpanKind::Client | SpanKind::Producer => facts.url_template.or(facts.http_route),
        _ => facts.http_route,
    };
    if let Some(route) = template {
        out.push(' ');
        out.push_str(route);
    } else if let Some(path) = facts.http_path() {
        out.push(' ');
        push_quantized_path(path, out);
    }
    true
}

/// Replaces every path segment that holds a digit with `?`: `/users/42/orders` → `/users/?/orders`.
fn push_quantized_path(path: &str, out: &mut String) {
    for (index, segment) in path.split('/').enumerate() {
        if index > 0 {
            out.push('/');
        }
        if segment.bytes().any(|b| b.is_ascii_digit()) {
            out.push('?');
        } else {
            out.push_str(segment);
        }
    }
}

fn write_database(facts: &Facts<'_>, out: &mut String) -> bool {
    if !facts.is_database() {
        return false;
    }
    if let Some(summary) = facts.db_query_summary {
        out.push_str(summary);
        return true;
    }
    let operation = facts.db_operation_name.or(facts.db_operation);
    let collection =
        facts.db_collection_name.or(facts.db_sql_table).or(facts.db_mongodb_collection);
    if let (Some(operation), Some(collection)) = (operation, collection) {
        out.push_str(operation);
        out.push(' ');
        out.push_str(collection);
        return true;
    }
    let statement =
        facts.db_query_text.or(facts.db_statement).or(facts.sql_query).or(facts.datadog_resource);
    if let Some(statement) = statement
        && write_statement_family(statement, out)
    {
        return true;
    }
    if let Some(operation) = operation {
        out.push_str(operation);
        return true;
    }
    false
}

/// `SELECT orders` from `SELECT * FROM orders WHERE id = 42`: the statement's first keyword in
/// upper case and the table it works on, when there is one. Statements that do not start with a
/// word (a MongoDB JSON document) give nothing.
pub(crate) fn write_statement_family(statement: &str, out: &mut String) -> bool {
    let mut words = SqlWords::new(statement);
    let Some(mut keyword) = words.next_top_level() else {
        return false;
    };
    if keyword.eq_ignore_ascii_case("WITH") {
        // A common table expression: the statement proper is the first top-level verb after it.
        match words.find_top_level(&["SELECT", "INSERT", "UPDATE", "DELETE", "MERGE"]) {
            Some(verb) => keyword = verb,
            None => {
                out.push_str("WITH");
                return true;
            }
        }
    }
    push_upper(keyword, out);
    let table = if keyword.eq_ignore_ascii_case("SELECT") || keyword.eq_ignore_ascii_case("DELETE")
    {
        words.find_top_level(&["FROM"]).and_then(|_| words.next_identifier())
    } else if ["INSERT", "REPLACE", "UPSERT", "MERGE"]
        .iter()
        .any(|k| keyword.eq_ignore_ascii_case(k))
    {
        words.find_top_level(&["INTO"]).and_then(|_| words.next_identifier())
    } else if keyword.eq_ignore_ascii_case("UPDATE") {
        words.next_identifier_skipping(&["LOW_PRIORITY", "IGNORE", "ONLY"])
    } else if keyword.eq_ignore_ascii_case("TRUNCATE") {
        words.next_identifier_skipping(&["TABLE"])
    } else {
        None
    };
    if let Some(table) = table {
        out.push(' ');
        push_identifier(table, out);
    }
    true
}

fn push_upper(word: &str, out: &mut String) {
    out.extend(word.chars().map(|c| c.to_ascii_uppercase()));
}

/// An identifier without its quotes: `"public"."orders"` → `public.orders`.
fn push_identifier(identifier: &str, out: &mut String) {
    out.extend(identifier.chars().filter(|c| !matches!(c, '"' | '`' | '[' | ']')));
}

/// Words of a SQL statement at parenthesis depth 0, skipping literals and comments.
struct SqlWords<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
}

impl<'a> SqlWords<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, at: 0, depth: 0 }
    }

    /// The next token: a word or identifier (letters, digits, `_`, `$`, `.`, quoted parts), or
    /// `None` at the end. Punctuation, literals and comments are skipped; parentheses change
    /// the depth.
    fn next_token(&mut self) -> Option<(&'a str, usize)> {
        let bytes = self.text.as_bytes();
        while self.at < bytes.len() {
            let b = bytes[self.at];
            match b {
                b'(' => {
                    self.depth += 1;
                    self.at += 1;
                }
                b')' => {
                    self.depth = self.depth.saturating_sub(1);
                    self.at += 1;
                }
                b'\'' => self.skip_quoted(b'\''),
                b'-' if bytes.get(self.at + 1) == Some(&b'-') => self.skip_past("\n"),
                b'/' if bytes.get(self.at + 1) == Some(&b'*') => self.skip_past("*/"),
                _ if is_word_byte(b) || matches!(b, b'"' | b'`' | b'[') => {
                    let start = self.at;
                    while self.at < bytes.len() {
                        let c = bytes[self.at];
                        if is_word_byte(c) || c == b'.' {
                            self.at += 1;
                        } else if matches!(c, b'"' | b'`') {
                            self.skip_quoted(c);
                        } else if c == b'[' {
                            self.skip_past("]");
                        } else {
                            break;
                        }
                    }
                    return Some((&self.text[start..self.at], self.depth));
                }
                _ => self.at += 1,
            }
        }
        None
    }

    fn skip_quoted(&mut self, quote: u8) {
        let bytes = self.text.as_bytes();
        self.at += 1;
        while self.at < bytes.len() {
            if bytes[self.at] == quote {
                self.at += 1;
                // A doubled quote is an escaped quote inside the literal.
                if bytes.get(self.at) != Some(&quote) {
                    return;
                }
            }
            self.at += 1;
        }
    }

    fn skip_past(&mut self, end: &str) {
        self.at = match self.text[self.at..].find(end) {
            Some(offset) => self.at + offset + end.len(),
            None => self.text.len(),
        };
    }

    /// The next word at depth 0 that starts with a letter.
    fn next_top_level(&mut self) -> Option<&'a str> {
        while let Some((token, depth)) = self.next_token() {
            if depth == 0 && token.bytes().next().is_some_and(|b| b.is_ascii_alphabetic()) {
                return Some(token);
            }
        }
        None
    }

    /// Advances past the first depth-0 word among `keywords` (any case) and returns it.
    fn find_top_level(&mut self, keywords: &[&str]) -> Option<&'a str> {
        while let Some((token, depth)) = self.next_token() {
            if depth == 0 && keywords.iter().any(|k| token.eq_ignore_ascii_case(k)) {
                return Some(token);
            }
        }
        None
    }

    /// The identifier right after the current position, if the next thing is one (not a
    /// subquery, not a placeholder).
    fn next_identifier(&mut self) -> Option<&'a str> {
        let depth = self.depth;
        let (token, token_depth) = self.next_token()?;
        let first = token.bytes().next()?;
        (token_depth == depth
            && (first.is_ascii_alphabetic() || matches!(first, b'_' | b'"' | b'`' | b'[')))
        .then_some(token)
    }

    fn next_identifier_skipping(&mut self, modifiers: &[&str]) -> Option<&'a str> {
        loop {
            let identifier = self.next_identifier()?;
            if !modifiers.iter().any(|m| identifier.eq_ignore_ascii_case(m)) {
                return Some(identifier);
            }
        }
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'@' | b'#') || b >= 0x80
}

fn write_rpc(facts: &Facts<'_>, out: &mut String) -> bool {
    let Some(method) = facts.rpc_method else {
        return false;
    };
    if let Some(service) = facts.rpc_service {
        out.push_str(service);
        out.push('/');
    }
    out.push_str(method);
    true
}

fn write_messaging(facts: &Facts<'_>, out: &mut String) -> bool {
    let operation = facts
        .messaging_operation_type
        .or(facts.messaging_operation)
        .or(facts.messaging_operation_name);
    let Some(operation) = operation else {
        return false;
    };
    out.push_str(operation);
    let destination = facts
        .messaging_destination_template
        .or(facts.messaging_destination_name)
        .or(facts.messaging_destination);
    if facts.messaging_destination_temporary {
        out.push_str(" (temporary)");
    } else if let Some(destination) = destination {
        out.push(' ');
        out.push_str(destination);
    }
    true
}

fn write_graphql(facts: &Facts<'_>, out: &mut String) -> bool {
    let Some(operation_type) = facts.graphql_operation_type else {
        return false;
    };
    out.push_str(operation_type);
    if let Some(name) = facts.graphql_operation_name {
        out.push(' ');
        out.push_str(name);
    }
    true
}

/// The longest prefix of at most [`MAX_RESOURCE_BYTES`] that ends on a character boundary.
fn truncated(name: &str) -> &str {
    if name.len() <= MAX_RESOURCE_BYTES {
        return name;
    }
    let mut end = MAX_RESOURCE_BYTES;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

#[cfg(test)]
mod tests {
    use kiseki_model::{SpanId, TraceId};

    use super::*;

    fn span(name: &str, kind: SpanKind, attributes: &[(&str, &str)]) -> Span {
        let mut span = Span::new(TraceId::new(1).unwrap(), SpanId::new(2).unwrap());
        span.name = name.into();
        span.kind = kind;
        for (key, value) in attributes {
            span.attributes.push(*key, *value);
        }
        span
    }

    fn name(span: &Span) -> String {
        let mut buffer = String::from("left over");
        write_resource_name(span, &mut buffer);
        assert_eq!(resource_name(span), buffer.as_str());
        buffer
    }

    fn family(statement: &str) -> String {
        let mut out = String::new();
        assert!(write_statement_family(statement, &mut out), "{statement}");
        out
    }

    #[test]
    fn http_server_span_with_a_route_is_method_and_route() {
        let s = span(
            "GET /users/{id}",
            SpanKind::Server,
            &[
                ("http.request.method", "GET"),
                ("http.route", "/users/{id}"),
                ("url.path", "/users/42"),
            ],
        );
        assert_eq!(name(&s), "GET /users/{id}");
        let old = span("x", SpanKind::Server, &[("http.method", "POST"), ("http.route", "/cart")]);
        assert_eq!(name(&old), "POST /cart");
    }

    #[test]
    fn http_without_a_route_collapses_ids_and_drops_the_query() {
        let s = span(
            "GET",
            SpanKind::Client,
            &[
                ("http.request.method", "GET"),
                (
                    "url.full",
                    "https://api.example.com:8443/users/42/orders/9f8e7d?token=secret#top",
                ),
            ],
        );
        assert_eq!(name(&s), "GET /users/?/orders/?");
        let target = span(
            "x",
            SpanKind::Server,
            &[("http.method", "DELETE"), ("http.target", "/cart/items/7?x=1")],
        );
        assert_eq!(name(&target), "DELETE /cart/items/?");
        let no_path = span(
            "x",
            SpanKind::Client,
            &[("http.request.method", "GET"), ("url.full", "https://example.com")],
        );
        assert_eq!(name(&no_path), "GET");
        let other = span("x", SpanKind::Client, &[("http.request.method", "_OTHER")]);
        assert_eq!(name(&other), "HTTP");
    }

    #[test]
    fn http_client_span_uses_its_url_template() {
        let s = span(
            "GET",
            SpanKind::Client,
            &[
                ("http.request.method", "GET"),
                ("url.template", "/users/{id}"),
                ("url.full", "http://u/users/42"),
            ],
        );
        assert_eq!(name(&s), "GET /users/{id}");
    }

    #[test]
    fn database_span_is_its_statement_family() {
        let s = span(
            "SELECT shop",
            SpanKind::Client,
            &[
                ("db.system", "postgresql"),
                ("db.query.text", "SELECT * FROM orders WHERE id = 42 AND note = 'a''b'"),
            ],
        );
        assert_eq!(name(&s), "SELECT orders");
        let old = span(
            "q",
            SpanKind::Client,
            &[
                ("db.system", "mysql"),
                ("db.statement", "insert into `shop`.`orders` (a) values (1)"),
            ],
        );
        assert_eq!(name(&old), "INSERT shop.orders");
    }

    #[test]
    fn database_span_prefers_the_summary_then_operation_and_collection() {
        let summary = span(
            "q",
            SpanKind::Client,
            &[
                ("db.system.name", "postgresql"),
                ("db.query.summary", "SELECT wuser_table"),
                ("db.query.text", "SELECT 1"),
            ],
        );
        assert_eq!(name(&summary), "SELECT wuser_table");
        let named = span(
            "q",
            SpanKind::Client,
            &[
                ("db.system", "mongodb"),
                ("db.operation.name", "findAndModify"),
                ("db.collection.name", "carts"),
            ],
        );
        assert_eq!(name(&named), "findAndModify carts");
        let redis = span(
            "HGET",
            SpanKind::Client,
            &[("db.system", "redis"), ("db.query.text", "HGET cart:8f3a items")],
        );
        assert_eq!(name(&redis), "HGET");
        let mongo = span(
            "find",
            SpanKind::Client,
            &[
                ("db.system", "mongodb"),
                ("db.operation.name", "find"),
                ("db.query.text", "{\"_id\": 1}"),
            ],
        );
        assert_eq!(name(&mongo), "find");
    }

    #[test]
    fn statement_families() {
        assert_eq!(
            family(
                "  select a, (select max(b) from c) from \"public\".\"orders\" o where x in (1,2)"
            ),
            "SELECT public.orders"
        );
        assert_eq!(
            family("/* app=shop */ UPDATE LOW_PRIORITY users SET name = 'x' WHERE id = 1"),
            "UPDATE users"
        );
        assert_eq!(family("DELETE FROM sessions WHERE expires < now()"), "DELETE sessions");
        assert_eq!(family("-- cleanup\nTRUNCATE TABLE audit_log"), "TRUNCATE audit_log");
        assert_eq!(
            family("WITH recent AS (SELECT * FROM orders) SELECT count(*) FROM recent"),
            "SELECT recent"
        );
        assert_eq!(family("SELECT 1"), "SELECT");
        assert_eq!(family("SELECT * FROM (SELECT 1) t"), "SELECT");
        assert_eq!(family("BEGIN"), "BEGIN");
        assert_eq!(family("SELECT * FROM [dbo].[Users] WHERE name = 'FROM x'"), "SELECT dbo.Users");
        let mut out = String::new();
        assert!(!write_statement_family("{\"find\": \"x\"}", &mut out));
        assert!(!write_statement_family("", &mut out));
    }

    proptest::proptest! {
        #[test]
        fn any_statement_or_url_is_named_without_panicking(text in "\\PC{0,80}", sql in "[a-zA-Z '\"`\\[\\]().,;*/=?$-]{0,60}") {
            let mut out = String::new();
            let _ = write_statement_family(&text, &mut out);
            let _ = write_statement_family(&sql, &mut out);
            let s = span("x", SpanKind::Client, &[("http.request.method", "GET"), ("url.full", &text)]);
            proptest::prop_assert!(name(&s).starts_with("GET"));
            let db = span("x", SpanKind::Client, &[("db.system", "mysql"), ("db.query.text", &sql)]);
            proptest::prop_assert!(name(&db).len() <= MAX_RESOURCE_BYTES);
        }
    }

    #[test]
    fn rpc_span_is_service_slash_method() {
        let s = span(
            "x",
            SpanKind::Server,
            &[("rpc.system", "grpc"), ("rpc.service", "shop.Cart"), ("rpc.method", "GetCart")],
        );
        assert_eq!(name(&s), "shop.Cart/GetCart");
    }

    #[test]
    fn messaging_span_is_operation_and_destination() {
        let s = span(
            "orders publish",
            SpanKind::Producer,
            &[
                ("messaging.system", "kafka"),
                ("messaging.operation.type", "publish"),
                ("messaging.destination.name", "orders"),
            ],
        );
        assert_eq!(name(&s), "publish orders");
        let template = span(
            "x",
            SpanKind::Consumer,
            &[
                ("messaging.operation", "process"),
                ("messaging.destination.name", "user-42"),
                ("messaging.destination.template", "user-{id}"),
            ],
        );
        assert_eq!(name(&template), "process user-{id}");
        let mut temporary = span(
            "x",
            SpanKind::Consumer,
            &[
                ("messaging.operation.type", "receive"),
                ("messaging.destination.name", "amq.gen-Xa2"),
            ],
        );
        temporary.attributes.push("messaging.destination.temporary", true);
        assert_eq!(name(&temporary), "receive (temporary)");
    }

    #[test]
    fn graphql_span_is_operation_type_and_name() {
        let s = span(
            "x",
            SpanKind::Server,
            &[("graphql.operation.type", "query"), ("graphql.operation.name", "Cart")],
        );
        assert_eq!(name(&s), "query Cart");
    }

    #[test]
    fn datadog_span_keeps_its_resource_unless_it_is_a_statement() {
        let web = span(
            "express.request",
            SpanKind::Server,
            &[
                ("resource.name", "GET /checkout"),
                ("http.method", "GET"),
                ("http.url", "http://x/checkout?id=3"),
            ],
        );
        assert_eq!(name(&web), "GET /checkout");
        let sql = span(
            "pg.query",
            SpanKind::Client,
            &[("resource.name", "SELECT * FROM orders WHERE id = 42"), ("span.type", "sql")],
        );
        assert_eq!(name(&sql), "SELECT orders");
    }

    #[test]
    fn other_spans_keep_their_name() {
        let s = span("compute-total", SpanKind::Internal, &[]);
        assert_eq!(name(&s), "compute-total");
        let db_without_anything = span("connect", SpanKind::Client, &[("db.system", "postgresql")]);
        assert_eq!(name(&db_without_anything), "connect");
    }

    #[test]
    fn long_names_are_cut_on_a_character_boundary() {
        let long = format!("{}é", "a".repeat(MAX_RESOURCE_BYTES - 1));
        let s = span(&long, SpanKind::Internal, &[]);
        assert_eq!(name(&s), "a".repeat(MAX_RESOURCE_BYTES - 1));
        let dd = span("x", SpanKind::Server, &[("resource.name", &long)]);
        assert_eq!(resource_name(&dd).len(), MAX_RESOURCE_BYTES - 1);
    }
}
