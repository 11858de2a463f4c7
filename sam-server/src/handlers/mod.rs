//! Request handlers, one file per resource.

pub mod assignments;
pub mod batch;
pub mod billing;
pub mod evaluations;
pub mod health;
pub mod keys;
pub mod tenants;
