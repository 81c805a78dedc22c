//! Bounds on every query: how far back a search may look, how many results it may ask for and how
//! long it may run. Every query API reads the same [`QueryLimits`], so no API is a way around them.

use std::future::Future;
use std::time::Duration;

use crate::error::{ApiError, Reason};

/// Limits that every query API enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// The furthest back a search may reach; a longer lookback is refused with a 400.
    pub max_lookback: Duration,
    /// The most traces one search may return; a larger `limit` is refused with a 400.
    pub max_results: usize,
    /// The number of traces a search returns when it names no limit.
    pub default_results: usize,
    /// How long one query may run before it is answered with a 503.
    pub timeout: Duration,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            max_lookback: Duration::from_secs(30 * 24 * 3600),
            max_results: 1_000,
            default_results: 20,
            timeout: Duration::from_secs(30),
        }
    }
}

impl QueryLimits {
    /// Runs one query, refusing it when it takes longer than [`QueryLimits::timeout`].
    pub async fn run<T>(
        &self,
        query: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        match tokio::time::timeout(self.timeout, query).await {
            Ok(result) => result,
            Err(_) => Err(ApiError::new(
                Reason::Unavailable,
                format!("the query took longer than the limit of {:?}", self.timeout),
            )),
        }
    }
}

/// A 400 that names the parameter at fault: `parameter "limit": must be at most 1000`.
pub fn bad_parameter(name: &str, problem: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("parameter {name:?}: {problem}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_parameter_is_named_in_the_message() {
        let error = bad_parameter("limit", "must be at most 1000");
        assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(error.message, r#"parameter "limit": must be at most 1000"#);
    }

    #[tokio::test]
    async fn a_query_past_its_time_is_refused() {
        let limits = QueryLimits { timeout: Duration::from_millis(1), ..QueryLimits::default() };
        let slow = async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        };
        let error = limits.run(slow).await.unwrap_err();
        assert_eq!(error.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
    }
}
