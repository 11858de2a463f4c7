//! Tests of authentication and authorization across the module.

mod api_key;
mod authenticate;
mod authorize;
mod config;
mod support;
mod token;
