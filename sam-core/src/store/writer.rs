//! Group commit of evaluations: concurrent writes for one partner share a
//! transaction, so a batch of 64 costs about one commit instead of 64.

use std::sync::Arc;

use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot, Mutex};

use super::evaluations::{insert_evaluations, EvaluationRecord};
use super::Tables;
use crate::tenancy::TenancyError;

/// Records written in one transaction at most.
const MAX_BATCH: usize = 64;
/// Writes waiting for a writer at most; senders wait beyond it.
const QUEUE_DEPTH: usize = 1024;

type Reply = Result<(bool, EvaluationRecord), TenancyError>;
type Job = (EvaluationRecord, oneshot::Sender<Reply>);

/// A handle on the writer tasks of one partner. Dropping every handle ends the tasks.
#[derive(Debug, Clone)]
pub(crate) struct EvaluationWriter {
    sender: mpsc::Sender<Job>,
}

impl EvaluationWriter {
    /// Starts `tasks` writer tasks over `pool`. Each takes whatever writes
    /// are waiting (up to [`MAX_BATCH`]) and commits them together; a write
    /// that arrives alone is committed alone, without waiting for company.
    pub(crate) fn spawn(pool: AnyPool, tables: Arc<Tables>, tasks: usize) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..tasks.max(1) {
            tokio::spawn(run(
                pool.clone(),
                Arc::clone(&tables),
                Arc::clone(&receiver),
            ));
        }
        Self { sender }
    }

    /// Writes one record and returns whether it was written now, with the record.
    pub(crate) async fn write(&self, record: EvaluationRecord) -> Reply {
        let (reply, response) = oneshot::channel();
        self.sender
            .send((record, reply))
            .await
            .map_err(|_| writer_stopped())?;
        response.await.map_err(|_| writer_stopped())?
    }
}

fn writer_stopped() -> TenancyError {
    TenancyError::Database(sqlx::Error::PoolClosed)
}

async fn run(pool: AnyPool, tables: Arc<Tables>, receiver: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let jobs = {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else {
                return;
            };
            let mut jobs = vec![first];
            while jobs.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            jobs
        };
        let (records, replies): (Vec<EvaluationRecord>, Vec<oneshot::Sender<Reply>>) =
            jobs.into_iter().unzip();
        match commit(&pool, &tables, &records).await {
            Ok(written) => {
                for ((record, reply), written) in records.into_iter().zip(replies).zip(written) {
                    // A caller that stopped waiting needs no reply.
                    let _ = reply.send(Ok((written, record)));
                }
            }
            Err(err) if records.len() == 1 => {
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(err));
                }
            }
            Err(err) => {
                tracing::debug!(error = %err, records = records.len(), "group commit failed; writing one by one");
                for (record, reply) in records.into_iter().zip(replies) {
                    let result = commit(&pool, &tables, std::slice::from_ref(&record))
                        .await
                        .map(|written| (written.first().copied().unwrap_or(false), record));
                    let _ = reply.send(result);
                }
            }
        }
    }
}

async fn commit(
    pool: &AnyPool,
    tables: &Tables,
    records: &[EvaluationRecord],
) -> Result<Vec<bool>, TenancyError> {
    let mut tx = pool.begin().await?;
    let written = insert_evaluations(&mut tx, tables, records).await?;
    tx.commit().await?;
    Ok(written)
}
