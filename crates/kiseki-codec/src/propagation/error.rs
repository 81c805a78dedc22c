//! The one error type of trace-context extraction: which header was wrong and how.

/// A propagation header is present but cannot be read.
///
/// Messages are lowercase and name the header, so a receiver can log them or return them as they
/// are. Extraction never fails for a header that is merely absent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PropagationError {
    /// A header that must appear once was sent several times (`traceparent`).
    #[error("{header} header appears {count} times, expected once")]
    Repeated { header: &'static str, count: usize },
    /// A header is present but its value does not follow its format.
    #[error("{header} header: {problem}")]
    Malformed { header: &'static str, problem: String },
    /// A header is present but another one that it depends on is missing.
    #[error("{header} header is missing but {present} is present")]
    Missing { header: &'static str, present: &'static str },
}

impl PropagationError {
    pub(crate) fn malformed(header: &'static str, problem: impl Into<String>) -> Self {
        Self::Malformed { header, problem: problem.into() }
    }

    /// The (lowercase) name of the header the error is about.
    pub fn header(&self) -> &'static str {
        match self {
            Self::Repeated { header, .. }
            | Self::Malformed { header, .. }
            | Self::Missing { header, .. } => header,
        }
    }
}
