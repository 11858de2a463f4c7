//! Billing: price plans per tier, monthly invoices per partner with a
//! breakdown per client, closing months, and invoice exports.
//!
//! Money is [`rust_decimal::Decimal`] throughout. Provider cost is summed
//! in integer nanos of USD and converted once per invoice line. Each line
//! is rounded once, half away from zero, to cents (USD) or whole pesos
//! (CLP).

mod allocate;
mod error;
pub mod export;
mod invoice;
mod plan;
mod service;
#[cfg(test)]
mod tests;

pub use error::BillingError;
pub use invoice::{
    ClientInvoice, ClientLine, ClientStatement, Invoice, InvoiceLine, InvoiceStatus, LineKind,
    PlatformEconomics, UNALLOCATED_CLIENT,
};
pub use plan::{
    BillingConfig, Currency, ModelCost, PlanSettings, PricePlan, ResolvedPlan, TierPlans,
};
pub use service::Billing;
