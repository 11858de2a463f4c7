//! Price plans: one per tier in the `[billing]` configuration section,
//! with optional overrides per partner, and the rounding rule of invoice
//! lines.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use super::BillingError;
use crate::tenancy::{Partner, Tier};

/// The currency a plan bills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    /// US dollars, billed to the cent.
    #[serde(rename = "USD")]
    Usd,
    /// Chilean pesos, billed in whole pesos.
    #[serde(rename = "CLP")]
    Clp,
}

impl Currency {
    /// Returns the decimal places of the currency's smallest billed unit.
    pub fn decimals(self) -> u32 {
        match self {
            Self::Usd => 2,
            Self::Clp => 0,
        }
    }

    /// Rounds an exact amount to the currency's smallest unit, half away
    /// from zero: 0.125 USD is 0.13 and 2.5 CLP is 3. Each invoice line is
    /// rounded once, from its exact amount; nothing is rounded twice.
    pub fn round(self, amount: Decimal) -> Decimal {
        let mut rounded =
            amount.round_dp_with_strategy(self.decimals(), RoundingStrategy::MidpointAwayFromZero);
        rounded.rescale(self.decimals());
        rounded
    }

    /// Returns the ISO 4217 code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Usd => "USD",
            Self::Clp => "CLP",
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The billing rule for the provider (model) cost of the evaluations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelCost {
    /// Included in the fee and the price per evaluation; not billed apart.
    Included,
    /// Billed at the provider's cost, plus the plan's markup percentage.
    AtCost,
}

/// A tier's built-in price plan, before configuration changes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricePlan {
    /// Billing currency, `USD` or `CLP`.
    pub currency: Currency,
    /// Monthly base fee. When unset, the fee recorded on the partner
    /// (`samctl partner create --monthly-fee`, which defaults to the tier's fee).
    pub base_fee: Option<Decimal>,
    /// Evaluations per month that the base fee includes.
    pub included_evaluations: u64,
    /// Price of each evaluation beyond the included ones.
    pub price_per_evaluation: Decimal,
    /// Whether model cost is included or passed through at cost.
    pub model_cost: ModelCost,
    /// Markup on model cost passed through at cost, in percent (`20` is 20%).
    pub markup_percent: Decimal,
}

impl PricePlan {
    /// Returns the built-in plan of `tier`, in USD with the partner's
    /// recorded fee. Basic, standard, premium and enterprise include 2,000,
    /// 10,000, 30,000 and 200,000 evaluations a month and charge 0.10,
    /// 0.08, 0.06 and 0.04 USD per additional evaluation. Model cost is
    /// included, except on enterprise, which pays it at cost plus 20%.
    pub fn built_in(tier: Tier) -> Self {
        let (included, price_cents, model_cost, markup) = match tier {
            Tier::Basic => (2_000, 10, ModelCost::Included, 0),
            Tier::Standard => (10_000, 8, ModelCost::Included, 0),
            Tier::Premium => (30_000, 6, ModelCost::Included, 0),
            Tier::Enterprise => (200_000, 4, ModelCost::AtCost, 20),
        };
        Self {
            currency: Currency::Usd,
            base_fee: None,
            included_evaluations: included,
            price_per_evaluation: Decimal::new(price_cents, 2),
            model_cost,
            markup_percent: Decimal::from(markup),
        }
    }

    /// Returns this plan with every key that `settings` sets replaced.
    #[must_use]
    pub fn with(mut self, settings: &PlanSettings) -> Self {
        if let Some(currency) = settings.currency {
            self.currency = currency;
        }
        if let Some(fee) = settings.base_fee {
            self.base_fee = Some(fee);
        }
        if let Some(included) = settings.included_evaluations {
            self.included_evaluations = included;
        }
        if let Some(price) = settings.price_per_evaluation {
            self.price_per_evaluation = price;
        }
        if let Some(model_cost) = settings.model_cost {
            self.model_cost = model_cost;
        }
        if let Some(markup) = settings.markup_percent {
            self.markup_percent = markup;
        }
        self
    }
}

/// Configured changes to a plan, for a tier or for one partner; unset keys
/// keep the value underneath (the partner's tier, then the built-in plan).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlanSettings {
    /// Billing currency, `USD` or `CLP`.
    pub currency: Option<Currency>,
    /// Monthly base fee.
    pub base_fee: Option<Decimal>,
    /// Evaluations included per month.
    pub included_evaluations: Option<u64>,
    /// Price per additional evaluation.
    pub price_per_evaluation: Option<Decimal>,
    /// Model cost pass-through, `included` or `at_cost`.
    pub model_cost: Option<ModelCost>,
    /// Markup on model cost billed at cost, in percent.
    pub markup_percent: Option<Decimal>,
}

/// The configured changes to each tier's built-in plan.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TierPlans {
    /// Basic tier.
    pub basic: PlanSettings,
    /// Standard tier.
    pub standard: PlanSettings,
    /// Premium tier.
    pub premium: PlanSettings,
    /// Enterprise tier.
    pub enterprise: PlanSettings,
}

impl TierPlans {
    /// Returns the settings of `tier`.
    pub fn get(&self, tier: Tier) -> &PlanSettings {
        match tier {
            Tier::Basic => &self.basic,
            Tier::Standard => &self.standard,
            Tier::Premium => &self.premium,
            Tier::Enterprise => &self.enterprise,
        }
    }
}

/// The `[billing]` configuration section.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BillingConfig {
    /// Chilean pesos per US dollar, used to bill USD provider cost on CLP
    /// plans. Required only by CLP plans that bill model cost at cost.
    pub usd_to_clp: Option<Decimal>,
    /// Changes to each tier's built-in plan.
    pub tiers: TierPlans,
    /// Changes for single partners, keyed by partner slug.
    pub partners: BTreeMap<String, PlanSettings>,
}

/// The plan that bills one partner: its tier's plan with its overrides
/// applied and the partner's fee filled in. A closed invoice stores it, so
/// later configuration changes never alter a closed month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedPlan {
    /// The tier the plan came from.
    pub tier: Tier,
    /// Billing currency.
    pub currency: Currency,
    /// Monthly base fee.
    pub base_fee: Decimal,
    /// Evaluations included per month.
    pub included_evaluations: u64,
    /// Price per additional evaluation.
    pub price_per_evaluation: Decimal,
    /// Model cost pass-through.
    pub model_cost: ModelCost,
    /// Markup on model cost, in percent.
    pub markup_percent: Decimal,
    /// CLP per USD applied to provider cost; set on CLP plans that bill it.
    pub usd_to_clp: Option<Decimal>,
}

fn non_negative(key: String, value: Decimal) -> Result<(), BillingError> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(BillingError::InvalidPlan {
            key,
            reason: format!("{value} is negative; use zero or more"),
        });
    }
    Ok(())
}

fn validate_settings(prefix: &str, settings: &PlanSettings) -> Result<(), BillingError> {
    for (field, value) in [
        ("base_fee", settings.base_fee),
        ("price_per_evaluation", settings.price_per_evaluation),
        ("markup_percent", settings.markup_percent),
    ] {
        if let Some(value) = value {
            non_negative(format!("{prefix}.{field}"), value)?;
        }
    }
    Ok(())
}

impl BillingConfig {
    /// Checks every amount in the section: none may be negative, and the
    /// exchange rate, when set, must be positive.
    ///
    /// # Errors
    /// [`BillingError::InvalidPlan`] naming the first bad key.
    pub fn validate(&self) -> Result<(), BillingError> {
        if let Some(rate) = self.usd_to_clp {
            if rate <= Decimal::ZERO {
                return Err(BillingError::InvalidPlan {
                    key: "usd_to_clp".to_owned(),
                    reason: format!("{rate} is not a positive number of CLP per USD"),
                });
            }
        }
        for tier in Tier::ALL {
            validate_settings(&format!("tiers.{tier}"), self.tiers.get(*tier))?;
        }
        for (slug, settings) in &self.partners {
            validate_settings(&format!("partners.{slug}"), settings)?;
        }
        Ok(())
    }

    /// Returns the plan that bills `partner` now.
    ///
    /// # Errors
    /// [`BillingError::MissingExchangeRate`] for a CLP plan that bills
    /// model cost at cost while `usd_to_clp` is unset.
    pub fn plan_for(&self, partner: &Partner) -> Result<ResolvedPlan, BillingError> {
        let mut plan = PricePlan::built_in(partner.tier).with(self.tiers.get(partner.tier));
        if let Some(settings) = self.partners.get(partner.slug.as_str()) {
            plan = plan.with(settings);
        }
        let usd_to_clp = match (plan.currency, plan.model_cost) {
            (Currency::Clp, ModelCost::AtCost) => {
                Some(
                    self.usd_to_clp
                        .ok_or_else(|| BillingError::MissingExchangeRate {
                            partner: partner.slug.to_string(),
                        })?,
                )
            }
            _ => None,
        };
        Ok(ResolvedPlan {
            tier: partner.tier,
            currency: plan.currency,
            base_fee: plan.base_fee.unwrap_or(partner.monthly_fee),
            included_evaluations: plan.included_evaluations,
            price_per_evaluation: plan.price_per_evaluation,
            model_cost: plan.model_cost,
            markup_percent: plan.markup_percent,
            usd_to_clp,
        })
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn usd_rounds_half_away_from_zero() {
        assert_eq!(Currency::Usd.round(dec!(0.125)).to_string(), "0.13");
        assert_eq!(Currency::Usd.round(dec!(0.124999)).to_string(), "0.12");
        assert_eq!(Currency::Usd.round(dec!(-0.125)).to_string(), "-0.13");
        assert_eq!(Currency::Usd.round(dec!(7)).to_string(), "7.00");
    }

    #[test]
    fn clp_rounds_to_whole_pesos() {
        assert_eq!(Currency::Clp.round(dec!(2.5)).to_string(), "3");
        assert_eq!(Currency::Clp.round(dec!(2.4999)).to_string(), "2");
        assert_eq!(Currency::Clp.round(dec!(1000.00)).to_string(), "1000");
    }

    #[test]
    fn default_plans_are_valid() {
        BillingConfig::default().validate().unwrap();
    }

    #[test]
    fn negative_price_names_key() {
        let mut config = BillingConfig::default();
        config.tiers.standard.price_per_evaluation = Some(dec!(-0.01));
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("tiers.standard.price_per_evaluation"), "{err}");
    }

    fn partner(slug: &str, tier: Tier) -> Partner {
        Partner {
            id: uuid::Uuid::nil(),
            slug: crate::tenancy::PartnerSlug::parse(slug).unwrap(),
            name: slug.to_owned(),
            tier,
            status: crate::tenancy::SubscriptionStatus::Active,
            monthly_fee: dec!(750),
            daily_quota: 1,
            strategy: crate::tenancy::LlmStrategy::CostOptimized,
            time_zone: "America/Santiago".to_owned(),
            provisioned: true,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn plan_layers_tier_then_partner() {
        let mut config = BillingConfig::default();
        config.tiers.standard.included_evaluations = Some(500);
        config.tiers.standard.price_per_evaluation = Some(dec!(0.09));
        config.partners.insert(
            "aptus".to_owned(),
            PlanSettings {
                price_per_evaluation: Some(dec!(0.07)),
                base_fee: Some(dec!(1200)),
                ..PlanSettings::default()
            },
        );
        let aptus = config.plan_for(&partner("aptus", Tier::Standard)).unwrap();
        assert_eq!(aptus.included_evaluations, 500);
        assert_eq!(aptus.price_per_evaluation, dec!(0.07));
        assert_eq!(aptus.base_fee, dec!(1200));
        let other = config.plan_for(&partner("other", Tier::Standard)).unwrap();
        assert_eq!(other.price_per_evaluation, dec!(0.09));
        assert_eq!(other.base_fee, dec!(750), "the partner's recorded fee");
        let basic = config.plan_for(&partner("other", Tier::Basic)).unwrap();
        assert_eq!(basic, {
            let built_in = PricePlan::built_in(Tier::Basic);
            ResolvedPlan {
                tier: Tier::Basic,
                currency: built_in.currency,
                base_fee: dec!(750),
                included_evaluations: built_in.included_evaluations,
                price_per_evaluation: built_in.price_per_evaluation,
                model_cost: built_in.model_cost,
                markup_percent: built_in.markup_percent,
                usd_to_clp: None,
            }
        });
    }

    #[test]
    fn clp_at_cost_needs_exchange_rate() {
        let mut config = BillingConfig::default();
        config.tiers.enterprise.currency = Some(Currency::Clp);
        let enterprise = partner("aptus", Tier::Enterprise);
        let err = config.plan_for(&enterprise).unwrap_err();
        assert!(
            matches!(err, BillingError::MissingExchangeRate { .. }),
            "{err}"
        );
        config.usd_to_clp = Some(dec!(950));
        let plan = config.plan_for(&enterprise).unwrap();
        assert_eq!(plan.usd_to_clp, Some(dec!(950)));
        assert_eq!(plan.model_cost, ModelCost::AtCost);
    }

    #[test]
    fn zero_exchange_rate_rejected() {
        let config = BillingConfig {
            usd_to_clp: Some(Decimal::ZERO),
            ..BillingConfig::default()
        };
        assert!(config.validate().is_err());
    }
}
