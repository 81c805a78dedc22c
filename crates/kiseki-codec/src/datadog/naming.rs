//! Datadog's operation name, resource name and span type for any span, derived as the Datadog
//! agent derives them for OpenTelemetry spans (`GetOTelOperationNameV2`, `GetOTelResourceV2`,
//! `GetOTelSpanType`), so exporters and statistics group spans the way Datadog users expect.
//!
//! Spans that came from Datadog keep what their tracer chose: they carry the resource in
//! [`semconv::DATADOG_RESOURCE`], and then the span name is the operation name.

use std::borrow::Cow;

use kiseki_model::{AnyValue, Span, SpanKind, semconv};

/// Datadog's longest resource name, in bytes.
pub const MAX_RESOURCE_LEN: usize = 5000;
/// Datadog's longest tag value, in characters.
const MAX_TAG_LEN: usize = 200;

/// The operation name (`http.server.request`, `postgresql.query`, `web.request`).
pub fn datadog_operation_name(span: &Span) -> String {
    if let Some(name) = lookup(span, semconv::DATADOG_OPERATION) {
        let name = normalize_tag_value(&name);
        if !name.is_empty() {
            return name;
        }
    }
    if span.attributes.get(semconv::DATADOG_RESOURCE).is_some() {
        return span.name.to_string();
    }

    let is_client = span.kind == SpanKind::Client;
    let is_server = span.kind == SpanKind::Server;
    let normalized =
        |key: &str| lookup(span, key).map(|v| normalize_tag_value(&v)).unwrap_or_default();

    if lookup_any(span, &[semconv::HTTP_REQUEST_METHOD, "http.method"]).is_some() {
        if is_server {
            return "http.server.request".to_owned();
        }
        if is_client {
            return "http.client.request".to_owned();
        }
    }

    let db_system = normalized(semconv::DB_SYSTEM);
    if !db_system.is_empty() && is_client {
        return format!("{db_system}.query");
    }

    let messaging_system = normalized(semconv::MESSAGING_SYSTEM);
    let messaging_operation = normalized("messaging.operation");
    if !messaging_system.is_empty() && !messaging_operation.is_empty() && is_remote(span.kind) {
        return format!("{messaging_system}.{messaging_operation}");
    }

    let rpc_system = normalized(semconv::RPC_SYSTEM);
    if rpc_system == "aws-api" && is_client {
        let service = normalized("rpc.service");
        if service.is_empty() {
            return "aws.client.request".to_owned();
        }
        return format!("aws.{service}.request");
    }
    if !rpc_system.is_empty() && is_client {
        return format!("{rpc_system}.client.request");
    }
    if !rpc_system.is_empty() && is_server {
        return format!("{rpc_system}.server.request");
    }

    let provider = normalized("faas.invoked_provider");
    let invoked = normalized("faas.invoked_name");
    if !provider.is_empty() && !invoked.is_empty() && is_client {
        return format!("{provider}.{invoked}.invoke");
    }
    let trigger = normalized("faas.trigger");
    if !trigger.is_empty() && is_server {
        return format!("{trigger}.invoke");
    }

    if !normalized("graphql.operation.type").is_empty() {
        return "graphql.server.request".to_owned();
    }

    let protocol = normalized("network.protocol.name");
    match (span.kind, protocol.is_empty()) {
        (SpanKind::Server, false) => format!("{protocol}.server.request"),
        (SpanKind::Server, true) => "server.request".to_owned(),
        (SpanKind::Client, false) => format!("{protocol}.client.request"),
        (SpanKind::Client, true) => "client.request".to_owned(),
        // Datadog prints the kind as OpenTelemetry's Go SDK names it.
        (SpanKind::Producer, _) => "Producer".to_owned(),
        (SpanKind::Consumer, _) => "Consumer".to_owned(),
        (SpanKind::Internal | SpanKind::Unspecified, _) => "Internal".to_owned(),
    }
}

/// The resource name (`GET /users/{id}`, a SQL statement, `publish orders`), at most
/// [`MAX_RESOURCE_LEN`] bytes; never empty: the agent gives a span without one its operation
/// name.
pub fn datadog_resource_name(span: &Span) -> String {
    let mut name = resource_name(span);
    if name.is_empty() {
        name = datadog_operation_name(span);
    }
    if name.len() > MAX_RESOURCE_LEN {
        let mut end = MAX_RESOURCE_LEN;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
    name
}

fn resource_name(span: &Span) -> String {
    if let Some(resource) = lookup(span, semconv::DATADOG_RESOURCE) {
        return resource.into_owned();
    }
    if let Some(method) = lookup_any(span, &[semconv::HTTP_REQUEST_METHOD, "http.method"]) {
        let method = if method == "_OTHER" { Cow::Borrowed("HTTP") } else { method };
        if span.kind == SpanKind::Server
            && let Some(route) = lookup(span, semconv::HTTP_ROUTE)
        {
            return format!("{method} {route}");
        }
        return method.into_owned();
    }
    if let Some(operation) = lookup(span, "messaging.operation") {
        return match lookup_any(span, &["messaging.destination", "messaging.destination.name"]) {
            Some(destination) => format!("{operation} {destination}"),
            None => operation.into_owned(),
        };
    }
    if let Some(method) = lookup(span, "rpc.method") {
        return match lookup(span, "rpc.service") {
            Some(service) => format!("{method} {service}"),
            None => method.into_owned(),
        };
    }
    if let Some(operation_type) = lookup(span, "graphql.operation.type") {
        return match lookup(span, "graphql.operation.name") {
            Some(name) => format!("{operation_type} {name}"),
            None => operation_type.into_owned(),
        };
    }
    if lookup(span, semconv::DB_SYSTEM).is_some()
        && let Some(statement) = lookup_any(span, &["db.statement", semconv::DB_QUERY_TEXT])
    {
        return statement.into_owned();
    }
    span.name.to_string()
}

/// The span type (`web`, `http`, `sql`, `redis`, `custom`, ...). Spans that came from Datadog
/// keep theirs, which may be empty.
pub fn datadog_span_type(span: &Span) -> String {
    if let Some(span_type) = lookup(span, semconv::DATADOG_SPAN_TYPE) {
        return span_type.into_owned();
    }
    if span.attributes.get(semconv::DATADOG_RESOURCE).is_some() {
        return String::new();
    }
    match span.kind {
        SpanKind::Server => "web".to_owned(),
        SpanKind::Client => match lookup(span, semconv::DB_SYSTEM) {
            Some(system) => db_span_type(&normalize_tag_value(&system)).to_owned(),
            None => "http".to_owned(),
        },
        _ => "custom".to_owned(),
    }
}

/// The kind Datadog's own OpenTelemetry mapping gives a span that has no `span.kind`: `web` is
/// a server, `http` a client, anything else (even `sql` or `redis`) unspecified.
pub fn kind_from_span_type(span_type: &str) -> SpanKind {
    match span_type {
        "web" => SpanKind::Server,
        "http" => SpanKind::Client,
        _ => SpanKind::Unspecified,
    }
}

fn db_span_type(system: &str) -> &'static str {
    match system {
        "other_sql" | "mssql" | "mysql" | "oracle" | "db2" | "postgresql" | "redshift"
        | "cloudscape" | "hsqldb" | "maxdb" | "ingres" | "firstsql" | "edb" | "cache"
        | "firebird" | "derby" | "informix" | "mariadb" | "sqlite" | "sybase" | "teradata"
        | "vertica" | "h2" | "coldfusion" | "cockroachdb" | "progress" | "hanadb" | "adabas"
        | "filemaker" | "instantdb" | "interbase" | "netezza" | "pervasive" | "pointbase"
        | "clickhouse" => "sql",
        "cassandra" => "cassandra",
        "redis" => "redis",
        "memcached" => "memcached",
        "mongodb" => "mongodb",
        "elasticsearch" => "elasticsearch",
        "opensearch" => "opensearch",
        _ => "db",
    }
}

/// A non-empty attribute as text, from the span first, then its resource.
fn lookup<'a>(span: &'a Span, key: &str) -> Option<Cow<'a, str>> {
    [&span.attributes, &span.resource.attributes]
        .into_iter()
        .find_map(|attributes| attributes.get(key))
        .map(|value| match value {
            AnyValue::Str(text) => Cow::Borrowed(text.as_str()),
            other => Cow::Owned(other.to_string()),
        })
        .filter(|text| !text.is_empty())
}

fn lookup_any<'a>(span: &'a Span, keys: &[&str]) -> Option<Cow<'a, str>> {
    keys.iter().find_map(|key| lookup(span, key))
}

/// Datadog's tag-value normalization: lower case; letters, digits and `:` `.` `/` `-` kept;
/// every run of other characters becomes one `_`, dropped at the end; at most 200 characters.
pub(crate) fn normalize_tag_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut pending_cut = false;
    for (count, c) in value.chars().enumerate() {
        if count >= MAX_TAG_LEN {
            break;
        }
        let lower = {
            let mut lowered = c.to_lowercase();
            match (lowered.next(), lowered.next()) {
                (Some(single), None) if single.len_utf8() == c.len_utf8() => single,
                _ => c,
            }
        };
        if lower.is_alphabetic() || lower.is_numeric() || matches!(lower, ':' | '.' | '/' | '-') {
            if pending_cut {
                out.push('_');
                pending_cut = false;
            }
            out.push(lower);
        } else {
            pending_cut = true;
        }
    }
    out
}

/// Client, server, producer or consumer.
fn is_remote(kind: SpanKind) -> bool {
    matches!(kind, SpanKind::Client | SpanKind::Server | SpanKind::Producer | SpanKind::Consumer)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kiseki_model::{Resource, SpanId, TraceId};

    use super::*;

    fn span(kind: SpanKind, attributes: &[(&str, &str)]) -> Span {
        let mut span = Span::new(TraceId::new(1).unwrap(), SpanId::new(2).unwrap());
        span.name = "GET".into();
        span.kind = kind;
        for (key, value) in attributes {
            span.attributes.push(*key, *value);
        }
        span
    }

    #[test]
    fn http_server_and_client() {
        let server =
            span(SpanKind::Server, &[("http.request.method", "GET"), ("http.route", "/u/{id}")]);
        assert_eq!(datadog_operation_name(&server), "http.server.request");
        assert_eq!(datadog_resource_name(&server), "GET /u/{id}");
        assert_eq!(datadog_span_type(&server), "web");
        let client = span(SpanKind::Client, &[("http.method", "_OTHER"), ("http.route", "/x")]);
        assert_eq!(datadog_operation_name(&client), "http.client.request");
        assert_eq!(datadog_resource_name(&client), "HTTP");
        assert_eq!(datadog_span_type(&client), "http");
    }

    #[test]
    fn databases_use_the_system_and_statement() {
        let db =
            span(SpanKind::Client, &[("db.system", "PostgreSQL"), ("db.query.text", "SELECT 1")]);
        assert_eq!(datadog_operation_name(&db), "postgresql.query");
        assert_eq!(datadog_resource_name(&db), "SELECT 1");
        assert_eq!(datadog_span_type(&db), "sql");
        let cache = span(SpanKind::Client, &[("db.system", "redis")]);
        assert_eq!(datadog_span_type(&cache), "redis");
        assert_eq!(datadog_resource_name(&cache), "GET");
        let other = span(SpanKind::Client, &[("db.system", "dynamodb")]);
        assert_eq!(datadog_span_type(&other), "db");
    }

    #[test]
    fn messaging_rpc_graphql_and_fallbacks() {
        let producer = span(
            SpanKind::Producer,
            &[
                ("messaging.system", "kafka"),
                ("messaging.operation", "publish"),
                ("messaging.destination.name", "orders"),
            ],
        );
        assert_eq!(datadog_operation_name(&producer), "kafka.publish");
        assert_eq!(datadog_resource_name(&producer), "publish orders");
        assert_eq!(datadog_span_type(&producer), "custom");
        let rpc = span(
            SpanKind::Server,
            &[("rpc.system", "grpc"), ("rpc.method", "Get"), ("rpc.service", "Users")],
        );
        assert_eq!(datadog_operation_name(&rpc), "grpc.server.request");
        assert_eq!(datadog_resource_name(&rpc), "Get Users");
        let aws = span(SpanKind::Client, &[("rpc.system", "aws-api"), ("rpc.service", "S3")]);
        assert_eq!(datadog_operation_name(&aws), "aws.s3.request");
        let graphql = span(SpanKind::Internal, &[("graphql.operation.type", "query")]);
        assert_eq!(datadog_operation_name(&graphql), "graphql.server.request");
        assert_eq!(datadog_resource_name(&graphql), "query");
        assert_eq!(datadog_operation_name(&span(SpanKind::Unspecified, &[])), "Internal");
        assert_eq!(datadog_operation_name(&span(SpanKind::Consumer, &[])), "Consumer");
        let grpc_client = span(SpanKind::Client, &[("network.protocol.name", "h2")]);
        assert_eq!(datadog_operation_name(&grpc_client), "h2.client.request");
        assert_eq!(datadog_operation_name(&span(SpanKind::Server, &[])), "server.request");
    }

    #[test]
    fn spans_from_datadog_keep_their_names() {
        let mut dd =
            span(SpanKind::Server, &[("resource.name", "GET /checkout"), ("http.method", "GET")]);
        dd.name = "web.request".into();
        assert_eq!(datadog_operation_name(&dd), "web.request");
        assert_eq!(datadog_resource_name(&dd), "GET /checkout");
        assert_eq!(datadog_span_type(&dd), "");
        dd.attributes.push("span.type", "web");
        assert_eq!(datadog_span_type(&dd), "web");
        dd.attributes.push("operation.name", "Flask Request");
        assert_eq!(datadog_operation_name(&dd), "flask_request");
    }

    #[test]
    fn resource_attributes_are_looked_up_after_span_attributes() {
        let mut s = span(SpanKind::Client, &[]);
        let mut resource = Resource::for_service("svc");
        resource.attributes.push("db.system", "mysql");
        s.resource = Arc::new(resource);
        assert_eq!(datadog_operation_name(&s), "mysql.query");
        s.attributes.push("db.system", "redis");
        assert_eq!(datadog_operation_name(&s), "redis.query");
    }

    #[test]
    fn long_resources_are_cut_on_a_character_boundary() {
        let mut s = span(SpanKind::Internal, &[]);
        s.name = "é".repeat(3000).into();
        let resource = datadog_resource_name(&s);
        assert_eq!(resource.len(), MAX_RESOURCE_LEN);
        assert!(resource.chars().all(|c| c == 'é'));
    }

    #[test]
    fn tag_values_are_normalized_like_datadog() {
        assert_eq!(normalize_tag_value("PostgreSQL"), "postgresql");
        assert_eq!(normalize_tag_value("a  b!!c"), "a_b_c");
        assert_eq!(normalize_tag_value("trailing!!"), "trailing");
        assert_eq!(normalize_tag_value("ok:1.2/x-y"), "ok:1.2/x-y");
        assert_eq!(normalize_tag_value("x_y"), "x_y");
    }
}
