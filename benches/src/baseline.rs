//! The tf-idf cosine baseline: similarity of an answer to the reference
//! answer, with inverse document frequencies from all answers.

use std::collections::BTreeMap;

use sam_core::eval::scorer::TextAnalyzer;
use sam_core::eval::Language;

use crate::data::Dataset;

/// Term frequencies of one text, by stem.
type TermCounts = BTreeMap<String, f64>;

/// Returns, for each answer in dataset order, the cosine similarity in
/// `0..=1` between its tf-idf vector and the reference answer's. Texts are
/// tokenised like the offline scorer's, with stopwords removed and Snowball
/// stems. Document frequencies count every answer and reference answer once.
pub fn tfidf_cosines(dataset: &Dataset, analyzer: &TextAnalyzer) -> Vec<f64> {
    let counts = |text: &str| -> TermCounts {
        let mut counts = TermCounts::new();
        for token in analyzer.tokens(text, Language::En) {
            *counts.entry(token.stem).or_default() += 1.0;
        }
        counts
    };
    let answers: Vec<TermCounts> = dataset.answers.iter().map(|a| counts(&a.answer)).collect();
    let references: BTreeMap<&str, TermCounts> = dataset
        .questions
        .values()
        .map(|q| (q.question_id.as_str(), counts(&q.reference_answer)))
        .collect();

    let mut document_frequency: BTreeMap<&str, f64> = BTreeMap::new();
    for document in answers.iter().chain(references.values()) {
        for stem in document.keys() {
            *document_frequency.entry(stem.as_str()).or_default() += 1.0;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let documents = (answers.len() + references.len()) as f64;
    let idf = |stem: &str| {
        let frequency = document_frequency.get(stem).copied().unwrap_or(1.0);
        (documents / frequency).ln() + 1.0
    };

    dataset
        .answers
        .iter()
        .zip(&answers)
        .map(|(answer, answer_counts)| {
            references
                .get(answer.question_id.as_str())
                .map_or(0.0, |reference| cosine(answer_counts, reference, &idf))
        })
        .collect()
}

fn cosine(a: &TermCounts, b: &TermCounts, idf: &impl Fn(&str) -> f64) -> f64 {
    let norm = |counts: &TermCounts| {
        counts
            .iter()
            .map(|(stem, tf)| (tf * idf(stem)).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let dot: f64 = a
        .iter()
        .filter_map(|(stem, tf)| b.get(stem).map(|other| tf * other * idf(stem).powi(2)))
        .sum();
    let norms = norm(a) * norm(b);
    if norms == 0.0 {
        0.0
    } else {
        dot / norms
    }
}
