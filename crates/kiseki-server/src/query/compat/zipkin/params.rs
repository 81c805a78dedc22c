//! The parameters of Zipkin's `GET /api/v2/traces` and `GET /api/v2/dependencies`, read as
//! Zipkin's query service reads them, and held to kiseki's [`QueryLimits`].
//!
//! Search: `serviceName`, `remoteServiceName`, `spanName` (`all` means any), `annotationQuery`
//! (`error and http.method=GET`: a `key=value` term is a tag, a bare word an annotation or a tag
//! key), `minDuration`/`maxDuration` in microseconds, `endTs` (Unix milliseconds, default now),
//! `lookback` (milliseconds, default a day), `limit`. As in Jaeger and unlike Zipkin, one span
//! meets every condition.

use std::time::Duration;

use super::super::query_string::QueryString;
use super::super::search::{SpanCondition, SpanSearch, check_window, parse_limit, window_start};
use crate::error::ApiError;
use crate::query::QueryLimits;
use crate::query::limits::bad_parameter;

/// How far back a search or `/dependencies` looks without `lookback` (Zipkin's
/// `QUERY_LOOKBACK` default).
pub const DEFAULT_LOOKBACK: Duration = Duration::from_secs(24 * 3600);

/// Reads the parameters of `GET /api/v2/traces`; `now_unix_nano` ends a window without `endTs`.
/// Service and span names are taken as given; the caller matches them to the stored names.
pub(super) fn traces_search(
    params: &QueryString,
    limits: &QueryLimits,
    now_unix_nano: u64,
) -> Result<SpanSearch, ApiError> {
    let mut search = SpanSearch::default();
    search.query.service = params.get("serviceName").map(str::to_owned);
    search.query.operation =
        params.get("spanName").filter(|name| *name != "all").map(str::to_owned);
    if let Some(remote) = params.get("remoteServiceName") {
        search.conditions.push(SpanCondition::RemoteService(remote.to_lowercase()));
    }
    if let Some(annotation_query) = params.get("annotationQuery") {
        add_annotation_query(&mut search, annotation_query)?;
    }
    let min = params.get("minDuration").map(|text| micros("minDuration", text)).transpose()?;
    let max = params.get("maxDuration").map(|text| micros("maxDuration", text)).transpose()?;
    if let (Some(min), Some(max)) = (min, max)
        && max < min
    {
        return Err(bad_parameter("maxDuration", "must not be less than minDuration"));
    }
    search.query.min_duration_nanos = min;
    search.query.max_duration_nanos = max;
    let (start, end) = window(params, limits, now_unix_nano)?;
    search.query.start_unix_nano = start;
    search.query.end_unix_nano = end;
    search.query.limit = parse_limit(limits, "limit", params.get("limit"))?;
    Ok(search)
}

/// The window `endTs` and `lookback` describe, in Unix nanoseconds.
pub(super) fn window(
    params: &QueryString,
    limits: &QueryLimits,
    now_unix_nano: u64,
) -> Result<(u64, u64), ApiError> {
    let end = match params.get("endTs") {
        Some(text) => positive_millis("endTs", text)?.saturating_mul(1_000_000),
        None => now_unix_nano,
    };
    let lookback = match params.get("lookback") {
        Some(text) => Duration::from_millis(positive_millis("lookback", text)?),
        None => DEFAULT_LOOKBACK.min(limits.max_lookback),
    };
    let start = window_start(end, lookback);
    check_window(limits, "lookback", start, end)?;
    Ok((start, end))
}

/// Adds the terms of an `annotationQuery`, joined by ` and `. A term `key=value` is a tag; a bare
/// word, or a key with an empty value, is an annotation or a tag key, as in Zipkin.
fn add_annotation_query(search: &mut SpanSearch, text: &str) -> Result<(), ApiError> {
    for term in text.split(" and ").map(str::trim).filter(|term| !term.is_empty()) {
        let (key, value) = match term.split_once('=') {
            Some((key, value)) => (key.trim(), value.trim()),
            None => (term, ""),
        };
        let added = match (key, value) {
            // A bare `error` is Zipkin's "failed" (its `error` tag, or annotation).
            (_, "") if key != "error" => {
                search.conditions.push(SpanCondition::EventOrKey(key.to_owned()));
                Ok(())
            }
            _ => search.add_tag(key, value),
        };
        added.map_err(|problem| bad_parameter("annotationQuery", problem))?;
    }
    Ok(())
}

fn micros(name: &str, text: &str) -> Result<u64, ApiError> {
    let micros: u64 = text
        .trim()
        .parse()
        .map_err(|_| bad_parameter(name, format!("{text:?} is not a number of microseconds")))?;
    if micros == 0 {
        return Err(bad_parameter(name, "must be at least 1 microsecond"));
    }
    Ok(micros.saturating_mul(1_000))
}

fn positive_millis(name: &str, text: &str) -> Result<u64, ApiError> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err(bad_parameter(name, "must be at least 1 millisecond")),
        Ok(millis) => Ok(millis),
        Err(_) => Err(bad_parameter(name, format!("{text:?} is not a number of milliseconds"))),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Uri;
    use kiseki_model::SpanKind;
    use kiseki_store::AttributeFilter;

    use super::*;

    const NOW: u64 = 1_700_000_000_000_000_000;

    fn params(query: &str) -> QueryString {
        QueryString::of(&format!("/api/v2/traces?{query}").parse::<Uri>().unwrap()).unwrap()
    }

    fn search(query: &str) -> SpanSearch {
        traces_search(&params(query), &QueryLimits::default(), NOW).unwrap()
    }

    #[test]
    fn a_search_reads_every_zipkin_parameter() {
        let search = search(
            "serviceName=frontend&spanName=get&remoteServiceName=mysql\
             &annotationQuery=error+and+http.method%3DGET+and+retried+and+span.kind%3Dclient+and+db%3D\
             &minDuration=100&maxDuration=2000&endTs=1700000000000&lookback=60000&limit=5",
        );
        let query = &search.query;
        assert_eq!(query.service.as_deref(), Some("frontend"));
        assert_eq!(query.operation.as_deref(), Some("get"));
        assert!(query.errors_only);
        assert_eq!(query.attributes, [AttributeFilter::new("http.method", "GET")]);
        assert_eq!(
            search.conditions,
            [
                SpanCondition::RemoteService("mysql".into()),
                SpanCondition::EventOrKey("retried".into()),
                SpanCondition::Kind(SpanKind::Client),
                SpanCondition::EventOrKey("db".into()),
            ]
        );
        assert_eq!(
            (query.min_duration_nanos, query.max_duration_nanos),
            (Some(100_000), Some(2_000_000))
        );
        assert_eq!(query.end_unix_nano, NOW);
        assert_eq!(query.start_unix_nano, NOW - 60_000_000_000);
        assert_eq!(query.limit, 5);
    }

    #[test]
    fn defaults_are_zipkins_within_the_limits() {
        let search = search("spanName=all");
        assert_eq!(search.query.operation, None, "`all` is any span name");
        assert_eq!(search.query.end_unix_nano, NOW);
        assert_eq!(search.query.start_unix_nano, NOW - 86_400_000_000_000);
        assert_eq!(search.query.limit, QueryLimits::default().default_results);
    }

    #[test]
    fn every_bad_parameter_is_named() {
        for (query, parameter) in [
            ("minDuration=0", "minDuration"),
            ("minDuration=fast", "minDuration"),
            ("maxDuration=-1", "maxDuration"),
            ("minDuration=10&maxDuration=5", "maxDuration"),
            ("endTs=0", "endTs"),
            ("endTs=now", "endTs"),
            ("lookback=0", "lookback"),
            ("lookback=2678400001", "lookback"),
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("annotationQuery=span.kind%3Dsideways", "annotationQuery"),
        ] {
            let message =
                traces_search(&params(query), &QueryLimits::default(), NOW).unwrap_err().message;
            assert!(
                message.starts_with(&format!("parameter \"{parameter}\"")),
                "{query}: {message}"
            );
        }
    }
}
