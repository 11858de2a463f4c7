//! Detection of submissions that copy the prompt. Words of the prompt earn
//! little credit anyway, but when the reference answer consists of prompt
//! words, as in "stored by rows or by columns?", a copy would still cover
//! it. A copy that adds no key term of its own therefore earns nothing.

use std::collections::BTreeSet;

use super::text::TextAnalyzer;
use crate::eval::Language;

/// Share of the prompt's distinct content words at or above which a
/// submission restates the prompt.
///
/// NOTE: many correct answers restate the question (97 of the 1,862 UNT
/// short answers reach 0.9), so restating alone is not copying. The rule
/// also requires naming every option of an either-or prompt, or adding at
/// most [`MAX_NEW_WORD_SHARE`] new words to another prompt, and the scorer
/// applies it only when no word outside the prompt covers a key term. It
/// still sets 3 of the UNT answers to 0, which the graders gave 3.5 to 5.
const RESTATEMENT_SHARE: f64 = 0.9;

/// Maximum share of a submission's distinct content words that are not in
/// the prompt for a restatement of a prompt without options to be a copy.
const MAX_NEW_WORD_SHARE: f64 = 0.2;

/// Returns whether the submission copies the prompt: it restates at least
/// [`RESTATEMENT_SHARE`] of the prompt's content words and either names
/// every option of an either-or prompt or, for another prompt, adds few
/// words of its own.
pub(crate) fn copies_prompt(
    prompt: &str,
    prompt_stems: &BTreeSet<&str>,
    submission: &BTreeSet<&str>,
    analyzer: &TextAnalyzer,
    language: Language,
) -> bool {
    if prompt_stems.is_empty() || submission.is_empty() {
        return false;
    }
    let restated = prompt_stems.intersection(submission).count();
    if share(restated, prompt_stems.len()) < RESTATEMENT_SHARE {
        return false;
    }
    let options = PromptOptions::new(prompt, analyzer, language);
    if options.clauses.is_empty() {
        let new_words = submission.difference(prompt_stems).count();
        share(new_words, submission.len()) <= MAX_NEW_WORD_SHARE
    } else {
        options.all_named(submission)
    }
}

#[allow(clippy::cast_precision_loss)]
fn share(part: usize, whole: usize) -> f64 {
    part as f64 / whole as f64
}

/// Characters that end a clause of a prompt.
const CLAUSE_ENDS: &[char] = &[',', '.', ';', ':', '?', '!', '¿', '¡', '(', ')', '\n', '\r'];

/// The options of each either-or clause of a prompt, each option as the
/// stems that no other option of its clause has.
#[derive(Debug, Default)]
struct PromptOptions {
    clauses: Vec<Vec<BTreeSet<String>>>,
}

impl PromptOptions {
    /// Finds the clauses of `prompt` that join options with "or" (English)
    /// or "o" and "u" (Spanish). A clause counts only when every option has
    /// a stem of its own, as in "a stack or a queue".
    fn new(prompt: &str, analyzer: &TextAnalyzer, language: Language) -> Self {
        let conjunctions: &[&str] = match language {
            Language::En => &["or"],
            Language::Es => &["o", "u"],
        };
        let mut clauses = Vec::new();
        for clause in prompt.to_lowercase().split(CLAUSE_ENDS) {
            let parts = split_on_conjunctions(clause, conjunctions);
            if parts.len() < 2 {
                continue;
            }
            let stems: Vec<BTreeSet<String>> = parts
                .iter()
                .map(|part| {
                    analyzer
                        .tokens(part, language)
                        .into_iter()
                        .map(|token| token.stem)
                        .collect()
                })
                .collect();
            let options = own_stems(&stems);
            if options.iter().all(|option| !option.is_empty()) {
                clauses.push(options);
            }
        }
        Self { clauses }
    }

    /// Returns whether the submission names at least one stem of every
    /// option of some either-or clause.
    fn all_named(&self, submission: &BTreeSet<&str>) -> bool {
        self.clauses.iter().any(|options| {
            options
                .iter()
                .all(|option| option.iter().any(|stem| submission.contains(stem.as_str())))
        })
    }
}

/// Splits `clause` into the texts between the whole words in
/// `conjunctions`.
fn split_on_conjunctions(clause: &str, conjunctions: &[&str]) -> Vec<String> {
    let mut parts = vec![String::new()];
    for word in clause.split_whitespace() {
        if conjunctions.contains(&word) {
            parts.push(String::new());
        } else if let Some(part) = parts.last_mut() {
            part.push(' ');
            part.push_str(word);
        }
    }
    parts
}

/// Returns, for each set, the stems that no other set contains.
fn own_stems(sets: &[BTreeSet<String>]) -> Vec<BTreeSet<String>> {
    sets.iter()
        .enumerate()
        .map(|(index, own)| {
            own.iter()
                .filter(|stem| {
                    sets.iter()
                        .enumerate()
                        .all(|(other, set)| other == index || !set.contains(*stem))
                })
                .cloned()
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(prompt: &str, language: Language) -> PromptOptions {
        PromptOptions::new(prompt, &TextAnalyzer::new(), language)
    }

    #[test]
    fn english_options_are_found() {
        let found = options(
            "How are arrays stored in memory, by rows or by columns?",
            Language::En,
        );
        assert_eq!(found.clauses.len(), 1);
        let expected: Vec<BTreeSet<String>> = vec![
            BTreeSet::from(["row".to_owned()]),
            BTreeSet::from(["column".to_owned()]),
        ];
        assert_eq!(found.clauses[0], expected);
    }

    #[test]
    fn shared_words_are_not_options() {
        let found = options(
            "Is this a compilation error or a run-time error?",
            Language::En,
        );
        assert_eq!(found.clauses.len(), 1);
        assert!(!found.clauses[0][0].contains("error"));
        assert!(found.clauses[0][0].contains("compil"));
        assert!(found.clauses[0][1].contains("run"));
    }

    #[test]
    fn spanish_options_are_found() {
        let found = options("¿Es un error de compilación o de ejecución?", Language::Es);
        assert_eq!(found.clauses.len(), 1);
        assert!(found.clauses[0][1].contains("ejecu"), "{:?}", found.clauses);
    }

    #[test]
    fn prompt_without_options_has_none() {
        assert!(options("What is a variable?", Language::En)
            .clauses
            .is_empty());
    }

    fn stems(text: &str) -> BTreeSet<String> {
        TextAnalyzer::new()
            .tokens(text, Language::En)
            .into_iter()
            .map(|token| token.stem)
            .collect()
    }

    fn copies(prompt: &str, text: &str) -> bool {
        let prompt_stems = stems(prompt);
        let submission = stems(text);
        copies_prompt(
            prompt,
            &prompt_stems.iter().map(String::as_str).collect(),
            &submission.iter().map(String::as_str).collect(),
            &TextAnalyzer::new(),
            Language::En,
        )
    }

    #[test]
    fn copies_prompt_cases() {
        let choice = "How are arrays stored in memory, by rows or by columns?";
        let open = "What does the address operator return in a program?";
        assert!(copies(choice, choice));
        assert!(copies(
            choice,
            "Arrays are stored in memory by rows or by columns, I guess."
        ));
        assert!(!copies(choice, "Arrays are stored in memory by rows."));
        assert!(!copies(choice, "By rows, not by columns."));
        assert!(copies(open, open));
        assert!(copies(
            open,
            "What does the address operator return in a program? Good."
        ));
        assert!(!copies(
            open,
            "The address operator returns the memory address of its operand."
        ));
        assert!(!copies(open, ""));
        assert!(!copies("", "anything"));
    }

    #[test]
    fn all_named_needs_every_option() {
        let found = options("Which fits, a stack or a queue?", Language::En);
        assert!(found.all_named(&BTreeSet::from(["stack", "queue"])));
        assert!(!found.all_named(&BTreeSet::from(["queue"])));
        assert!(!found.all_named(&BTreeSet::new()));
    }
}
