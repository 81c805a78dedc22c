//! The query strings of the native API, read strictly: an unknown parameter, a parameter given
//! twice where once is allowed, or a value that does not parse is a 400 that names the parameter.
//! An empty value (`service=`, as HTML forms send unset fields) counts as absent.

use std::time::Duration;

use kiseki_store::{AttributeFilter, TraceQuery};

use crate::error::ApiError;
use crate::query::QueryLimits;
use crate::query::duration::{describe, go_duration};
use crate::query::limits::bad_parameter;

/// The search window when a search names neither `start` nor `lookback`.
pub const DEFAULT_LOOKBACK: Duration = Duration::from_secs(3600);

/// The number of values `attributes/values` returns when it names no limit.
pub const DEFAULT_VALUES_LIMIT: usize = 100;

/// The parameters of one request, checked against the names its endpoint accepts.
#[derive(Debug)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Refuses any parameter not in `accepted`.
    pub fn new(pairs: Vec<(String, String)>, accepted: &[&str]) -> Result<Self, ApiError> {
        if let Some((name, _)) = pairs.iter().find(|(name, _)| !accepted.contains(&name.as_str())) {
            let names = accepted.join(", ");
            let problem = if names.is_empty() {
                "is not a parameter of this endpoint, which takes none".to_owned()
            } else {
                format!("is not a parameter of this endpoint (it takes {names})")
            };
            return Err(bad_parameter(name, problem));
        }
        Ok(Self { pairs })
    }

    /// A parameter that may be given once; `None` when absent or empty.
    pub fn single(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self.all(name);
        let first = values.next();
        if values.next().is_some() {
            return Err(bad_parameter(name, "is given more than once"));
        }
        Ok(first)
    }

    /// Every non-empty value of a parameter that may repeat.
    pub fn all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.pairs
            .iter()
            .filter(move |(n, v)| n == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    /// A whole number in `1..=max`, or `default` when absent.
    pub fn limit(&self, name: &str, default: usize, max: usize) -> Result<usize, ApiError> {
        let Some(text) = self.single(name)? else { return Ok(default.min(max)) };
        let limit: usize = text
            .parse()
            .map_err(|_| bad_parameter(name, format!("{text:?} is not a whole number")))?;
        if limit == 0 {
            return Err(bad_parameter(name, "must be at least 1"));
        }
        if limit > max {
            return Err(bad_parameter(name, format!("must be at most {max}")));
        }
        Ok(limit)
    }

    fn duration_nanos(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.single(name)?
            .map(|text| parse_duration_nanos(text).map_err(|p| bad_parameter(name, p)))
            .transpose()
    }

    fn unix_millis(&self, name: &str) -> Result<Option<u64>, ApiError> {
        let Some(text) = self.single(name)? else { return Ok(None) };
        let millis: u64 = text.parse().map_err(|_| {
            bad_parameter(name, format!("{text:?} is not a time in Unix milliseconds"))
        })?;
        let nanos = millis
            .checked_mul(1_000_000)
            .ok_or_else(|| bad_parameter(name, format!("{text:?} is too far in the future")))?;
        Ok(Some(nanos))
    }
}

/// The parameters `GET /search` accepts.
pub const SEARCH_PARAMETERS: &[&str] = &[
    "service",
    "operation",
    "attr",
    "minDuration",
    "maxDuration",
    "errorsOnly",
    "start",
    "end",
    "lookback",
    "limit",
];

/// Reads a search. `now_unix_nano` ends the window when `end` is absent.
pub fn search_query(
    params: &Params,
    limits: &QueryLimits,
    now_unix_nano: u64,
) -> Result<TraceQuery, ApiError> {
    let service = params.single("service")?.map(str::to_owned);
    let operation = params.single("operation")?.map(str::to_owned);
    let attributes = params
        .all("attr")
        .map(|text| {
            AttributeFilter::parse(text).ok_or_else(|| {
                bad_parameter("attr", format!("{text:?} is not key=value with a non-empty key"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let min_duration_nanos = params.duration_nanos("minDuration")?;
    let max_duration_nanos = params.duration_nanos("maxDuration")?;
    if let (Some(min), Some(max)) = (min_duration_nanos, max_duration_nanos)
        && max < min
    {
        return Err(bad_parameter("maxDuration", "must not be less than minDuration"));
    }
    let errors_only = match params.single("errorsOnly")? {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(bad_parameter(
                "errorsOnly",
                format!("{other:?} is neither true nor false"),
            ));
        }
    };
    let (start_unix_nano, end_unix_nano) = time_range(params, limits, now_unix_nano)?;
    let limit = params.limit("limit", limits.default_results, limits.max_results)?;
    Ok(TraceQuery {
        service,
        operation,
        attributes,
        min_duration_nanos,
        max_duration_nanos,
        errors_only,
        start_unix_nano,
        end_unix_nano,
        limit,
    })
}

/// The search window: `start`/`end` (Unix milliseconds) win over `lookback`, which ends at `end`
/// or now. The window may be at most [`QueryLimits::max_lookback`] wide.
fn time_range(
    params: &Params,
    limits: &QueryLimits,
    now_unix_nano: u64,
) -> Result<(u64, u64), ApiError> {
    let max_lookback = u64::try_from(limits.max_lookback.as_nanos()).unwrap_or(u64::MAX);
    let too_long = || format!("must be at most {}", describe(limits.max_lookback));
    let lookback = params.duration_nanos("lookback")?;
    let start = params.unix_millis("start")?;
    let end = params.unix_millis("end")?.unwrap_or(now_unix_nano);
    match start {
        Some(start) => {
            if end < start {
                return Err(bad_parameter("end", "must not be before start"));
            }
            if end - start > max_lookback {
                return Err(bad_parameter(
                    "start",
                    format!("the range from start to end {}", too_long()),
                ));
            }
            Ok((start, end))
        }
        None => {
            let default = u64::try_from(DEFAULT_LOOKBACK.as_nanos()).unwrap_or(u64::MAX);
            let lookback = match lookback {
                Some(lookback) if lookback > max_lookback => {
                    return Err(bad_parameter("lookback", too_long()));
                }
                Some(lookback) => lookback,
                None => default.min(max_lookback),
            };
            Ok((end.saturating_sub(lookback), end))
        }
    }
}

/// A duration written as Go writes them (`250ms`, `1.5s`, `300us`, `2m`, `1h30m`), also with
/// `d` for 24 hours and `w` for a week, in nanoseconds.
pub fn parse_duration_nanos(text: &str) -> Result<u64, String> {
    let duration = go_duration(text, true)?;
    u64::try_from(duration.as_nanos()).map_err(|_| format!("{text:?} is too long a duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &[(&str, &str)]) -> Params {
        let pairs = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Params::new(pairs, SEARCH_PARAMETERS).unwrap()
    }

    const NOW: u64 = 1_700_000_000_000_000_000;

    fn search(query: &[(&str, &str)]) -> Result<TraceQuery, ApiError> {
        search_query(&params(query), &QueryLimits::default(), NOW)
    }

    #[test]
    fn durations_read_as_go_writes_them() {
        let ms = 1_000_000;
        assert_eq!(parse_duration_nanos("250ms"), Ok(250 * ms));
        assert_eq!(parse_duration_nanos("1.5s"), Ok(1_500 * ms));
        assert_eq!(parse_duration_nanos("300us"), Ok(300_000));
        assert_eq!(parse_duration_nanos("300µs"), Ok(300_000));
        assert_eq!(parse_duration_nanos("2m"), Ok(120_000 * ms));
        assert_eq!(parse_duration_nanos("1h30m"), Ok(5_400_000 * ms));
        assert_eq!(parse_duration_nanos("2d"), Ok(172_800_000 * ms));
        assert_eq!(parse_duration_nanos(".5s"), Ok(500 * ms));
        assert_eq!(parse_duration_nanos("1.0000000009s"), Ok(1_000_000_000));
        assert_eq!(parse_duration_nanos("0"), Ok(0));
        assert_eq!(parse_duration_nanos("7ns"), Ok(7));
        for bad in ["", "5", "1x", "-1s", "1..5s", ".s", "ms", "1s2", "99999999999h", "1 s"] {
            assert!(parse_duration_nanos(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_search_reads_every_condition() {
        let query = search(&[
            ("service", "checkout"),
            ("operation", "POST /checkout"),
            ("attr", "http.response.status_code=500"),
            ("attr", "region = eu"),
            ("minDuration", "250ms"),
            ("maxDuration", "2s"),
            ("errorsOnly", "true"),
            ("start", "1699999000000"),
            ("end", "1699999900000"),
            ("limit", "50"),
        ])
        .unwrap();
        assert_eq!(query.service.as_deref(), Some("checkout"));
        assert_eq!(query.operation.as_deref(), Some("POST /checkout"));
        assert_eq!(
            query.attributes,
            [
                AttributeFilter::new("http.response.status_code", "500"),
                AttributeFilter::new("region", "eu")
            ]
        );
        assert_eq!(query.min_duration_nanos, Some(250_000_000));
        assert_eq!(query.max_duration_nanos, Some(2_000_000_000));
        assert!(query.errors_only);
        assert_eq!(query.start_unix_nano, 1_699_999_000_000_000_000);
        assert_eq!(query.end_unix_nano, 1_699_999_900_000_000_000);
        assert_eq!(query.limit, 50);
    }

    #[test]
    fn an_empty_search_looks_back_one_hour_for_the_default_number() {
        let query = search(&[("service", ""), ("errorsOnly", "false")]).unwrap();
        assert_eq!(query.service, None);
        assert!(!query.errors_only);
        assert_eq!(query.end_unix_nano, NOW);
        assert_eq!(query.start_unix_nano, NOW - 3_600_000_000_000);
        assert_eq!(query.limit, QueryLimits::default().default_results);
        let query = search(&[("lookback", "2d"), ("end", "1700000000000")]).unwrap();
        assert_eq!(query.start_unix_nano, NOW - 172_800_000_000_000);
        let query = search(&[("lookback", "2d"), ("start", "1699999000000")]).unwrap();
        assert_eq!(query.start_unix_nano, 1_699_999_000_000_000_000, "start wins over lookback");
        assert_eq!(query.end_unix_nano, NOW);
    }

    #[test]
    fn every_mistake_names_its_parameter() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("limit", "0")], "limit"),
            (&[("limit", "1001")], "limit"),
            (&[("limit", "ten")], "limit"),
            (&[("limit", "1"), ("limit", "2")], "limit"),
            (&[("attr", "novalue")], "attr"),
            (&[("attr", "=x")], "attr"),
            (&[("minDuration", "fast")], "minDuration"),
            (&[("maxDuration", "1y")], "maxDuration"),
            (&[("minDuration", "2s"), ("maxDuration", "1s")], "maxDuration"),
            (&[("errorsOnly", "yes")], "errorsOnly"),
            (&[("start", "yesterday")], "start"),
            (&[("start", "-5")], "start"),
            (&[("end", "99999999999999999999")], "end"),
            (&[("start", "1699999000000"), ("end", "1699998000000")], "end"),
            (&[("lookback", "31d")], "lookback"),
            (&[("lookback", "soon")], "lookback"),
            (&[("start", "1000"), ("end", "1699999000000")], "start"),
        ];
        for (query, name) in cases {
            let error = search(query).unwrap_err();
            assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST, "{query:?}");
            assert!(
                error.message.starts_with(&format!("parameter {name:?}: ")),
                "{query:?}: {}",
                error.message
            );
        }
        let pairs = vec![("servce".to_owned(), "x".to_owned())];
        let error = Params::new(pairs, SEARCH_PARAMETERS).unwrap_err();
        assert!(error.message.starts_with("parameter \"servce\": "), "{}", error.message);
    }

    #[test]
    fn limits_come_from_the_query_limits() {
        let limits = QueryLimits {
            max_lookback: Duration::from_secs(600),
            max_results: 5,
            default_results: 20,
            ..QueryLimits::default()
        };
        let query = search_query(&params(&[]), &limits, NOW).unwrap();
        assert_eq!(query.limit, 5, "the default never exceeds the maximum");
        assert_eq!(query.start_unix_nano, NOW - 600_000_000_000, "nor does the default lookback");
        let error = search_query(&params(&[("lookback", "11m")]), &limits, NOW).unwrap_err();
        assert_eq!(error.message, "parameter \"lookback\": must be at most 10m");
        let error = search_query(&params(&[("limit", "6")]), &limits, NOW).unwrap_err();
        assert_eq!(error.message, "parameter \"limit\": must be at most 5");
    }
}
