//! Language identification (being written).
