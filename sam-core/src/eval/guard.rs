//! Detection of submission text aimed at the grader instead of the task.

/// Returns whether `text` contains phrases that address the grader.
pub fn looks_like_prompt_injection(text: &str) -> bool {
    const PHRASES: &[&str] = &[
        "ignore the rubric",
        "ignore previous instructions",
        "ignore all previous instructions",
        "award full marks",
        "give full marks",
        "ignora la rúbrica",
        "ignora las instrucciones",
        "puntaje completo",
        "nota máxima",
    ];
    let lower = text.to_lowercase();
    PHRASES.iter().any(|phrase| lower.contains(phrase))
}
