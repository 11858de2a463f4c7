//! SAM evaluates student work against an assignment's rubric with large
//! language models, for partners who resell it to schools and universities.

pub mod auth;
pub mod billing;
pub mod cache;
pub mod config;
pub mod engine;
pub mod eval;
pub mod export;
pub mod llm;
pub mod metering;
pub mod store;
pub mod tenancy;
