//! Invoices per partner and month: drafts of open months, closing, and
//! adjustments of closed months.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SubsecRound, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::invoice::{compute_invoice, Adjustment, ClientUsage, InvoiceHeader};
use super::{BillingConfig, BillingError, Invoice, InvoiceStatus, LineKind};
use crate::metering::{local_day, parse_zone, Month, UsageGroup, UsageQuery};
use crate::store::{PartnerDb, Store};
use crate::tenancy::{Partner, PartnerSlug, TenancyError};

/// Computes, closes and lists invoices. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Billing {
    store: Store,
    config: BillingConfig,
}

impl Billing {
    /// Creates the billing service over `store` with the plans of `config`.
    ///
    /// # Errors
    /// [`BillingError::InvalidPlan`] when the configuration is invalid.
    pub fn new(store: Store, config: BillingConfig) -> Result<Self, BillingError> {
        config.validate()?;
        Ok(Self { store, config })
    }

    /// Creates the billing service over `store` with the built-in plan of
    /// each tier and no exchange rate, which [`BillingConfig::validate`]
    /// always accepts.
    pub fn with_built_in_plans(store: Store) -> Self {
        Self {
            store,
            config: BillingConfig::default(),
        }
    }

    /// Returns a partner's invoice for `month`: the stored invoice of a
    /// closed month, or a draft computed now from the usage rollups.
    ///
    /// # Errors
    /// [`TenancyError::NotFound`] for an unknown or unprovisioned partner,
    /// [`BillingError::BeforePartnerCreated`] for an open month that ended
    /// before the partner was created, a plan error, or a database error.
    pub async fn invoice(&self, slug: &PartnerSlug, month: Month) -> Result<Invoice, BillingError> {
        let db = self.store.partner_db_any_status(slug).await?;
        let closed = self.store.closed_invoices(slug).await?;
        // A closed invoice never changes, so one stored before the partner's
        // creation check existed is still returned as billed.
        if let Some(invoice) = closed.iter().find(|invoice| invoice.month == month) {
            return Ok(invoice.clone());
        }
        check_billed_month(db.partner(), month)?;
        self.draft(&db, month, &closed).await
    }

    /// Returns the invoice of `month` for every provisioned partner, or for
    /// `only` when given, ordered by partner slug. Without `only`, partners
    /// created after `month` ended are left out because they have no
    /// invoice for it.
    ///
    /// # Errors
    /// As [`Billing::invoice`]; with `only`, also
    /// [`BillingError::BeforePartnerCreated`].
    pub async fn invoices(
        &self,
        month: Month,
        only: Option<&PartnerSlug>,
    ) -> Result<Vec<Invoice>, BillingError> {
        let slugs = self.partner_slugs(only).await?;
        let mut invoices = Vec::with_capacity(slugs.len());
        for slug in &slugs {
            match self.invoice(slug, month).await {
                Ok(invoice) => invoices.push(invoice),
                Err(BillingError::BeforePartnerCreated { .. }) if only.is_none() => {
                    tracing::debug!(partner = %slug, month = %month, "partner created after the month; no invoice");
                }
                Err(err) => return Err(err),
            }
        }
        Ok(invoices)
    }

    /// Closes a partner's `month` now. See [`Billing::close_at`].
    ///
    /// # Errors
    /// As [`Billing::close_at`].
    pub async fn close(&self, slug: &PartnerSlug, month: Month) -> Result<Invoice, BillingError> {
        self.close_at(slug, month, Utc::now()).await
    }

    /// Closes a partner's `month` at `now`: computes its invoice, with the
    /// adjustments of earlier closed months, and stores it. A closed
    /// invoice never changes; usage recorded for the month afterwards is
    /// billed as an adjustment on the next open month.
    ///
    /// # Errors
    /// [`BillingError::MonthNotEnded`] when the month has not ended in the
    /// partner's time zone at `now`, [`BillingError::AlreadyClosed`] when
    /// it is closed already, [`BillingError::BeforePartnerCreated`] when it
    /// ended before the partner was created, or the errors of
    /// [`Billing::invoice`].
    pub async fn close_at(
        &self,
        slug: &PartnerSlug,
        month: Month,
        now: DateTime<Utc>,
    ) -> Result<Invoice, BillingError> {
        let db = self.store.partner_db_any_status(slug).await?;
        let zone = parse_zone(&db.partner().time_zone)?;
        let ends_at = month.end_in(zone);
        if now < ends_at {
            return Err(BillingError::MonthNotEnded {
                partner: slug.to_string(),
                month: month.to_string(),
                ends_at: ends_at.to_rfc3339(),
            });
        }

        let already = || BillingError::AlreadyClosed {
            partner: slug.to_string(),
            month: month.to_string(),
        };
        let closed = self.store.closed_invoices(slug).await?;
        if closed.iter().any(|invoice| invoice.month == month) {
            return Err(already());
        }
        check_billed_month(db.partner(), month)?;
        let mut invoice = self.draft(&db, month, &closed).await?;
        invoice.status = InvoiceStatus::Closed;
        // Stored times keep microseconds; trim now so the returned invoice
        // equals the stored one.
        invoice.closed_at = Some(now.trunc_subsecs(6));
        match self.store.insert_closed_invoice(&invoice).await {
            Ok(()) => {}
            Err(TenancyError::AlreadyExists { .. }) => return Err(already()),
            Err(err) => return Err(err.into()),
        }
        tracing::info!(
            partner = %slug,
            month = %month,
            total = %invoice.total,
            currency = %invoice.currency,
            "invoice closed"
        );
        Ok(invoice)
    }

    /// Returns the slugs of provisioned partners, or `only` after checking it exists.
    pub async fn partner_slugs(
        &self,
        only: Option<&PartnerSlug>,
    ) -> Result<Vec<PartnerSlug>, BillingError> {
        let partners: Vec<Partner> = match only {
            Some(slug) => vec![self.store.partner(slug).await?],
            None => self.store.partners().await?,
        };
        Ok(partners
            .into_iter()
            .filter(|partner| partner.provisioned)
            .map(|partner| partner.slug)
            .collect())
    }

    async fn draft(
        &self,
        db: &PartnerDb,
        month: Month,
        closed: &[Invoice],
    ) -> Result<Invoice, BillingError> {
        let partner = db.partner();
        let plan = self.config.plan_for(partner)?;
        let names = client_names(db).await?;
        let usage = client_usage(db, month, &names).await?;
        let adjustments = self.adjustments(db, month, closed, &names).await?;
        // NOTE: adjustments are never converted between currencies, so a
        // partner whose plan changed currency gets no draft while a closed
        // month in the old currency still needs an adjustment.
        for adjustment in &adjustments {
            let closed_currency = closed
                .iter()
                .find(|invoice| invoice.month == adjustment.month)
                .map(|invoice| invoice.currency);
            if let Some(currency) = closed_currency.filter(|c| *c != plan.currency) {
                return Err(BillingError::CurrencyChanged {
                    partner: partner.slug.to_string(),
                    month: adjustment.month.to_string(),
                    closed: currency.to_string(),
                    current: plan.currency.to_string(),
                });
            }
        }
        let header = InvoiceHeader {
            partner_id: partner.slug.as_str(),
            partner_name: &partner.name,
            month,
            plan: &plan,
            platform_usd_to_clp: self.config.usd_to_clp,
        };
        compute_invoice(&header, &usage, &adjustments)
    }

    /// Returns the corrections that `month` carries. They cover each closed
    /// month before it with no open month in between. A correction is the
    /// closed month's invoice recomputed from today's rollups, with its own
    /// stored plan, minus what its invoice and earlier adjustments billed.
    async fn adjustments(
        &self,
        db: &PartnerDb,
        month: Month,
        closed: &[Invoice],
        names: &BTreeMap<String, String>,
    ) -> Result<Vec<Adjustment>, BillingError> {
        let closed_months: BTreeSet<Month> = closed.iter().map(|invoice| invoice.month).collect();
        let mut adjustments = Vec::new();
        for invoice in closed.iter().filter(|invoice| invoice.month < month) {
            let mut between = invoice.month.next();
            let mut carried_here = true;
            while between < month {
                if !closed_months.contains(&between) {
                    carried_here = false;
                    break;
                }
                between = between.next();
            }
            if !carried_here {
                continue;
            }
            let usage = client_usage(db, invoice.month, names).await?;
            let header = InvoiceHeader {
                partner_id: &invoice.partner_id,
                partner_name: &invoice.partner_name,
                month: invoice.month,
                plan: &invoice.plan,
                platform_usd_to_clp: self.config.usd_to_clp,
            };
            let now = compute_invoice(&header, &usage, &[])?;
            if let Some(adjustment) = difference(&now, invoice, closed) {
                adjustments.push(adjustment);
            }
        }
        Ok(adjustments)
    }
}

/// Checks that `month` does not end before `partner` was created, in the
/// partner's time zone. The month of the creation itself is billed in full.
fn check_billed_month(partner: &Partner, month: Month) -> Result<(), BillingError> {
    let zone = parse_zone(&partner.time_zone)?;
    let first_month = Month::of_time(partner.created_at, zone);
    if month >= first_month {
        return Ok(());
    }
    Err(BillingError::BeforePartnerCreated {
        partner: partner.slug.to_string(),
        month: month.to_string(),
        created_on: local_day(partner.created_at, zone).to_string(),
        time_zone: partner.time_zone.clone(),
        first_month: first_month.to_string(),
    })
}

/// Returns the adjustment that brings what was billed for `billed.month`
/// (its closed invoice plus adjustments in later closed invoices) to
/// `now`, or `None` when nothing changed.
fn difference(now: &Invoice, billed: &Invoice, closed: &[Invoice]) -> Option<Adjustment> {
    let mut amounts: BTreeMap<String, (String, Decimal)> = BTreeMap::new();
    for client in &now.clients {
        amounts.insert(
            client.client_id.clone(),
            (client.client_name.clone(), client.usage_total()),
        );
    }
    let mut subtract = |client_id: &str, client_name: &str, amount: Decimal| {
        let entry = amounts
            .entry(client_id.to_owned())
            .or_insert_with(|| (client_name.to_owned(), Decimal::ZERO));
        entry.1 -= amount;
    };
    for client in &billed.clients {
        subtract(&client.client_id, &client.client_name, client.usage_total());
    }
    let mut evaluations = now.evaluations - billed.evaluations;
    for later in closed {
        for line in &later.lines {
            if line.kind == LineKind::Adjustment && line.adjusts_month == Some(billed.month) {
                evaluations -= line.quantity.trunc().to_i64().unwrap_or(0);
            }
        }
        for client in &later.clients {
            for line in &client.lines {
                if line.kind == LineKind::Adjustment && line.adjusts_month == Some(billed.month) {
                    subtract(&client.client_id, &client.client_name, line.amount);
                }
            }
        }
    }
    let clients: Vec<(String, String, Decimal)> = amounts
        .into_iter()
        .filter(|(_, (_, amount))| !amount.is_zero())
        .map(|(id, (name, amount))| (id, name, amount))
        .collect();
    if clients.is_empty() && evaluations == 0 {
        return None;
    }
    Some(Adjustment {
        month: billed.month,
        evaluations,
        clients,
    })
}

async fn client_names(db: &PartnerDb) -> Result<BTreeMap<String, String>, BillingError> {
    Ok(db
        .clients()
        .await?
        .into_iter()
        .map(|client| (client.client_id, client.name))
        .collect())
}

/// Returns each client's usage in `month`, ordered by client id.
async fn client_usage(
    db: &PartnerDb,
    month: Month,
    names: &BTreeMap<String, String>,
) -> Result<Vec<ClientUsage>, BillingError> {
    let report = db
        .usage(&UsageQuery {
            range: month.days(),
            client_id: None,
            group: UsageGroup::Client,
        })
        .await?;
    Ok(report
        .rows
        .into_iter()
        .map(|row| ClientUsage {
            client_name: names
                .get(&row.key)
                .cloned()
                .unwrap_or_else(|| row.key.clone()),
            client_id: row.key,
            totals: row.totals,
        })
        .collect())
}
