//! `samctl partner ...`: provisioning and lifecycle of partners.

use std::process::ExitCode;

use anyhow::Context as _;
use sam_core::tenancy::{NewPartner, Partner, PartnerSlug, SubscriptionStatus};

use crate::app::{Context, UsageError};
use crate::cli::PartnerCommand;
use crate::output::{self, Listing};

const COLUMNS: [&str; 8] = [
    "slug",
    "name",
    "tier",
    "status",
    "strategy",
    "daily quota",
    "monthly fee",
    "created",
];

fn cells(p: &Partner) -> Vec<String> {
    let status = if p.provisioned {
        p.status.to_string()
    } else {
        "provisioning".to_owned()
    };
    vec![
        p.slug.to_string(),
        p.name.clone(),
        p.tier.to_string(),
        status,
        p.strategy.to_string(),
        p.daily_quota.to_string(),
        p.monthly_fee.to_string(),
        p.created_at.format("%Y-%m-%d %H:%M").to_string(),
    ]
}

fn show(context: &Context, partner: &Partner) -> anyhow::Result<()> {
    let listing = Listing::new(COLUMNS.to_vec(), std::slice::from_ref(partner), cells)?;
    output::print(&listing, context.output)
}

pub async fn run(context: &Context, command: PartnerCommand) -> anyhow::Result<ExitCode> {
    let store = context.store().await?;
    match command {
        PartnerCommand::Create {
            slug,
            name,
            tier,
            strategy,
            daily_quota,
            monthly_fee,
            time_zone,
        } => {
            let monthly_fee = monthly_fee
                .map(|fee| {
                    fee.parse::<rust_decimal::Decimal>().with_context(|| {
                        format!("invalid --monthly-fee {fee:?}: expected an amount such as 1500.00")
                    })
                })
                .transpose()?;
            let partner = store
                .create_partner(NewPartner {
                    slug: PartnerSlug::parse(&slug)?,
                    name,
                    tier: tier.parse()?,
                    strategy: strategy.parse()?,
                    daily_quota,
                    monthly_fee,
                    time_zone: Some(time_zone),
                })
                .await?;
            show(context, &partner)?;
        }
        PartnerCommand::List => {
            let partners = store.partners().await?;
            output::print(
                &Listing::new(COLUMNS.to_vec(), &partners, cells)?,
                context.output,
            )?;
        }
        PartnerCommand::Show { slug } => {
            let partner = store.partner(&PartnerSlug::parse(&slug)?).await?;
            show(context, &partner)?;
        }
        PartnerCommand::Suspend { slug } => {
            let partner = store
                .set_partner_status(&PartnerSlug::parse(&slug)?, SubscriptionStatus::Suspended)
                .await?;
            show(context, &partner)?;
        }
        PartnerCommand::Resume { slug } => {
            let partner = store
                .set_partner_status(&PartnerSlug::parse(&slug)?, SubscriptionStatus::Active)
                .await?;
            show(context, &partner)?;
        }
        PartnerCommand::Delete { slug, yes } => {
            let slug = PartnerSlug::parse(&slug)?;
            let partner = store.partner(&slug).await?;
            if !yes {
                return Err(UsageError(format!(
                    "deleting partner {slug} removes all of its clients, users, assignments and evaluations; \
                     re-run with --yes to confirm"
                ))
                .into());
            }
            store.delete_partner(&slug).await?;
            output::note(
                context.output,
                &format!("Deleted partner {} ({})", partner.slug, partner.name),
            )?;
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
