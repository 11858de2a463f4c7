//! The embedding API: a [`Sam`] handle over one store and one evaluator,
//! with the typed operations an LMS adapter needs.

mod builder;
mod grader;
pub use grader::ConfiguredEvaluator;
mod sam;

#[cfg(test)]
mod tests;

pub use builder::SamBuilder;
pub use sam::Sam;
