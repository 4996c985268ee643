//! Sinks: where messages go.
