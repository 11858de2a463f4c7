//! Assignments and their rubrics: parsing, validation and normalisation.

use serde::{Deserialize, Serialize};

use super::EvalError;

/// The language an assignment is written and graded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Spanish, the default.
    #[default]
    Es,
    /// English.
    En,
}

impl Language {
    /// Returns the ISO 639-1 code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es => "es",
            Self::En => "en",
        }
    }

    /// Parses an ISO 639-1 code.
    ///
    /// # Errors
    /// [`EvalError::InvalidField`] for anything but `es` or `en`.
    pub fn parse(text: &str) -> Result<Self, EvalError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "es" => Ok(Self::Es),
            "en" => Ok(Self::En),
            _ => Err(EvalError::invalid_field(
                "language",
                text,
                "expected \"es\" or \"en\"",
            )),
        }
    }
}

/// One performance level of a criterion, such as "excellent: 4 points".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// Short label, such as `excellent`.
    pub name: String,
    /// Points awarded at this level, within the criterion's points.
    pub points: f64,
    /// A description of work at this level.
    #[serde(default)]
    pub descriptor: String,
}

/// One rubric criterion with its share of the assignment's points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Criterion {
    /// Name, unique within the rubric; models report scores under it.
    pub name: String,
    /// The skill or content the criterion assesses.
    #[serde(default)]
    pub description: String,
    /// Points this criterion is worth. After [`RubricInput::resolve`] the
    /// criteria's points add up to the assignment's maximum.
    pub points: f64,
    /// Optional performance levels, highest first after normalisation.
    #[serde(default)]
    pub levels: Vec<Level>,
}

/// A rubric: the criteria an assignment is graded on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Rubric {
    /// The criteria, in display order.
    pub criteria: Vec<Criterion>,
}

/// A criterion as written by a user: either `points` or a relative `weight`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CriterionInput {
    name: String,
    #[serde(default)]
    description: String,
    points: Option<f64>,
    weight: Option<f64>,
    #[serde(default)]
    levels: Vec<Level>,
}

/// A rubric as written by a user, before points are resolved.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RubricInput {
    #[serde(default)]
    criteria: Vec<CriterionInput>,
}

/// Tolerance when checking that criterion points add up to the maximum.
const POINTS_EPSILON: f64 = 1e-6;

impl RubricInput {
    /// Resolves weights to points and validates the rubric against the
    /// assignment's maximum points. An empty rubric becomes one
    /// `correctness` criterion worth all the points.
    ///
    /// # Errors
    /// [`EvalError::InvalidField`] naming the criterion field that is wrong,
    /// as `rubric.criteria[i].field`.
    pub fn resolve(self, max_points: f64, language: Language) -> Result<Rubric, EvalError> {
        if self.criteria.is_empty() {
            return Ok(Rubric::single_correctness(max_points, language));
        }
        let field = |i: usize, name: &str| format!("rubric.criteria[{i}].{name}");
        let mut names = std::collections::HashSet::new();
        let uses_points = self.criteria.iter().any(|c| c.points.is_some());
        let uses_weights = self.criteria.iter().any(|c| c.weight.is_some());
        if uses_points && uses_weights {
            return Err(EvalError::invalid_field(
                "rubric.criteria",
                "points and weight",
                "give every criterion either points or weight, not a mix",
            ));
        }
        let weight_sum: f64 = self.criteria.iter().filter_map(|c| c.weight).sum();
        let mut criteria = Vec::with_capacity(self.criteria.len());
        for (i, input) in self.criteria.into_iter().enumerate() {
            let name = input.name.trim().to_owned();
            if name.is_empty() || name.chars().count() > 100 {
                return Err(EvalError::invalid_field(
                    field(i, "name"),
                    &input.name,
                    "must be 1 to 100 characters",
                ));
            }
            if !names.insert(name.to_lowercase()) {
                return Err(EvalError::invalid_field(
                    field(i, "name"),
                    &name,
                    "another criterion has the same name",
                ));
            }
            let points = match (input.points, input.weight) {
                (Some(points), None) => points,
                (None, Some(weight)) => {
                    if !(weight.is_finite() && weight > 0.0) {
                        return Err(EvalError::invalid_field(
                            field(i, "weight"),
                            weight,
                            "must be a positive number",
                        ));
                    }
                    max_points * weight / weight_sum
                }
                _ => {
                    return Err(EvalError::invalid_field(
                        field(i, "points"),
                        "missing",
                        "give the criterion's points or its weight",
                    ))
                }
            };
            if !(points.is_finite() && points > 0.0) {
                return Err(EvalError::invalid_field(
                    field(i, "points"),
                    points,
                    "must be a positive number",
                ));
            }
            let mut levels = input.levels;
            for (j, level) in levels.iter().enumerate() {
                if !(level.points.is_finite()
                    && (0.0..=points + POINTS_EPSILON).contains(&level.points))
                {
                    return Err(EvalError::invalid_field(
                        format!("rubric.criteria[{i}].levels[{j}].points"),
                        level.points,
                        &format!("must be between 0 and the criterion's {points} points"),
                    ));
                }
            }
            levels.sort_by(|a, b| b.points.total_cmp(&a.points));
            criteria.push(Criterion {
                name,
                description: input.description,
                points,
                levels,
            });
        }
        let total: f64 = criteria.iter().map(|c| c.points).sum();
        if (total - max_points).abs() > POINTS_EPSILON {
            return Err(EvalError::invalid_field(
                "rubric.criteria",
                total,
                &format!("criterion points add up to {total} but max_points is {max_points}"),
            ));
        }
        Ok(Rubric { criteria })
    }
}

impl Rubric {
    /// Returns the rubric used when an assignment has none: one criterion
    /// named `correctness` worth `max_points`.
    pub fn single_correctness(max_points: f64, language: Language) -> Self {
        let description = match language {
            Language::Es => {
                "Exactitud y completitud de la respuesta respecto de la respuesta esperada."
            }
            Language::En => "Accuracy and completeness of the answer against the expected answer.",
        };
        Self {
            criteria: vec![Criterion {
                name: "correctness".to_owned(),
                description: description.to_owned(),
                points: max_points,
                levels: Vec::new(),
            }],
        }
    }
}

/// Maximum length of an assignment prompt or reference answer, in bytes.
pub const MAX_ASSIGNMENT_TEXT: usize = 64 * 1024;

/// An assignment: the task, its reference answer and its rubric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    /// Caller-chosen identifier, unique within the client.
    pub assignment_id: String,
    /// The client (institution) that owns the assignment.
    pub client_id: String,
    /// Title shown to teachers and students.
    pub title: String,
    /// The question or task given to students.
    pub prompt: String,
    /// The instructor's answer, if there is one.
    pub reference_answer: Option<String>,
    /// Maximum points.
    pub max_points: f64,
    /// Language of the assignment and of the feedback.
    pub language: Language,
    /// Criteria; their points add up to `max_points`.
    pub rubric: Rubric,
}

/// An assignment as written in a TOML or JSON file or an API request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentInput {
    /// Identifier, unique within the client.
    pub id: String,
    /// Title; the identifier when not given.
    #[serde(default)]
    pub title: Option<String>,
    /// The question or task.
    pub prompt: String,
    /// The instructor's answer.
    #[serde(default)]
    pub reference_answer: Option<String>,
    /// Maximum points.
    pub max_points: f64,
    /// `es` (default) or `en`.
    #[serde(default)]
    pub language: Option<String>,
    /// The rubric; one `correctness` criterion when not given.
    #[serde(default)]
    pub rubric: Option<RubricInput>,
}

impl AssignmentInput {
    /// Validates the input and resolves its rubric.
    ///
    /// # Errors
    /// [`EvalError::InvalidField`] naming the first field that is wrong.
    pub fn into_assignment(self, client_id: &str) -> Result<Assignment, EvalError> {
        crate::tenancy::validate_id("id", &self.id).map_err(EvalError::from_tenancy)?;
        if self.prompt.trim().is_empty() {
            return Err(EvalError::invalid_field("prompt", "", "must not be empty"));
        }
        if self.prompt.len() > MAX_ASSIGNMENT_TEXT {
            return Err(EvalError::invalid_field(
                "prompt",
                format!("{} bytes", self.prompt.len()),
                &format!("must be at most {MAX_ASSIGNMENT_TEXT} bytes"),
            ));
        }
        if let Some(reference) = &self.reference_answer {
            if reference.len() > MAX_ASSIGNMENT_TEXT {
                return Err(EvalError::invalid_field(
                    "reference_answer",
                    format!("{} bytes", reference.len()),
                    &format!("must be at most {MAX_ASSIGNMENT_TEXT} bytes"),
                ));
            }
        }
        if !(self.max_points.is_finite() && self.max_points > 0.0 && self.max_points <= 10_000.0) {
            return Err(EvalError::invalid_field(
                "max_points",
                self.max_points,
                "must be a number above 0 and at most 10000",
            ));
        }
        let language = match &self.language {
            Some(text) => Language::parse(text)?,
            None => Language::default(),
        };
        let rubric = self
            .rubric
            .unwrap_or_default()
            .resolve(self.max_points, language)?;
        let title = self
            .title
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| self.id.clone());
        Ok(Assignment {
            assignment_id: self.id,
            client_id: client_id.to_owned(),
            title,
            prompt: self.prompt,
            reference_answer: self.reference_answer.filter(|r| !r.trim().is_empty()),
            max_points: self.max_points,
            language,
            rubric,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(rubric: &str) -> AssignmentInput {
        let text =
            format!("id = \"a1\"\nprompt = \"Explain recursion\"\nmax_points = 10\n{rubric}");
        toml::from_str(&text).unwrap()
    }

    #[test]
    fn missing_rubric_gives_correctness_criterion() {
        let assignment = input("").into_assignment("c1").unwrap();
        assert_eq!(assignment.rubric.criteria.len(), 1);
        assert_eq!(assignment.rubric.criteria[0].name, "correctness");
        assert_eq!(assignment.rubric.criteria[0].points, 10.0);
    }

    #[test]
    fn weights_resolve_to_points() {
        let assignment = input(
            "[[rubric.criteria]]\nname = \"a\"\nweight = 3\n[[rubric.criteria]]\nname = \"b\"\nweight = 1\n",
        )
        .into_assignment("c1")
        .unwrap();
        assert_eq!(assignment.rubric.criteria[0].points, 7.5);
        assert_eq!(assignment.rubric.criteria[1].points, 2.5);
    }

    #[test]
    fn points_must_add_up_to_max() {
        let err = input("[[rubric.criteria]]\nname = \"a\"\npoints = 3\n")
            .into_assignment("c1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("rubric.criteria"), "{err}");
        assert!(err.contains("add up to 3"), "{err}");
    }

    #[test]
    fn level_above_criterion_names_field() {
        let err = input(
            "[[rubric.criteria]]\nname = \"a\"\npoints = 10\n[[rubric.criteria.levels]]\nname = \"top\"\npoints = 11\n",
        )
        .into_assignment("c1")
        .unwrap_err()
        .to_string();
        assert!(err.contains("rubric.criteria[0].levels[0].points"), "{err}");
    }

    #[test]
    fn duplicate_criterion_names_rejected() {
        let err = input(
            "[[rubric.criteria]]\nname = \"A\"\npoints = 5\n[[rubric.criteria]]\nname = \"a\"\npoints = 5\n",
        )
        .into_assignment("c1")
        .unwrap_err()
        .to_string();
        assert!(err.contains("rubric.criteria[1].name"), "{err}");
    }

    #[test]
    fn criterion_without_points_or_weight_rejected() {
        let err = input("[[rubric.criteria]]\nname = \"a\"\n")
            .into_assignment("c1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("rubric.criteria[0].points"), "{err}");
    }

    #[test]
    fn unknown_language_rejected() {
        let err = input("language = \"fr\"")
            .into_assignment("c1")
            .unwrap_err();
        assert!(err.to_string().contains("language"));
    }
}
