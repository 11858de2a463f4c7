//! Shared code of the benchmark programs: agreement statistics and the
//! loader of the UNT short-answer data set.

pub mod baseline;
pub mod data;
pub mod stats;
