//! The tenant hierarchy (partner, client, user) and its validated names.

mod error;
mod model;
mod slug;

pub use error::TenancyError;
pub(crate) use error::{exists_or_database, is_unique_violation};
pub use model::{
    validate_id, validate_name, Client, GradeScale, InstitutionType, LlmStrategy, NewClient,
    NewPartner, NewUser, Partner, Role, SubscriptionStatus, Tier, User, MAX_ID_LEN,
};
pub use slug::{PartnerSlug, SchemaName, MAX_SLUG_LEN};
