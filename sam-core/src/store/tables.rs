//! Qualified table names: the only place a schema name enters SQL text.

use crate::tenancy::SchemaName;

/// The names of the tables a query may use, each already qualified with
/// the quoted schema on PostgreSQL, or bare on SQLite where each partner
/// has its own database file.
#[derive(Debug, Clone)]
pub(crate) struct Tables {
    pub(crate) tenants: String,
    pub(crate) clients: String,
    pub(crate) users: String,
    pub(crate) assignments: String,
    pub(crate) submissions: String,
    pub(crate) evaluations: String,
    pub(crate) usage_events: String,
    pub(crate) api_keys: String,
    pub(crate) platform_admins: String,
    pub(crate) idempotency_keys: String,
    pub(crate) usage_daily: String,
    pub(crate) invoices: String,
}

impl Tables {
    /// Names qualified with `schema`, quoted.
    pub(crate) fn qualified(schema: &SchemaName) -> Self {
        Self::with_prefix(&format!("{}.", schema.quoted()))
    }

    /// Bare names, for a SQLite database that holds one partner or the control tables.
    pub(crate) fn unqualified() -> Self {
        Self::with_prefix("")
    }

    fn with_prefix(prefix: &str) -> Self {
        let name = |table: &str| format!("{prefix}{table}");
        Self {
            tenants: name("tenants"),
            clients: name("clients"),
            users: name("users"),
            assignments: name("assignments"),
            submissions: name("submissions"),
            evaluations: name("evaluations"),
            usage_events: name("usage_events"),
            api_keys: name("api_keys"),
            platform_admins: name("platform_admins"),
            idempotency_keys: name("idempotency_keys"),
            usage_daily: name("usage_daily"),
            invoices: name("invoices"),
        }
    }
}
