//! One module per `samctl` command group.

pub mod assignment;
pub mod assignment_remote;
pub mod billing;
pub mod billing_remote;
pub mod client;
pub mod demo;
pub mod evaluate;
pub mod evaluate_remote;
pub mod evaluation;
pub mod keys;
pub mod login;
pub mod partner;
pub mod remote;
pub mod store;
pub mod usage;
pub mod user;
