//! SAM evaluates student work against an assignment's rubric with large
//! language models, for partners who resell it to schools and universities.

pub mod auth;
pub mod eval;
pub mod tenancy;
