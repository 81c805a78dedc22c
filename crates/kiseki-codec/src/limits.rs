//! Limits every decoder enforces, so a hostile payload is refused instead of exhausting memory.
//!
//! Request bodies are already bounded in size by the receivers; these bound the shapes inside a
//! body that would otherwise cost far more memory or stack than their bytes suggest.

use kiseki_model::{AnyValue, Attributes};

/// Most attributes in one list (a span's, an event's, a link's, a resource's).
pub const MAX_ATTRIBUTES: usize = 4096;
/// Most events on one span.
pub const MAX_EVENTS: usize = 4096;
/// Most links on one span.
pub const MAX_LINKS: usize = 1024;
/// Deepest nesting of arrays and maps inside one attribute value.
pub const MAX_VALUE_DEPTH: usize = 32;

/// A payload that is well-formed but exceeds a limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("{count} attributes in one list, more than the limit of {MAX_ATTRIBUTES}")]
    TooManyAttributes { count: usize },
    #[error("{count} events on one span, more than the limit of {MAX_EVENTS}")]
    TooManyEvents { count: usize },
    #[error("{count} links on one span, more than the limit of {MAX_LINKS}")]
    TooManyLinks { count: usize },
    #[error("attribute values nest deeper than the limit of {MAX_VALUE_DEPTH}")]
    TooDeep,
}

/// Fails when one more item would take a list past `max`; decoders call it before each push.
pub fn check_attribute_count(count: usize) -> Result<(), LimitError> {
    if count >= MAX_ATTRIBUTES {
        return Err(LimitError::TooManyAttributes { count: count + 1 });
    }
    Ok(())
}

pub fn check_event_count(count: usize) -> Result<(), LimitError> {
    if count >= MAX_EVENTS {
        return Err(LimitError::TooManyEvents { count: count + 1 });
    }
    Ok(())
}

pub fn check_link_count(count: usize) -> Result<(), LimitError> {
    if count >= MAX_LINKS {
        return Err(LimitError::TooManyLinks { count: count + 1 });
    }
    Ok(())
}

/// Checks a nesting depth that a decoder tracks while it descends into a value.
pub fn check_depth(depth: usize) -> Result<(), LimitError> {
    if depth > MAX_VALUE_DEPTH {
        return Err(LimitError::TooDeep);
    }
    Ok(())
}

/// Checks a finished attribute list, for decoders that build values before they can count them.
pub fn check_attributes(attributes: &Attributes) -> Result<(), LimitError> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(LimitError::TooManyAttributes { count: attributes.len() });
    }
    if attributes.iter().any(|kv| kv.value.depth() > MAX_VALUE_DEPTH) {
        return Err(LimitError::TooDeep);
    }
    Ok(())
}

/// Checks one value built before its depth could be tracked.
pub fn check_value(value: &AnyValue) -> Result<(), LimitError> {
    check_depth(value.depth())
}
