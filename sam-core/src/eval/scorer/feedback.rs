//! Feedback sentences of the offline scorer, in English and Spanish.

use std::collections::BTreeSet;

use super::key_terms::{Coverage, KeyTerm};
use crate::eval::Language;

/// Maximum number of words one feedback list names.
const MAX_NAMED_TERMS: usize = 4;

/// The subject of one criterion's feedback.
#[derive(Debug)]
pub(crate) enum CriterionOutcome<'a> {
    /// The submission has no content words.
    EmptySubmission,
    /// Neither a reference answer nor specific rubric text gives key terms.
    NoKeyTerms,
    /// The submission was compared with the key terms.
    Compared(&'a Coverage<'a>),
}

/// Writes the feedback for one criterion.
pub(crate) fn criterion_feedback(outcome: &CriterionOutcome<'_>, language: Language) -> String {
    match (outcome, language) {
        (CriterionOutcome::EmptySubmission, Language::En) => "The submission is empty.".to_owned(),
        (CriterionOutcome::EmptySubmission, Language::Es) => "La entrega está vacía.".to_owned(),
        (CriterionOutcome::NoKeyTerms, Language::En) => {
            "There is no reference answer or specific rubric text to compare with; \
             a teacher must grade this criterion."
                .to_owned()
        }
        (CriterionOutcome::NoKeyTerms, Language::Es) => {
            "No hay respuesta de referencia ni texto específico en la rúbrica con que \
             comparar; un docente debe calificar este criterio."
                .to_owned()
        }
        (CriterionOutcome::Compared(coverage), language) => compared_feedback(coverage, language),
    }
}

fn compared_feedback(coverage: &Coverage<'_>, language: Language) -> String {
    let covered = coverage.covered.len();
    let total = covered + coverage.missing.len();
    let covered_list = name_terms(&coverage.covered);
    let missing_list = name_terms(&coverage.missing);
    match language {
        Language::En => {
            if coverage.missing.is_empty() {
                format!("Covers all key terms ({covered_list}).")
            } else if covered == 0 {
                format!("Covers none of the key terms. Missing: {missing_list}.")
            } else {
                format!(
                    "Covers {covered} of {total} key terms ({covered_list}). \
                     Missing: {missing_list}."
                )
            }
        }
        Language::Es => {
            let missing_label = if coverage.missing.len() == 1 {
                "Falta"
            } else {
                "Faltan"
            };
            if coverage.missing.is_empty() {
                format!("Cubre todos los términos clave ({covered_list}).")
            } else if covered == 0 {
                format!("No cubre ninguno de los términos clave. {missing_label}: {missing_list}.")
            } else {
                format!(
                    "Cubre {covered} de {total} términos clave ({covered_list}). \
                     {missing_label}: {missing_list}."
                )
            }
        }
    }
}

/// Writes the overall feedback: the score, what it was compared with, and
/// the heaviest missing terms over all criteria.
pub(crate) fn overall_feedback(
    coverages: &[Coverage<'_>],
    total_points: f64,
    max_points: f64,
    has_reference: bool,
    language: Language,
) -> String {
    let mut missing: Vec<&KeyTerm> = Vec::new();
    let mut seen = BTreeSet::new();
    for term in coverages.iter().flat_map(|c| c.missing.iter().copied()) {
        if seen.insert(term.stem.as_str()) {
            missing.push(term);
        }
    }
    missing.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    let points = format_points(total_points, language);
    let max = format_points(max_points, language);
    let mut text = match (language, has_reference) {
        (Language::En, true) => {
            format!("{points} of {max} points from the key terms of the expected answer.")
        }
        (Language::En, false) => {
            format!("{points} of {max} points from the key terms of the rubric.")
        }
        (Language::Es, true) => {
            format!("{points} de {max} puntos según los términos clave de la respuesta esperada.")
        }
        (Language::Es, false) => {
            format!("{points} de {max} puntos según los términos clave de la rúbrica.")
        }
    };
    if !missing.is_empty() {
        let list = name_terms(&missing);
        match language {
            Language::En => text.push_str(&format!(" To improve, address: {list}.")),
            Language::Es => text.push_str(&format!(" Para mejorar, aborda: {list}.")),
        }
    }
    text
}

/// Returns the feedback sentence about a submission that copies the
/// question, with a leading space so that it can be appended.
pub(crate) fn copied_prompt_note(language: Language) -> &'static str {
    match language {
        Language::En => {
            " The submission mostly repeats the question, \
             so words of the question earn no points."
        }
        Language::Es => {
            " La entrega repite en gran parte la pregunta, \
             así que las palabras de la pregunta no suman puntos."
        }
    }
}

/// Returns the feedback sentence about instructions addressed to the
/// grader, with a leading space so that it can be appended.
pub(crate) fn injection_note(language: Language) -> &'static str {
    match language {
        Language::En => {
            " The submission contains instructions addressed to the grader, \
             and they were ignored."
        }
        Language::Es => {
            " La entrega contiene instrucciones dirigidas al evaluador, \
             que no se tomaron en cuenta."
        }
    }
}

/// Joins the surface words of the first [`MAX_NAMED_TERMS`] terms.
fn name_terms(terms: &[&KeyTerm]) -> String {
    terms
        .iter()
        .take(MAX_NAMED_TERMS)
        .map(|term| term.surface.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Formats points with at most two decimals, with a decimal comma in Spanish.
pub(crate) fn format_points(points: f64, language: Language) -> String {
    let text = format!("{points:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.').to_owned();
    match language {
        Language::En => text,
        Language::Es => text.replace('.', ","),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_trim_trailing_zeros() {
        assert_eq!(format_points(3.0, Language::En), "3");
        assert_eq!(format_points(3.5, Language::En), "3.5");
        assert_eq!(format_points(3.25, Language::Es), "3,25");
        assert_eq!(format_points(0.0, Language::Es), "0");
    }
}
