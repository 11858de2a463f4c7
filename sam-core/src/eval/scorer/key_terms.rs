//! Key terms: the weighted words of the reference answer and of a rubric
//! criterion that a submission is expected to contain, and how much of
//! their weight a submission covers.

use std::collections::{BTreeMap, BTreeSet};

use super::text::{TextAnalyzer, Token};
use crate::eval::{Criterion, Language};

/// Weight of a word of the reference answer.
const REFERENCE_WEIGHT: f64 = 1.0;

/// Weight of a word of a criterion's description or top level descriptor
/// when the assignment has a reference answer. Rubric text describes what
/// is assessed more than what the answer says, so it counts less.
const RUBRIC_WEIGHT_WITH_REFERENCE: f64 = 0.5;

/// Factor applied to a key term that also occurs in the assignment's prompt.
/// Restating the question shows no knowledge, so such words count little.
const PROMPT_FACTOR: f64 = 0.2;

/// Minimum Dice similarity of character trigrams for a key term to count
/// as partly covered by a submission stem of another form, such as `simul`
/// and `simulat`. The term then earns that similarity as credit.
const MIN_TRIGRAM_SIMILARITY: f64 = 0.5;

/// Words that rubric descriptions use about any answer, such as "answer" or
/// "complete", and the verbs that instruct the student, such as "define" or
/// "name". They carry no information about the subject, so they are not key
/// terms.
const GENERIC_RUBRIC_WORDS_EN: &[&str] = &[
    "accuracy",
    "accurate",
    "against",
    "answer",
    "clarity",
    "clear",
    "complete",
    "completeness",
    "correct",
    "correctness",
    "criterion",
    "define",
    "describe",
    "expected",
    "explain",
    "explanation",
    "fully",
    "give",
    "identify",
    "include",
    "list",
    "mention",
    "name",
    "partial",
    "partially",
    "point",
    "response",
    "state",
    "student",
    "work",
];

/// Spanish counterpart of [`GENERIC_RUBRIC_WORDS_EN`].
const GENERIC_RUBRIC_WORDS_ES: &[&str] = &[
    "clara",
    "claridad",
    "completa",
    "completitud",
    "correcta",
    "correcto",
    "criterio",
    "define",
    "describe",
    "esperada",
    "estudiante",
    "exactitud",
    "explica",
    "explicación",
    "identifica",
    "incluye",
    "indica",
    "menciona",
    "nombra",
    "parcial",
    "parcialmente",
    "punto",
    "respecto",
    "respuesta",
    "señala",
    "totalmente",
    "trabajo",
];

/// A word the submission is expected to contain.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeyTerm {
    /// The stem used for matching.
    pub(crate) stem: String,
    /// The word as first written in the reference or rubric, for feedback.
    pub(crate) surface: String,
    /// Relative importance, above 0.
    pub(crate) weight: f64,
    /// Whether the prompt contains the stem too.
    pub(crate) in_prompt: bool,
}

/// Stems of the generic rubric words, per language.
#[derive(Debug)]
pub(crate) struct GenericWords {
    english: BTreeSet<String>,
    spanish: BTreeSet<String>,
}

impl GenericWords {
    pub(crate) fn new(analyzer: &TextAnalyzer) -> Self {
        let stems = |words: &[&str], language| -> BTreeSet<String> {
            analyzer
                .tokens(&words.join(" "), language)
                .into_iter()
                .map(|token| token.stem)
                .collect()
        };
        Self {
            english: stems(GENERIC_RUBRIC_WORDS_EN, Language::En),
            spanish: stems(GENERIC_RUBRIC_WORDS_ES, Language::Es),
        }
    }

    fn contains(&self, stem: &str, language: Language) -> bool {
        match language {
            Language::En => self.english.contains(stem),
            Language::Es => self.spanish.contains(stem),
        }
    }
}

/// Builds a criterion's key terms in order of first appearance: the words
/// of the reference answer, then the criterion's description and the
/// descriptor of its highest level.
pub(crate) fn criterion_key_terms(
    reference: &[Token],
    criterion: &Criterion,
    prompt_stems: &BTreeSet<&str>,
    analyzer: &TextAnalyzer,
    generic: &GenericWords,
    language: Language,
) -> Vec<KeyTerm> {
    let mut terms: Vec<KeyTerm> = Vec::new();
    let mut index_by_stem: BTreeMap<String, usize> = BTreeMap::new();
    let mut add = |token: &Token, weight: f64| {
        let in_prompt = prompt_stems.contains(token.stem.as_str());
        let weight = if in_prompt {
            weight * PROMPT_FACTOR
        } else {
            weight
        };
        match index_by_stem.get(&token.stem) {
            Some(&index) => terms[index].weight = terms[index].weight.max(weight),
            None => {
                index_by_stem.insert(token.stem.clone(), terms.len());
                terms.push(KeyTerm {
                    stem: token.stem.clone(),
                    surface: token.surface.clone(),
                    weight,
                    in_prompt,
                });
            }
        }
    };
    for token in reference {
        add(token, REFERENCE_WEIGHT);
    }
    let rubric_weight = if reference.is_empty() {
        REFERENCE_WEIGHT
    } else {
        RUBRIC_WEIGHT_WITH_REFERENCE
    };
    let top_descriptor = criterion
        .levels
        .first()
        .map(|level| level.descriptor.as_str());
    for text in std::iter::once(criterion.description.as_str()).chain(top_descriptor) {
        for token in analyzer.tokens(text, language) {
            if !generic.contains(&token.stem, language) {
                add(&token, rubric_weight);
            }
        }
    }
    terms
}

/// The distinct stems of a submission, with their character trigrams for
/// matching other forms of a word.
#[derive(Debug)]
pub(crate) struct SubmissionStems<'a> {
    stems: BTreeSet<&'a str>,
    trigrams: Vec<Vec<[char; 3]>>,
}

impl<'a> SubmissionStems<'a> {
    pub(crate) fn new(tokens: &'a [Token]) -> Self {
        let stems: BTreeSet<&str> = tokens.iter().map(|token| token.stem.as_str()).collect();
        let trigrams = stems.iter().map(|stem| trigrams(stem)).collect();
        Self { stems, trigrams }
    }

    /// Returns the distinct stems.
    pub(crate) fn stems(&self) -> &BTreeSet<&'a str> {
        &self.stems
    }

    /// Returns whether the submission has no content words.
    pub(crate) fn is_empty(&self) -> bool {
        self.stems.is_empty()
    }

    /// Returns 1 when the submission contains `stem`, else the best Dice
    /// similarity of character trigrams with a submission stem if it is at
    /// least [`MIN_TRIGRAM_SIMILARITY`], else 0. Submission stems in
    /// `excluded` give no credit.
    fn credit(&self, stem: &str, excluded: &BTreeSet<&str>) -> f64 {
        if self.stems.contains(stem) && !excluded.contains(stem) {
            return 1.0;
        }
        let wanted = trigrams(stem);
        let best = self
            .stems
            .iter()
            .zip(&self.trigrams)
            .filter(|(candidate, _)| !excluded.contains(*candidate))
            .map(|(_, candidate)| dice(&wanted, candidate))
            .fold(0.0, f64::max);
        if best >= MIN_TRIGRAM_SIMILARITY {
            best
        } else {
            0.0
        }
    }
}

/// Returns the character trigrams of `stem` padded with `^` and `$`,
/// sorted and without duplicates.
fn trigrams(stem: &str) -> Vec<[char; 3]> {
    let padded: Vec<char> = std::iter::once('^')
        .chain(stem.chars())
        .chain(std::iter::once('$'))
        .collect();
    let mut trigrams: Vec<[char; 3]> = padded
        .windows(3)
        .map(|window| [window[0], window[1], window[2]])
        .collect();
    trigrams.sort_unstable();
    trigrams.dedup();
    trigrams
}

/// Returns the Dice coefficient of two sorted, deduplicated lists.
fn dice(a: &[[char; 3]], b: &[[char; 3]]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut shared) = (0, 0, 0_u32);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let total = (a.len() + b.len()) as f64;
    2.0 * f64::from(shared) / total
}

/// How much of a criterion's key-term weight a submission covers.
#[derive(Debug)]
pub(crate) struct Coverage<'a> {
    /// Covered weight over total weight, in `0..=1`. It is 0 without key terms.
    pub(crate) fraction: f64,
    /// Key terms the submission contains in some form, in key-term order.
    pub(crate) covered: Vec<&'a KeyTerm>,
    /// Key terms the submission lacks, heaviest first.
    pub(crate) missing: Vec<&'a KeyTerm>,
    /// Whether key terms of the prompt earned nothing because the
    /// submission copies the prompt and adds no key term of its own.
    pub(crate) prompt_terms_ignored: bool,
}

/// Measures which key terms the submission contains. Each key term counts
/// once however often the submission repeats it. When `copies_prompt` is
/// set and no word of the submission outside the prompt covers a key term
/// outside the prompt, no key term earns credit.
pub(crate) fn coverage<'a>(
    terms: &'a [KeyTerm],
    submission: &SubmissionStems<'_>,
    prompt_stems: &BTreeSet<&str>,
    copies_prompt: bool,
) -> Coverage<'a> {
    let no_exclusions = BTreeSet::new();
    let mut credits: Vec<f64> = terms
        .iter()
        .map(|term| submission.credit(&term.stem, &no_exclusions))
        .collect();
    // A word such as "sizeof" in a copied prompt resembles the key term
    // "size", so only the submission's own words show an answer.
    let prompt_terms_ignored = copies_prompt
        && !terms
            .iter()
            .any(|term| !term.in_prompt && submission.credit(&term.stem, prompt_stems) > 0.0);
    if prompt_terms_ignored {
        credits.fill(0.0);
    }

    let total: f64 = terms.iter().map(|term| term.weight).sum();
    let mut matched = 0.0;
    let mut covered = Vec::new();
    let mut missing = Vec::new();
    for (term, credit) in terms.iter().zip(credits) {
        matched += term.weight * credit;
        if credit > 0.0 {
            covered.push(term);
        } else {
            missing.push(term);
        }
    }
    // A stable sort keeps reference order among terms of equal weight.
    missing.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    let fraction = if total > 0.0 {
        (matched / total).clamp(0.0, 1.0)
    } else {
        0.0
    };
    Coverage {
        fraction,
        covered,
        missing,
        prompt_terms_ignored,
    }
}
