//! Loader of the UNT computer-science short-answer data set: questions with
//! reference answers, and student answers graded 0-5 by two people.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::Context;
use sam_core::eval::{Assignment, Language, Rubric};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// Maximum points of every question in the data set.
pub const MAX_POINTS: f64 = 5.0;

/// One line of `questions.jsonl`.
#[derive(Debug, Clone, Deserialize)]
pub struct Question {
    /// Identifier such as `1.1`.
    pub question_id: String,
    /// The question text.
    pub question: String,
    /// The instructor's answer.
    pub reference_answer: String,
}

/// One line of `answers.jsonl`.
#[derive(Debug, Clone, Deserialize)]
pub struct Answer {
    /// The question answered.
    pub question_id: String,
    /// Identifier such as `1.1.0`.
    pub answer_id: String,
    /// The student's text as typed, with stray HTML.
    pub answer: String,
    /// Mean of the two graders' scores.
    pub score: f64,
    /// First grader's score, 0 to 5.
    pub grader1: f64,
    /// Second grader's score, 0 to 5.
    pub grader2: f64,
}

/// The questions and answers of the data set.
#[derive(Debug)]
pub struct Dataset {
    /// Questions by identifier.
    pub questions: BTreeMap<String, Question>,
    /// Answers in file order.
    pub answers: Vec<Answer>,
}

impl Dataset {
    /// Reads `questions.jsonl` and `answers.jsonl` from `dir`.
    ///
    /// # Errors
    /// When a file cannot be read, a line is not valid JSON of the expected
    /// shape, or an answer names a question that is not in the file.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let questions: Vec<Question> = read_jsonl(&dir.join("questions.jsonl"))?;
        let questions: BTreeMap<String, Question> = questions
            .into_iter()
            .map(|q| (q.question_id.clone(), q))
            .collect();
        let answers: Vec<Answer> = read_jsonl(&dir.join("answers.jsonl"))?;
        if let Some(orphan) = answers
            .iter()
            .find(|a| !questions.contains_key(&a.question_id))
        {
            anyhow::bail!(
                "answer {} names question {}, which is not in questions.jsonl",
                orphan.answer_id,
                orphan.question_id
            );
        }
        Ok(Self { questions, answers })
    }

    /// Builds each question as an English assignment worth [`MAX_POINTS`]
    /// with the default single `correctness` criterion.
    pub fn assignments(&self) -> BTreeMap<String, Assignment> {
        self.questions
            .values()
            .map(|q| {
                let assignment = Assignment {
                    assignment_id: format!("unt-{}", q.question_id),
                    client_id: "unt".to_owned(),
                    title: q.question_id.clone(),
                    prompt: q.question.clone(),
                    reference_answer: Some(q.reference_answer.clone()),
                    max_points: MAX_POINTS,
                    language: Language::En,
                    rubric: Rubric::single_correctness(MAX_POINTS, Language::En),
                };
                (q.question_id.clone(), assignment)
            })
            .collect()
    }
}

fn read_jsonl<T: DeserializeOwned>(path: &Path) -> anyhow::Result<Vec<T>> {
    let text =
        fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("invalid JSON at {}:{}", path.display(), index + 1))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Creates an empty folder under the system temporary directory.
    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sam-benches-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    const QUESTION: &str = r#"{"question_id": "1.1", "question": "What is a variable?", "reference_answer": "A location in memory.", "max_points": 5}"#;

    #[test]
    fn load_builds_english_assignments() {
        let dir = temp_dir("load");
        let answer = r#"{"question_id": "1.1", "answer_id": "1.1.0", "answer": "memory", "score": 4.5, "grader1": 4.0, "grader2": 5.0}"#;
        fs::write(dir.join("questions.jsonl"), format!("{QUESTION}\n")).unwrap();
        fs::write(dir.join("answers.jsonl"), format!("{answer}\n\n")).unwrap();

        let dataset = Dataset::load(&dir).unwrap();
        assert_eq!(dataset.answers.len(), 1);
        assert_eq!(dataset.answers[0].grader2, 5.0);
        let assignments = dataset.assignments();
        let assignment = &assignments["1.1"];
        assert_eq!(assignment.language, Language::En);
        assert_eq!(assignment.max_points, MAX_POINTS);
        assert_eq!(assignment.rubric.criteria.len(), 1);
        assert_eq!(
            assignment.reference_answer.as_deref(),
            Some("A location in memory.")
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn load_rejects_answer_to_unknown_question() {
        let dir = temp_dir("orphan");
        let answer = r#"{"question_id": "9.9", "answer_id": "9.9.0", "answer": "x", "score": 1, "grader1": 1, "grader2": 1}"#;
        fs::write(dir.join("questions.jsonl"), QUESTION).unwrap();
        fs::write(dir.join("answers.jsonl"), answer).unwrap();

        let error = Dataset::load(&dir).unwrap_err().to_string();
        assert!(error.contains("9.9.0"), "{error}");
        assert!(error.contains("9.9"), "{error}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn load_names_missing_file() {
        let dir = temp_dir("missing");
        let error = format!("{:#}", Dataset::load(&dir).unwrap_err());
        assert!(error.contains("questions.jsonl"), "{error}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
