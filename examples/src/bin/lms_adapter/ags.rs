//! Grade passback with the LTI 1.3 Assignment and Grade Services (AGS)
//! score service: `POST {lineitem}/scores` with an
//! `application/vnd.ims.lis.v1.score+json` body.

use std::time::Duration;

use chrono::SecondsFormat;
use sam_core::eval::{Evaluation, EvaluationStatus};
use serde::Serialize;

/// The media type of an AGS score.
pub(crate) const SCORE_MEDIA_TYPE: &str = "application/vnd.ims.lis.v1.score+json";

/// An AGS score as the platform expects it. Field names follow the IMS
/// score media type, which Canvas and Moodle implement.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Score {
    /// The LMS user id of the student.
    pub(crate) user_id: String,
    /// Points given, out of `score_maximum`.
    pub(crate) score_given: f64,
    /// The assignment's maximum points.
    pub(crate) score_maximum: f64,
    /// Feedback visible to the student.
    pub(crate) comment: String,
    /// When SAM last changed the result, RFC 3339 with milliseconds.
    pub(crate) timestamp: String,
    /// Always `Completed`: the student handed the work in.
    pub(crate) activity_progress: &'static str,
    /// `PendingManual` for a draft awaiting teacher review, `FullyGraded`
    /// once a teacher approved or overrode it.
    pub(crate) grading_progress: &'static str,
}

impl Score {
    /// Builds the score of `evaluation` for the LMS user `user_id`: the
    /// score in force, and the teacher's comment when there is one.
    ///
    /// NOTE: SAM shows students only reviewed results, but whether the LMS
    /// shows a `PendingManual` score and its comment to the student depends
    /// on the LMS and its gradebook settings.
    pub(crate) fn of(evaluation: &Evaluation, user_id: &str) -> Self {
        let grading_progress = match evaluation.status {
            EvaluationStatus::Draft => "PendingManual",
            EvaluationStatus::Approved | EvaluationStatus::Overridden => "FullyGraded",
        };
        let teacher_comment = evaluation
            .review
            .as_ref()
            .and_then(|review| review.teacher_comment.clone());
        let changed_at = evaluation
            .review
            .as_ref()
            .map_or(evaluation.created_at, |review| review.reviewed_at);
        Self {
            user_id: user_id.to_owned(),
            score_given: evaluation.final_score(),
            score_maximum: evaluation.max_points,
            comment: teacher_comment.unwrap_or_else(|| evaluation.overall_feedback.clone()),
            timestamp: changed_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            activity_progress: "Completed",
            grading_progress,
        }
    }
}

/// Returns the score service URL of a line item: its path with `/scores`
/// appended, keeping any query string, as the AGS specification requires.
pub(crate) fn scores_url(lineitem: &url::Url) -> url::Url {
    let mut scores = lineitem.clone();
    let path = format!("{}/scores", lineitem.path().trim_end_matches('/'));
    scores.set_path(&path);
    scores
}

/// Posts scores to LMS line items.
#[derive(Debug, Clone)]
pub(crate) struct GradePassback {
    http: reqwest::Client,
    /// The bearer token for the score service.
    ///
    /// NOTE: a production adapter obtains this token from the platform's
    /// OAuth 2.0 token endpoint with a signed JWT client assertion, as LTI
    /// 1.3 requires. This example takes a fixed token, or none.
    token: Option<String>,
}

impl GradePassback {
    /// Creates a client that gives up on a score post after 10 seconds.
    pub(crate) fn new(token: Option<String>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self { http, token })
    }

    /// Posts `score` to the score service of `lineitem`.
    pub(crate) async fn post(&self, lineitem: &url::Url, score: &Score) -> anyhow::Result<()> {
        let url = scores_url(lineitem);
        let body = serde_json::to_vec(score)?;
        let mut request = self
            .http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, SCORE_MEDIA_TYPE)
            .body(body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            let excerpt: String = text.chars().take(200).collect();
            anyhow::bail!("the LMS rejected the score at {url} with HTTP {status}: {excerpt}");
        }
        tracing::info!(
            url = %url,
            user = %score.user_id,
            grading_progress = score.grading_progress,
            "score posted"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_url_appends_to_path() {
        let lineitem =
            url::Url::parse("https://lms.example/api/lti/courses/1/line_items/7").unwrap();
        assert_eq!(
            scores_url(&lineitem).as_str(),
            "https://lms.example/api/lti/courses/1/line_items/7/scores"
        );
    }

    #[test]
    fn scores_url_keeps_query() {
        let lineitem = url::Url::parse(
            "https://lms.example/mod/lti/services.php/2/lineitems/5/lineitem?type_id=1",
        )
        .unwrap();
        assert_eq!(
            scores_url(&lineitem).as_str(),
            "https://lms.example/mod/lti/services.php/2/lineitems/5/lineitem/scores?type_id=1"
        );
    }
}
