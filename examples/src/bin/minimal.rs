//! The smallest embedding of SAM: open an embedded store, create a partner,
//! a client and an assignment, evaluate three submissions and print them.
//!
//! `minimal [HOME_DIR]` keeps the store in HOME_DIR, or in a temporary
//! folder that is removed on exit. Running it again on the same folder
//! returns the stored evaluations instead of grading them again.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use sam_core::eval::{AssignmentInput, SubmissionInput};
use sam_core::Sam;
use sam_examples::{ensure_partner, ensure_school};

/// Evaluate three submissions in an embedded SAM store.
#[derive(Debug, Parser)]
struct Args {
    /// SAM home folder; a temporary folder when not given.
    home: Option<PathBuf>,
}

const PARTNER: &str = "demo";
const CLIENT: &str = "colegio_demo";
const ASSIGNMENT: &str = "fotosintesis";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let temporary = match args.home {
        Some(_) => None,
        None => Some(tempfile::tempdir().context("cannot create a temporary folder")?),
    };
    let home = match (&args.home, &temporary) {
        (Some(home), _) => home.clone(),
        (None, Some(dir)) => dir.path().to_path_buf(),
        (None, None) => anyhow::bail!("no SAM home folder"),
    };

    let sam = Sam::builder().embedded(&home).init(true).build().await?;
    ensure_partner(&sam, PARTNER).await?;
    ensure_school(&sam, PARTNER, CLIENT).await?;
    sam.register_assignment(
        PARTNER,
        CLIENT,
        AssignmentInput {
            id: ASSIGNMENT.to_owned(),
            title: Some("Fotosíntesis".to_owned()),
            prompt: "Explica qué es la fotosíntesis y qué produce.".to_owned(),
            reference_answer: Some(
                "Las plantas usan la luz del sol, el agua y el dióxido de carbono para \
                 producir glucosa y liberar oxígeno."
                    .to_owned(),
            ),
            max_points: 7.0,
            language: Some("es".to_owned()),
            rubric: None,
        },
    )
    .await?;

    let answers = [
        ("s1", "est_ana", "Las plantas usan la luz del sol, el agua y el dióxido de carbono para producir glucosa y liberan oxígeno."),
        ("s2", "est_benja", "Es cuando las plantas comen luz."),
        ("s3", "est_carla", "No sé."),
    ];
    let mut out = std::io::stdout().lock();
    writeln!(out, "store: {}", sam.store().describe())?;
    for (submission_id, student_id, text) in answers {
        let input = SubmissionInput {
            submission_id: submission_id.to_owned(),
            assignment_id: ASSIGNMENT.to_owned(),
            student_id: student_id.to_owned(),
            text: text.to_owned(),
        };
        let evaluation = sam.evaluate(PARTNER, CLIENT, None, input).await?;
        writeln!(
            out,
            "{submission_id} {student_id}: {:.2}/{} points, grade {:.1}, {} ({})",
            evaluation.score,
            evaluation.max_points,
            evaluation.grade,
            evaluation.status.as_str(),
            evaluation.overall_feedback,
        )?;
    }
    sam.close().await;
    Ok(())
}
