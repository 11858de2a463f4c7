//! Batch evaluation jobs and their item statuses, kept in memory.
//!
//! NOTE: jobs live in the server's memory, so a restart loses their
//! statuses and stops their unfinished items. Each finished item is stored
//! as an evaluation, and resubmitting the batch evaluates only the rest,
//! because the engine neither grades nor bills a submission twice.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use sam_core::tenancy::PartnerSlug;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// The state of a job or of one of its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting or running.
    Running,
    /// Finished. A job is finished when every item is.
    Done,
    /// Failed, with the reason in the item's `error`.
    Failed,
}

/// One submission of a batch.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobItem {
    /// The submission id.
    pub submission_id: String,
    /// The item's state.
    pub state: JobState,
    /// The evaluation, once stored.
    pub evaluation_id: Option<Uuid>,
    /// The reason the item failed.
    pub error: Option<String>,
}

/// A batch job as returned by `GET /jobs/{id}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Job {
    /// Identifier.
    pub id: Uuid,
    /// The client whose submissions the job evaluates.
    pub client_id: String,
    /// The job's state.
    pub state: JobState,
    /// When the job was created.
    pub created_at: DateTime<Utc>,
    /// One entry per submission, in request order.
    pub items: Vec<JobItem>,
    /// The partner, for scoping lookups.
    #[serde(skip)]
    pub partner: Option<PartnerSlug>,
    /// The teacher who created the job, when a teacher did.
    #[serde(skip)]
    pub teacher_id: Option<String>,
}

/// Every job of this server process.
#[derive(Debug, Clone, Default)]
pub struct Jobs {
    jobs: Arc<RwLock<HashMap<Uuid, Job>>>,
}

impl Jobs {
    /// Stores a new job.
    pub fn insert(&self, job: Job) {
        let mut jobs = self.jobs.write().unwrap_or_else(PoisonError::into_inner);
        jobs.insert(job.id, job);
    }

    /// Returns a copy of a job.
    pub fn get(&self, id: Uuid) -> Option<Job> {
        let jobs = self.jobs.read().unwrap_or_else(PoisonError::into_inner);
        jobs.get(&id).cloned()
    }

    /// Records the end of one item and finishes the job after its last item.
    pub fn finish_item(&self, id: Uuid, index: usize, result: Result<Uuid, String>) {
        let mut jobs = self.jobs.write().unwrap_or_else(PoisonError::into_inner);
        let Some(job) = jobs.get_mut(&id) else {
            return;
        };
        if let Some(item) = job.items.get_mut(index) {
            match result {
                Ok(evaluation_id) => {
                    item.state = JobState::Done;
                    item.evaluation_id = Some(evaluation_id);
                }
                Err(error) => {
                    item.state = JobState::Failed;
                    item.error = Some(error);
                }
            }
        }
        if job.items.iter().all(|item| item.state != JobState::Running) {
            job.state = JobState::Done;
        }
    }
}
