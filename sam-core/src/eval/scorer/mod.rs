//! The offline rubric scorer: grades a submission by the weighted key terms
//! of the reference answer and the rubric it covers, with no model and no
//! network. It is the fallback when every model fails, and a baseline.

mod feedback;
mod key_terms;
mod restatement;
mod text;

use std::collections::BTreeSet;

use async_trait::async_trait;

pub use text::{fold_diacritics, strip_html_tags, TextAnalyzer, Token};

use self::feedback::CriterionOutcome;
use self::key_terms::{Coverage, GenericWords, KeyTerm, SubmissionStems};
use super::guard::looks_like_prompt_injection;
use super::{
    Assignment, Criterion, CriterionScore, Evaluator, EvaluatorError, Grading, GradingRequest,
    Language, TokenUsage, FLAG_NEEDS_TEACHER_GRADING, FLAG_PROMPT_INJECTION,
};

/// The model name the offline scorer reports.
pub const OFFLINE_MODEL: &str = "sam-offline-rubric-v1";

/// The provider name the offline scorer reports.
pub const OFFLINE_PROVIDER: &str = "offline";

/// Steepness of the curve from key-term coverage to points, see
/// [`criterion_points`].
///
/// NOTE: 3 was chosen among 2 to 6 by agreement with human graders on the
/// UNT computer-science short answers, the same data the agreement
/// benchmark reports on, so that benchmark overstates it somewhat.
const COVERAGE_STEEPNESS: f64 = 3.0;

/// Grades submissions by key-term coverage. Build it once, because it
/// contains the stemmers and stopword sets. Grading is deterministic.
///
/// NOTE: the scorer reads words, not sentences. A bare list of the right
/// words scores like a full answer, and a correct paraphrase in other words
/// scores low, so its gradings need a teacher's review.
#[derive(Debug)]
pub struct OfflineScorer {
    analyzer: TextAnalyzer,
    generic_words: GenericWords,
}

impl Default for OfflineScorer {
    fn default() -> Self {
        Self::new()
    }
}

impl OfflineScorer {
    /// Builds the scorer with its English and Spanish text analysers.
    pub fn new() -> Self {
        let analyzer = TextAnalyzer::new();
        let generic_words = GenericWords::new(&analyzer);
        Self {
            analyzer,
            generic_words,
        }
    }

    /// Grades `text` against `assignment`. Each criterion earns points in
    /// `0..=criterion.points`, snapped to the nearest level when the
    /// criterion has levels. Sets [`FLAG_PROMPT_INJECTION`] when the text
    /// looks addressed to the grader. The flag does not change the points,
    /// because the scorer reads only key terms and never follows
    /// instructions.
    pub fn score(&self, assignment: &Assignment, text: &str) -> Grading {
        let language = assignment.language;
        let answer_tokens = self.analyzer.tokens(text, language);
        let submission = SubmissionStems::new(&answer_tokens);
        let prompt_tokens = self.analyzer.tokens(&assignment.prompt, language);
        let prompt_stems: BTreeSet<&str> = prompt_tokens.iter().map(|t| t.stem.as_str()).collect();
        let reference_tokens = assignment
            .reference_answer
            .as_deref()
            .map(|reference| self.analyzer.tokens(reference, language))
            .unwrap_or_default();

        let key_terms: Vec<Vec<KeyTerm>> = assignment
            .rubric
            .criteria
            .iter()
            .map(|criterion| {
                key_terms::criterion_key_terms(
                    &reference_tokens,
                    criterion,
                    &prompt_stems,
                    &self.analyzer,
                    &self.generic_words,
                    language,
                )
            })
            .collect();
        let copies_prompt = restatement::copies_prompt(
            &assignment.prompt,
            &prompt_stems,
            submission.stems(),
            &self.analyzer,
            language,
        );
        let coverages: Vec<Coverage<'_>> = key_terms
            .iter()
            .map(|terms| key_terms::coverage(terms, &submission, &prompt_stems, copies_prompt))
            .collect();
        let outcomes: Vec<CriterionOutcome<'_>> = key_terms
            .iter()
            .zip(&coverages)
            .map(|(terms, coverage)| {
                if submission.is_empty() {
                    CriterionOutcome::EmptySubmission
                } else if terms.is_empty() {
                    CriterionOutcome::NoKeyTerms
                } else {
                    CriterionOutcome::Compared(coverage)
                }
            })
            .collect();

        let criteria: Vec<CriterionScore> = assignment
            .rubric
            .criteria
            .iter()
            .zip(&outcomes)
            .map(|(criterion, outcome)| criterion_score(criterion, outcome, language))
            .collect();
        let injection_suspected = looks_like_prompt_injection(text);
        let mut overall_feedback = if submission.is_empty() {
            feedback::criterion_feedback(&CriterionOutcome::EmptySubmission, language)
        } else if key_terms.iter().all(Vec::is_empty) {
            feedback::criterion_feedback(&CriterionOutcome::NoKeyTerms, language)
        } else {
            feedback::overall_feedback(
                &coverages,
                criteria.iter().map(|c| c.points).sum(),
                assignment.max_points,
                !reference_tokens.is_empty(),
                language,
            )
        };
        if coverages
            .iter()
            .any(|coverage| coverage.prompt_terms_ignored)
        {
            overall_feedback.push_str(feedback::copied_prompt_note(language));
        }
        if injection_suspected {
            overall_feedback.push_str(feedback::injection_note(language));
        }

        let mut grading = Grading {
            criteria,
            overall_feedback,
            flags: Vec::new(),
            model: OFFLINE_MODEL.to_owned(),
            provider: OFFLINE_PROVIDER.to_owned(),
            usage: TokenUsage::default(),
            cost_nanos: 0,
            attempts: 1,
            cached: false,
        };
        if injection_suspected {
            grading.add_flag(FLAG_PROMPT_INJECTION);
        }
        if outcomes
            .iter()
            .any(|outcome| matches!(outcome, CriterionOutcome::NoKeyTerms))
        {
            grading.add_flag(FLAG_NEEDS_TEACHER_GRADING);
        }
        grading
    }
}

/// Builds one criterion's score. An empty submission and a criterion
/// without key terms earn 0 points, even when its lowest level is worth more.
fn criterion_score(
    criterion: &Criterion,
    outcome: &CriterionOutcome<'_>,
    language: Language,
) -> CriterionScore {
    let points = match outcome {
        CriterionOutcome::Compared(coverage) => criterion_points(criterion, coverage.fraction),
        CriterionOutcome::EmptySubmission | CriterionOutcome::NoKeyTerms => 0.0,
    };
    CriterionScore {
        name: criterion.name.clone(),
        points,
        max_points: criterion.points,
        feedback: feedback::criterion_feedback(outcome, language),
    }
}

/// Maps a key-term coverage `c` in `0..=1` to the criterion's points as
/// `(1 - e^(-k c)) / (1 - e^(-k))` of them, with `k` =
/// [`COVERAGE_STEEPNESS`]. The first key terms earn the most: half the
/// weight earns 82% of the points, because graders give full marks to
/// answers that state the main idea without every word of the reference.
/// Criteria with levels snap to the nearest level's points.
fn criterion_points(criterion: &Criterion, coverage: f64) -> f64 {
    let coverage = coverage.clamp(0.0, 1.0);
    let share =
        (1.0 - (-COVERAGE_STEEPNESS * coverage).exp()) / (1.0 - (-COVERAGE_STEEPNESS).exp());
    let points = share * criterion.points;
    let nearest_level = criterion
        .levels
        .iter()
        .map(|level| level.points)
        .min_by(|a, b| (a - points).abs().total_cmp(&(b - points).abs()));
    let points = nearest_level.unwrap_or(points);
    let rounded = (points * 100.0).round() / 100.0;
    rounded.clamp(0.0, criterion.points)
}

#[async_trait]
impl Evaluator for OfflineScorer {
    async fn grade(&self, request: GradingRequest<'_>) -> Result<Grading, EvaluatorError> {
        Ok(self.score(request.assignment, request.submission))
    }
}

#[cfg(test)]
mod tests;
