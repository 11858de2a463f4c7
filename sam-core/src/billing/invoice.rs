//! Invoice types and the computation of one partner's invoice for one
//! month from its usage per client.
//!
//! Each line's amount is computed exactly and rounded once, half away from
//! zero, to the currency's smallest unit (see [`Currency::round`]). The
//! line is then split among the clients in whole smallest units by the
//! largest-remainder method (see `allocate`). The base fee, the included
//! allowance and the overage are split in proportion to each client's
//! evaluations. Model cost and its markup are split in proportion to each
//! client's provider cost. So every line's client parts add up to the
//! line, and the client totals add up to the partner's total exactly.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::allocate::allocate;
use super::plan::{Currency, ModelCost, ResolvedPlan};
use super::BillingError;
use crate::metering::{nanos_to_usd, Month, UsageTotals};

/// The client id of the part of a line that no client's usage can carry,
/// such as the base fee of a month without evaluations. No real client id
/// can contain parentheses.
pub const UNALLOCATED_CLIENT: &str = "(unallocated)";

/// The kind of charge on an invoice line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// The monthly base fee.
    BaseFee,
    /// The evaluations the base fee includes; always zero amount.
    IncludedAllowance,
    /// Evaluations beyond the included ones.
    Overage,
    /// Provider cost passed through at cost.
    ModelCost,
    /// The markup on provider cost passed through.
    ModelMarkup,
    /// A correction of a closed month.
    Adjustment,
}

impl LineKind {
    /// Returns the stored and exported name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BaseFee => "base_fee",
            Self::IncludedAllowance => "included_allowance",
            Self::Overage => "overage",
            Self::ModelCost => "model_cost",
            Self::ModelMarkup => "model_markup",
            Self::Adjustment => "adjustment",
        }
    }
}

/// One line of a partner's invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    /// The kind of charge.
    pub kind: LineKind,
    /// A sentence explaining how the amount was computed.
    pub description: String,
    /// Evaluations, or USD of provider cost for model cost lines.
    pub quantity: Decimal,
    /// Price per unit of `quantity`, when the line has one.
    pub unit_price: Option<Decimal>,
    /// Amount in the invoice currency, rounded once.
    pub amount: Decimal,
    /// The closed month an adjustment corrects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjusts_month: Option<Month>,
}

/// A client's part of one invoice line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientLine {
    /// The partner line this part belongs to.
    pub kind: LineKind,
    /// The closed month an adjustment corrects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjusts_month: Option<Month>,
    /// The client's share of the line's amount.
    pub amount: Decimal,
}

/// One client's part of a partner's invoice, for re-billing the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInvoice {
    /// Client id, or [`UNALLOCATED_CLIENT`].
    pub client_id: String,
    /// Client display name, as it was when the invoice was computed.
    pub client_name: String,
    /// The client's evaluations in the month.
    pub evaluations: i64,
    /// The client's part of each partner line, in the partner's line order.
    pub lines: Vec<ClientLine>,
    /// The sum of `lines`.
    pub total: Decimal,
}

impl ClientInvoice {
    /// Returns the client's total without adjustment lines: what the month
    /// itself billed the client.
    pub fn usage_total(&self) -> Decimal {
        self.lines
            .iter()
            .filter(|line| line.kind != LineKind::Adjustment)
            .map(|line| line.amount)
            .sum()
    }
}

/// Whether an invoice may still change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InvoiceStatus {
    /// The month is open; the invoice is recomputed on every read.
    Draft,
    /// The month is closed; the invoice is stored and never changes.
    Closed,
}

impl InvoiceStatus {
    /// Returns the displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Closed => "closed",
        }
    }
}

/// The platform's provider cost for the month's evaluations and its margin.
/// It is for super admins only, so drop it with [`Invoice::without_platform`]
/// before showing an invoice to a partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformEconomics {
    /// Provider cost of the month's evaluations, in nanos of USD.
    pub provider_cost_nanos: i64,
    /// The same cost as an exact amount of USD.
    pub provider_cost_usd: Decimal,
    /// The cost in the invoice currency, rounded like a line; unknown for a
    /// CLP invoice when no exchange rate is configured.
    pub provider_cost: Option<Decimal>,
    /// Invoice total minus provider cost.
    pub margin: Option<Decimal>,
    /// Margin as a percentage of the invoice total, to two decimals.
    pub margin_percent: Option<Decimal>,
}

/// One partner's invoice for one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    /// Partner slug.
    pub partner_id: String,
    /// Partner display name.
    pub partner_name: String,
    /// Billing month, in the partner's time zone.
    pub month: Month,
    /// Draft or closed.
    pub status: InvoiceStatus,
    /// Invoice currency.
    pub currency: Currency,
    /// The plan that priced the month.
    pub plan: ResolvedPlan,
    /// Evaluations in the month.
    pub evaluations: i64,
    /// The partner's lines.
    pub lines: Vec<InvoiceLine>,
    /// The sum of `lines`.
    pub total: Decimal,
    /// The lines split per client; client totals add up to `total`.
    pub clients: Vec<ClientInvoice>,
    /// When the month was closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// The platform's cost and margin; omitted for partners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<PlatformEconomics>,
}

impl Invoice {
    /// Returns the invoice without the platform's cost and margin.
    #[must_use]
    pub fn without_platform(mut self) -> Self {
        self.platform = None;
        self
    }

    /// Returns the provider cost of the month in nanos of USD, if the
    /// platform part is present.
    pub fn provider_cost_nanos(&self) -> Option<i64> {
        self.platform.as_ref().map(|p| p.provider_cost_nanos)
    }
}

/// One client's part of a partner's invoice, as shown to the client's admin:
/// the client's own amounts only. It leaves out the partner's lines, whose
/// quantities and descriptions count every client's evaluations, the price
/// plan, the other clients and the platform's cost and margin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientStatement {
    /// Partner slug.
    pub partner_id: String,
    /// Billing month, in the partner's time zone.
    pub month: Month,
    /// Draft or closed, as the partner's invoice.
    pub status: InvoiceStatus,
    /// Invoice currency.
    pub currency: Currency,
    /// When the month was closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Client id.
    pub client_id: String,
    /// Client display name.
    pub client_name: String,
    /// The client's evaluations in the month.
    pub evaluations: i64,
    /// The client's part of each partner line, in the partner's line order;
    /// empty when the client has no part in the invoice.
    pub lines: Vec<ClientLine>,
    /// The sum of `lines`.
    pub total: Decimal,
}

impl Invoice {
    /// Returns the statement of client `client_id`. A client with no part
    /// in the invoice, such as one without evaluations in a month whose
    /// base fee went unallocated, gets a statement with no lines and a zero
    /// total under the name `client_name`.
    pub fn client_statement(&self, client_id: &str, client_name: &str) -> ClientStatement {
        let part = self
            .clients
            .iter()
            .find(|client| client.client_id == client_id);
        ClientStatement {
            partner_id: self.partner_id.clone(),
            month: self.month,
            status: self.status,
            currency: self.currency,
            closed_at: self.closed_at,
            client_id: client_id.to_owned(),
            client_name: part.map_or_else(|| client_name.to_owned(), |c| c.client_name.clone()),
            evaluations: part.map_or(0, |c| c.evaluations),
            lines: part.map(|c| c.lines.clone()).unwrap_or_default(),
            total: part.map_or(Decimal::new(0, self.currency.decimals()), |c| c.total),
        }
    }
}

/// One client's usage in the month being billed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientUsage {
    pub(crate) client_id: String,
    pub(crate) client_name: String,
    pub(crate) totals: UsageTotals,
}

/// A correction of one closed month, already split per client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Adjustment {
    pub(crate) month: Month,
    /// Evaluations recorded for the month since it closed.
    pub(crate) evaluations: i64,
    /// Client id, client name and amount, ordered by client id.
    pub(crate) clients: Vec<(String, String, Decimal)>,
}

/// The partner, month and plan an invoice is computed for.
#[derive(Debug, Clone)]
pub(crate) struct InvoiceHeader<'a> {
    pub(crate) partner_id: &'a str,
    pub(crate) partner_name: &'a str,
    pub(crate) month: Month,
    pub(crate) plan: &'a ResolvedPlan,
    /// CLP per USD for the platform's cost on CLP invoices.
    pub(crate) platform_usd_to_clp: Option<Decimal>,
}

/// Accumulates lines and their client parts.
struct Builder {
    currency: Currency,
    lines: Vec<InvoiceLine>,
    clients: BTreeMap<String, ClientInvoice>,
}

impl Builder {
    /// Adds `line`, split among `clients` by `weights`; a split that no
    /// weight can carry goes to [`UNALLOCATED_CLIENT`].
    fn push(&mut self, line: InvoiceLine, clients: &[ClientUsage], weights: &[u128]) {
        let parts = allocate(line.amount, self.currency.decimals(), weights);
        match parts {
            Some(parts) => {
                for (client, amount) in clients.iter().zip(parts) {
                    self.add_part(&client.client_id, &client.client_name, &line, amount);
                }
            }
            None => self.add_part(UNALLOCATED_CLIENT, UNALLOCATED_CLIENT, &line, line.amount),
        }
        self.lines.push(line);
    }

    fn add_part(
        &mut self,
        client_id: &str,
        client_name: &str,
        line: &InvoiceLine,
        amount: Decimal,
    ) {
        let entry = self
            .clients
            .entry(client_id.to_owned())
            .or_insert_with(|| ClientInvoice {
                client_id: client_id.to_owned(),
                client_name: client_name.to_owned(),
                evaluations: 0,
                lines: Vec::new(),
                total: Decimal::new(0, self.currency.decimals()),
            });
        entry.lines.push(ClientLine {
            kind: line.kind,
            adjusts_month: line.adjusts_month,
            amount,
        });
        entry.total += amount;
    }
}

fn weights(clients: &[ClientUsage], weight: impl Fn(&UsageTotals) -> i64) -> Vec<u128> {
    clients
        .iter()
        .map(|c| u128::try_from(weight(&c.totals)).unwrap_or(0))
        .collect()
}

/// Computes the invoice of `header` from each client's usage (ordered by
/// client id) and the adjustments of earlier closed months. The result is
/// a draft; closing sets its status and time.
pub(crate) fn compute_invoice(
    header: &InvoiceHeader<'_>,
    clients: &[ClientUsage],
    adjustments: &[Adjustment],
) -> Result<Invoice, BillingError> {
    let plan = header.plan;
    let currency = plan.currency;
    let mut totals = UsageTotals::default();
    for client in clients {
        totals.add(&client.totals)?;
    }
    let by_events = weights(clients, |t| t.events);
    let by_cost = weights(clients, |t| t.cost_nanos);
    let mut builder = Builder {
        currency,
        lines: Vec::new(),
        clients: BTreeMap::new(),
    };

    builder.push(
        InvoiceLine {
            kind: LineKind::BaseFee,
            description: format!("Monthly base fee ({} plan)", plan.tier),
            quantity: Decimal::ONE,
            unit_price: Some(plan.base_fee),
            amount: currency.round(plan.base_fee),
            adjusts_month: None,
        },
        clients,
        &by_events,
    );
    let evaluations = u64::try_from(totals.events).unwrap_or(0);
    let included_used = evaluations.min(plan.included_evaluations);
    builder.push(
        InvoiceLine {
            kind: LineKind::IncludedAllowance,
            description: format!(
                "Evaluations included in the base fee: {included_used} used of {}",
                plan.included_evaluations
            ),
            quantity: Decimal::from(included_used),
            unit_price: None,
            amount: Decimal::new(0, currency.decimals()),
            adjusts_month: None,
        },
        clients,
        &by_events,
    );
    let extra = evaluations - included_used;
    let overage = Decimal::from(extra)
        .checked_mul(plan.price_per_evaluation)
        .ok_or(BillingError::Overflow { what: "overage" })?;
    builder.push(
        InvoiceLine {
            kind: LineKind::Overage,
            description: format!(
                "Evaluations beyond the included {}: {extra} at {} {currency} each",
                plan.included_evaluations, plan.price_per_evaluation
            ),
            quantity: Decimal::from(extra),
            unit_price: Some(plan.price_per_evaluation),
            amount: currency.round(overage),
            adjusts_month: None,
        },
        clients,
        &by_events,
    );

    if plan.model_cost == ModelCost::AtCost {
        let cost_usd = totals.cost_usd();
        let (cost, rate_note) = match (currency, plan.usd_to_clp) {
            (Currency::Clp, Some(rate)) => (
                cost_usd
                    .checked_mul(rate)
                    .ok_or(BillingError::Overflow { what: "model cost" })?,
                format!(" at {rate} CLP per USD"),
            ),
            _ => (cost_usd, String::new()),
        };
        builder.push(
            InvoiceLine {
                kind: LineKind::ModelCost,
                description: format!("Model cost at provider prices: {cost_usd} USD{rate_note}"),
                quantity: cost_usd,
                unit_price: plan.usd_to_clp.filter(|_| currency == Currency::Clp),
                amount: currency.round(cost),
                adjusts_month: None,
            },
            clients,
            &by_cost,
        );
        if !plan.markup_percent.is_zero() {
            let markup = cost
                .checked_mul(plan.markup_percent)
                .ok_or(BillingError::Overflow {
                    what: "model markup",
                })?
                / Decimal::ONE_HUNDRED;
            builder.push(
                InvoiceLine {
                    kind: LineKind::ModelMarkup,
                    description: format!(
                        "Markup of {}% on model cost of {} {currency}",
                        plan.markup_percent, cost
                    ),
                    quantity: cost,
                    unit_price: Some(plan.markup_percent / Decimal::ONE_HUNDRED),
                    amount: currency.round(markup),
                    adjusts_month: None,
                },
                clients,
                &by_cost,
            );
        }
    }

    for adjustment in adjustments {
        push_adjustment(&mut builder, adjustment);
    }
    for client in clients {
        if let Some(entry) = builder.clients.get_mut(&client.client_id) {
            entry.evaluations = client.totals.events;
        }
    }

    let total: Decimal = builder.lines.iter().map(|line| line.amount).sum();
    let mut client_invoices: Vec<ClientInvoice> = builder.clients.into_values().collect();
    // The unallocated part, if any, goes last.
    client_invoices.sort_by_key(|c| (c.client_id == UNALLOCATED_CLIENT, c.client_id.clone()));
    Ok(Invoice {
        partner_id: header.partner_id.to_owned(),
        partner_name: header.partner_name.to_owned(),
        month: header.month,
        status: InvoiceStatus::Draft,
        currency,
        plan: plan.clone(),
        evaluations: totals.events,
        lines: builder.lines,
        total,
        clients: client_invoices,
        closed_at: None,
        platform: Some(platform(header, &totals, total)),
    })
}

fn push_adjustment(builder: &mut Builder, adjustment: &Adjustment) {
    let amount: Decimal = adjustment.clients.iter().map(|(_, _, a)| *a).sum();
    let line = InvoiceLine {
        kind: LineKind::Adjustment,
        description: format!(
            "Adjustment for {}: {} evaluations recorded after it closed",
            adjustment.month, adjustment.evaluations
        ),
        quantity: Decimal::from(adjustment.evaluations),
        unit_price: None,
        amount: builder.currency.round(amount),
        adjusts_month: Some(adjustment.month),
    };
    for (client_id, client_name, part) in &adjustment.clients {
        builder.add_part(client_id, client_name, &line, *part);
    }
    builder.lines.push(line);
}

fn platform(header: &InvoiceHeader<'_>, totals: &UsageTotals, total: Decimal) -> PlatformEconomics {
    let currency = header.plan.currency;
    let cost_usd = totals.cost_usd();
    let provider_cost = match currency {
        Currency::Usd => Some(currency.round(cost_usd)),
        Currency::Clp => header
            .plan
            .usd_to_clp
            .or(header.platform_usd_to_clp)
            .and_then(|rate| cost_usd.checked_mul(rate))
            .map(|cost| currency.round(cost)),
    };
    let margin = provider_cost.map(|cost| total - cost);
    let margin_percent = margin.filter(|_| !total.is_zero()).map(|margin| {
        (margin * Decimal::ONE_HUNDRED / total)
            .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
    });
    PlatformEconomics {
        provider_cost_nanos: totals.cost_nanos,
        provider_cost_usd: nanos_to_usd(totals.cost_nanos),
        provider_cost,
        margin,
        margin_percent,
    }
}
