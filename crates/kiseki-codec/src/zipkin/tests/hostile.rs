//! Hostile input: every decoder refuses it with an error, never a panic.
