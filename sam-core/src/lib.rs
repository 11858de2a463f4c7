//! SAM evaluates student work against an assignment's rubric with large
//! language models, for partners who resell it to schools and universities.
//!
//! # Embedding SAM
//!
//! An application such as an LMS adapter embeds SAM through a [`Sam`]
//! handle. [`Sam::builder`] picks the store: [`embedded`](SamBuilder::embedded)
//! keeps every partner's data in its own SQLite file inside a folder, with
//! no server to run, and [`database_url`](SamBuilder::database_url) uses
//! PostgreSQL with one schema per partner. [`init(true)`](SamBuilder::init)
//! creates the store or applies pending migrations; without it, `build`
//! only opens a store that exists.
//!
//! The evaluator comes from a [`SamConfig`](config::SamConfig) as in
//! `samctl`: the LLM router over the providers of its `llm` section, behind
//! the cache of its `cache` section, or the offline rubric scorer when no
//! provider is configured, which is the default and needs no network.
//! [`SamBuilder::evaluator`] injects any other [`Evaluator`](eval::Evaluator).
//!
//! The data is organised as partners (the tenants who resell SAM), their
//! clients (schools, faculties), the clients' assignments with a rubric,
//! and one evaluation per submission. An evaluation starts as a draft;
//! [`Sam::approve`] or [`Sam::override_score`] records the teacher's review.
//! Evaluating the same submission again returns the stored evaluation, so
//! an adapter may retry a webhook without grading or billing twice. Every
//! operation returns [`Error`], whose variants tell the caller whether to
//! fix the input, look up another id, or retry later.
//!
//! ```
//! use sam_core::eval::{AssignmentInput, SubmissionInput};
//! use sam_core::tenancy::{
//!     GradeScale, InstitutionType, LlmStrategy, NewClient, NewPartner, PartnerSlug, Tier,
//! };
//! use sam_core::Sam;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let home = tempfile::tempdir()?;
//!     let sam = Sam::builder().embedded(home.path()).init(true).build().await?;
//!
//!     sam.create_partner(NewPartner {
//!         slug: PartnerSlug::parse("aptus")?,
//!         name: "Aptus".to_owned(),
//!         tier: Tier::Basic,
//!         strategy: LlmStrategy::CostOptimized,
//!         daily_quota: None,
//!         monthly_fee: None,
//!         time_zone: None,
//!     })
//!     .await?;
//!     sam.ensure_client(
//!         "aptus",
//!         NewClient {
//!             client_id: "colegio1".to_owned(),
//!             name: "Colegio San José".to_owned(),
//!             institution_type: InstitutionType::K12,
//!             students_count: 900,
//!             teachers_count: 40,
//!             grade_scale: GradeScale::default(),
//!         },
//!     )
//!     .await?;
//!     sam.register_assignment(
//!         "aptus",
//!         "colegio1",
//!         AssignmentInput {
//!             id: "tarea1".to_owned(),
//!             title: Some("Fotosíntesis".to_owned()),
//!             prompt: "Explica qué es la fotosíntesis.".to_owned(),
//!             reference_answer: Some(
//!                 "Las plantas transforman luz, agua y CO2 en glucosa y oxígeno.".to_owned(),
//!             ),
//!             max_points: 7.0,
//!             language: Some("es".to_owned()),
//!             rubric: None,
//!         },
//!     )
//!     .await?;
//!
//!     let submission = SubmissionInput {
//!         submission_id: "s1".to_owned(),
//!         assignment_id: "tarea1".to_owned(),
//!         student_id: "est_ana".to_owned(),
//!         text: "Las plantas usan la luz, el agua y el CO2 para hacer glucosa y oxígeno."
//!             .to_owned(),
//!     };
//!     let evaluation = sam.evaluate("aptus", "colegio1", None, submission.clone()).await?;
//!     assert!(evaluation.score <= evaluation.max_points);
//!     println!("{} / {} points, grade {:.1}", evaluation.score, evaluation.max_points, evaluation.grade);
//!
//!     // A retried webhook gets the stored evaluation back.
//!     let again = sam.evaluate("aptus", "colegio1", None, submission).await?;
//!     assert_eq!(again.id, evaluation.id);
//!     Ok(())
//! }
//! ```

#![deny(missing_docs)]

pub mod auth;
pub mod billing;
pub mod cache;
pub mod config;
pub mod engine;
mod error;
pub mod eval;
pub mod export;
pub mod limits;
pub mod llm;
pub mod metering;
mod sdk;
pub mod store;
pub mod tenancy;

pub use error::Error;
pub use sdk::{Sam, SamBuilder};
