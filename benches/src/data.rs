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
