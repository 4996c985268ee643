//! Personal data (being written).
