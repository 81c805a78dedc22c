//! The parameters of Jaeger's `GET /api/traces` and `GET /api/dependencies`, read as Jaeger's
//! query service reads them, and held to kiseki's [`QueryLimits`].
//!
//! Search: `service`, `operation`, `tag=key:value` (repeated) and `tags={"key":"value"}`,
//! `minDuration`/`maxDuration` as Go durations (`1.5ms`, `2s`), `start`/`end` in Unix
//! microseconds, `lookback` (`1h`, `2d`; `custom` or absent when `start` is given), `limit`, and
//! `traceID` (repeated) to fetch traces by id instead of searching. Jaeger requires `service`
//! unless `traceID` is given; kiseki also searches every service when it is absent.

use std::time::Duration;

use kiseki_model::TraceId;

use super::super::query_string::QueryString;
use super::super::search::{SpanSearch, check_window, parse_limit, tag_value_text, window_start};
use crate::error::ApiError;
use crate::query::QueryLimits;
use crate::query::duration::go_duration;
use crate::query::limits::bad_parameter;

/// How far back a search looks when it gives neither `start` nor `lookback` (Jaeger's default).
pub const DEFAULT_SEARCH_LOOKBACK: Duration = Duration::from_secs(2 * 24 * 3600);

/// How far back `/api/dependencies` looks without `lookback` (Jaeger's default).
pub const DEFAULT_DEPENDENCIES_LOOKBACK: Duration = Duration::from_secs(24 * 3600);

/// What `GET /api/traces` asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum TracesRequest {
    /// `traceID=...`: these traces, whatever the other parameters say.
    ByIds(Vec<TraceId>),
    Search(SpanSearch),
}

/// Reads the parameters of `GET /api/traces`; `now_unix_nano` ends a window without `end`.
pub(super) fn traces_request(
    params: &QueryString,
    limits: &QueryLimits,
    now_unix_nano: u64,
) -> Result<TracesRequest, ApiError> {
    let mut search = SpanSearch::default();
    search.query.service = params.get("service").map(str::to_owned);
    search.query.operation = params.get("operation").map(str::to_owned);

    let end = match params.get("end") {
        Some(text) => unix_micros("end", text)?,
        None => now_unix_nano,
    };
    let (start, window_parameter) = match (params.get("start"), params.get("lookback")) {
        (Some(text), _) => (unix_micros("start", text)?, "start"),
        (None, Some(lookback)) if lookback != "custom" => {
            let lookback = go_duration(lookback, true)
                .map_err(|problem| bad_parameter("lookback", problem))?;
            (window_start(end, lookback), "lookback")
        }
        _ => (window_start(end, DEFAULT_SEARCH_LOOKBACK.min(limits.max_lookback)), "start"),
    };
    check_window(limits, window_parameter, start, end)?;
    search.query.start_unix_nano = start;
    search.query.end_unix_nano = end;

    for (key, value) in tags(params)? {
        search.add_tag(&key, &value).map_err(|problem| bad_parameter("tags", problem))?;
    }

    search.query.limit = parse_limit(limits, "limit", params.get("limit"))?;
    let min = params.get("minDuration").map(|text| duration("minDuration", text)).transpose()?;
    let max = params.get("maxDuration").map(|text| duration("maxDuration", text)).transpose()?;
    if let (Some(min), Some(max)) = (min, max)
        && max < min
    {
        return Err(bad_parameter("maxDuration", "must not be less than minDuration"));
    }
    search.query.min_duration_nanos = min;
    search.query.max_duration_nanos = max;

    let mut ids = Vec::new();
    for text in params.all("traceID") {
        let id = TraceId::from_hex(text.trim())
            .map_err(|error| bad_parameter("traceID", format!("{text:?} is invalid: {error}")))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.len() > limits.max_results {
        return Err(bad_parameter(
            "traceID",
            format!("at most {} trace ids at once", limits.max_results),
        ));
    }
    Ok(if ids.is_empty() { TracesRequest::Search(search) } else { TracesRequest::ByIds(ids) })
}

/// The window of `GET /api/dependencies`: `endTs` (Unix milliseconds, default now) and
/// `lookback` (milliseconds, default a day), as Unix nanoseconds.
pub(super) fn dependencies_window(
    params: &QueryString,
    limits: &QueryLimits,
    now_unix_nano: u64,
) -> Result<(u64, u64), ApiError> {
    let end = match params.get("endTs") {
        Some(text) => millis("endTs", text)?.saturating_mul(1_000_000),
        None => now_unix_nano,
    };
    let lookback = match params.get("lookback") {
        Some(text) => match millis("lookback", text)? {
            0 => return Err(bad_parameter("lookback", "must be at least 1 millisecond")),
            ms => Duration::from_millis(ms),
        },
        None => DEFAULT_DEPENDENCIES_LOOKBACK.min(limits.max_lookback),
    };
    let start = window_start(end, lookback);
    check_window(limits, "lookback", start, end)?;
    Ok((start, end))
}

/// The tags of a search, from `tag=key:value` and `tags={json}`; a later value of a key wins, as
/// in Jaeger.
fn tags(params: &QueryString) -> Result<Vec<(String, String)>, ApiError> {
    let mut tags: Vec<(String, String)> = Vec::new();
    let mut set = |key: &str, value: String| {
        tags.retain(|(k, _)| k != key);
        tags.push((key.to_owned(), value));
    };
    for tag in params.all("tag") {
        let (key, value) = tag
            .split_once(':')
            .ok_or_else(|| bad_parameter("tag", format!("{tag:?} is not key:value")))?;
        set(key, value.to_owned());
    }
    for json in params.all("tags") {
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json)
            .map_err(|error| {
                bad_parameter("tags", format!("not a JSON object of strings: {error}"))
            })?;
        for (key, value) in object {
            let value = tag_value_text(&value).ok_or_else(|| {
                bad_parameter("tags", format!("the value of {key:?} is not a string"))
            })?;
            set(&key, value);
        }
    }
    Ok(tags)
}

fn unix_micros(name: &str, text: &str) -> Result<u64, ApiError> {
    let micros: u64 = text
        .trim()
        .parse()
        .map_err(|_| bad_parameter(name, format!("{text:?} is not a time in Unix microseconds")))?;
    Ok(micros.saturating_mul(1_000))
}

fn millis(name: &str, text: &str) -> Result<u64, ApiError> {
    text.trim()
        .parse()
        .map_err(|_| bad_parameter(name, format!("{text:?} is not a number of milliseconds")))
}

fn duration(name: &str, text: &str) -> Result<u64, ApiError> {
    let duration = go_duration(text, false).map_err(|problem| bad_parameter(name, problem))?;
    Ok(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use axum::http::Uri;
    use kiseki_store::AttributeFilter;

    use super::*;

    fn params(query: &str) -> QueryString {
        QueryString::of(&format!("/api/traces?{query}").parse::<Uri>().unwrap()).unwrap()
    }

    const NOW: u64 = 1_700_000_000_000_000_000;

    fn search(query: &str) -> SpanSearch {
        match traces_request(&params(query), &QueryLimits::default(), NOW).unwrap() {
            TracesRequest::Search(search) => search,
            other => panic!("not a search: {other:?}"),
        }
    }

    fn refused(query: &str) -> String {
        traces_request(&params(query), &QueryLimits::default(), NOW).unwrap_err().message
    }

    #[test]
    fn a_search_reads_every_jaeger_parameter() {
        let search = search(
            "service=cart&operation=GET%20%2Fcart&tag=http.status_code:500&tag=url:http://x\
             &tags=%7B%22db.system%22%3A%22redis%22%2C%22retries%22%3A3%7D\
             &minDuration=1.5ms&maxDuration=2s&start=1000&end=5000&lookback=custom&limit=7",
        );
        let query = &search.query;
        assert_eq!(query.service.as_deref(), Some("cart"));
        assert_eq!(query.operation.as_deref(), Some("GET /cart"));
        assert_eq!(
            query.attributes,
            [
                AttributeFilter::new("http.status_code", "500"),
                AttributeFilter::new("url", "http://x"),
                AttributeFilter::new("db.system", "redis"),
                AttributeFilter::new("retries", "3"),
            ]
        );
        assert_eq!(query.min_duration_nanos, Some(1_500_000));
        assert_eq!(query.max_duration_nanos, Some(2_000_000_000));
        assert_eq!((query.start_unix_nano, query.end_unix_nano), (1_000_000, 5_000_000));
        assert_eq!(query.limit, 7);
    }

    #[test]
    fn the_window_defaults_to_jaegers_and_follows_lookback() {
        let two_days = 2 * 86_400 * 1_000_000_000;
        let query = search("service=a").query;
        assert_eq!((query.start_unix_nano, query.end_unix_nano), (NOW - two_days, NOW));
        assert_eq!(query.limit, QueryLimits::default().default_results);
        let query = search("service=a&lookback=1h").query;
        assert_eq!(query.start_unix_nano, NOW - 3_600_000_000_000);
        let start_micros = NOW / 1_000 - 5;
        let query = search(&format!("service=a&lookback=2d&start={start_micros}")).query;
        assert_eq!(query.start_unix_nano, NOW - 5_000, "start wins over lookback");
    }

    #[test]
    fn trace_ids_fetch_traces_instead_of_searching() {
        let request = traces_request(
            &params("traceID=abc&traceID=00abc&traceID=1f"),
            &QueryLimits::default(),
            NOW,
        )
        .unwrap();
        let ids = [0xabcu128, 0x1f].map(|id| TraceId::new(id).unwrap());
        assert_eq!(request, TracesRequest::ByIds(ids.to_vec()));
    }

    #[test]
    fn every_bad_parameter_is_named() {
        for (query, parameter) in [
            ("start=yesterday", "start"),
            ("end=-5", "end"),
            ("lookback=fortnight", "lookback"),
            ("lookback=31d", "lookback"),
            ("start=1&end=2678400000001", "start"),
            ("start=10&end=5", "start"),
            ("limit=0", "limit"),
            ("limit=5000", "limit"),
            ("minDuration=5", "minDuration"),
            ("maxDuration=fast", "maxDuration"),
            ("minDuration=2s&maxDuration=1s", "maxDuration"),
            ("tag=nocolon", "tag"),
            ("tags=%5B1%5D", "tags"),
            ("tags=%7B%22a%22%3A%5B%5D%7D", "tags"),
            ("tags=%7B%22span.kind%22%3A%22sideways%22%7D", "tags"),
            ("traceID=xyz", "traceID"),
        ] {
            let message = refused(&format!("service=a&{query}"));
            assert!(
                message.starts_with(&format!("parameter \"{parameter}\"")),
                "{query}: {message}"
            );
        }
    }

    #[test]
    fn the_dependencies_window_is_in_milliseconds() {
        let limits = QueryLimits::default();
        let window =
            dependencies_window(&params("endTs=10000&lookback=4000"), &limits, NOW).unwrap();
        assert_eq!(window, (6_000_000_000, 10_000_000_000));
        let (start, end) = dependencies_window(&params(""), &limits, NOW).unwrap();
        assert_eq!((end - start, end), (86_400_000_000_000, NOW));
        for (query, parameter) in [
            ("endTs=soon", "endTs"),
            ("lookback=0", "lookback"),
            ("lookback=x", "lookback"),
            ("lookback=2678400001", "lookback"),
        ] {
            let message = dependencies_window(&params(query), &limits, NOW).unwrap_err().message;
            assert!(
                message.starts_with(&format!("parameter \"{parameter}\"")),
                "{query}: {message}"
            );
        }
    }
}
