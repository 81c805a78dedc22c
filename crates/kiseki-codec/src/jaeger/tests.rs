//! Cross-format tests of the Jaeger codecs: real captures, round trips and hostile input.
