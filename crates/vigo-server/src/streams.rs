//! The held `AgentStream`s by envoy: how the server speaks first. A stream registers
//! here when it opens and leaves when it ends (a newer stream of the same envoy replaces
//! an older one, whose end then leaves the newer in place). Tasks are signed here, for
//! one envoy at a time, with the bundle-signing key the envoy pinned
//! ([`vigo_core::task::sign`]); a signature is minted at delivery and is good for the
//! task's timeout plus the allowed clock skew, never longer.
//!
//! Task results that come back are kept in a bounded map by task id until the task store
//! of the fleet-operations work holds them (REST `POST /api/v1/task` is not built yet).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use ed25519_dalek::SigningKey;
use tokio::sync::mpsc;
use tonic::Status;
use uuid::Uuid;
use vigo_core::task::MAX_CLOCK_SKEW_SECS;
use vigo_proto::v1::{ForcePush, ServerFrame, TaskDispatch, TaskResult, TaskSpec, server_frame};

use crate::fleet::lock;

/// The most task results kept in memory.
pub const MAX_KEPT_RESULTS: usize = 10_000;

/// What goes down one held stream.
pub type FrameSender = mpsc::Sender<Result<ServerFrame, Status>>;

/// Why a frame did not reach an envoy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The envoy holds no stream to this server now.
    #[error("envoy {0} is not connected to this server")]
    NotConnected(Uuid),
    /// Its stream's buffer is full (a slow or stuck envoy).
    #[error("envoy {0} is not reading its stream (buffer full)")]
    Busy(Uuid),
}

/// The registry of held streams and the results they brought back.
#[derive(Debug, Default)]
pub struct Streams {
    held: Mutex<HashMap<Uuid, (u64, FrameSender)>>,
    next: AtomicU64,
    results: Mutex<Results>,
}

#[derive(Debug, Default)]
struct Results {
    by_task: HashMap<(String, Uuid), TaskResult>,
    order: VecDeque<(String, Uuid)>,
}

/// Keeps a stream registered while alive; dropping it unregisters that stream (not a
/// newer one of the same envoy).
#[derive(Debug)]
pub struct Held<'a> {
    streams: &'a Streams,
    envoy: Uuid,
    id: u64,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut held = lock(&self.streams.held);
        if held.get(&self.envoy).is_some_and(|(id, _)| *id == self.id) {
            held.remove(&self.envoy);
        }
    }
}

impl Streams {
    /// Registers `tx` as `envoy`'s stream until the returned guard drops.
    pub fn hold(&self, envoy: Uuid, tx: FrameSender) -> Held<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.held).insert(envoy, (id, tx));
        Held {
            streams: self,
            envoy,
            id,
        }
    }

    /// How many envoys hold a stream now.
    pub fn connected(&self) -> usize {
        lock(&self.held).len()
    }

    /// Whether `envoy` holds a stream now.
    pub fn is_connected(&self, envoy: Uuid) -> bool {
        lock(&self.held).contains_key(&envoy)
    }

    /// Asks `envoy` to check in now.
    pub fn force_push(&self, envoy: Uuid, traceparent: &str) -> Result<(), SendError> {
        self.send(
            envoy,
            server_frame::Frame::ForcePush(ForcePush {
                traceparent: traceparent.to_owned(),
            }),
        )
    }

    /// Addresses `task` to `envoy`, signs it and sends it down its stream. `now_unix` is
    /// the server's clock; the signature expires after the timeout plus the allowed skew.
    pub fn dispatch_task(
        &self,
        envoy: Uuid,
        task: TaskSpec,
        key: &SigningKey,
        now_unix: i64,
    ) -> Result<(), SendError> {
        let spec = TaskSpec {
            envoy_id: envoy.to_string(),
            issued_unix: now_unix,
            expires_unix: now_unix + i64::from(task.timeout_secs) + MAX_CLOCK_SKEW_SECS,
            ..task
        };
        let signed = vigo_core::task::sign(&spec, key);
        self.send(
            envoy,
            server_frame::Frame::TaskDispatch(TaskDispatch {
                task_id: spec.task_id,
                traceparent: spec.traceparent,
                signed: Some(signed),
                ..Default::default()
            }),
        )
    }

    /// Records a result an envoy sent (the latest per task and envoy), bounded.
    pub fn record_result(&self, envoy: Uuid, result: TaskResult) {
        let mut r = lock(&self.results);
        let key = (result.task_id.clone(), envoy);
        if r.by_task.insert(key.clone(), result).is_none() {
            r.order.push_back(key);
        }
        while r.order.len() > MAX_KEPT_RESULTS {
            if let Some(old) = r.order.pop_front() {
                r.by_task.remove(&old);
            }
        }
    }

    /// The result `envoy` sent for `task_id`, if it came.
    pub fn result(&self, task_id: &str, envoy: Uuid) -> Option<TaskResult> {
        lock(&self.results)
            .by_task
            .get(&(task_id.to_owned(), envoy))
            .cloned()
    }

    fn send(&self, envoy: Uuid, frame: server_frame::Frame) -> Result<(), SendError> {
        let tx = lock(&self.held)
            .get(&envoy)
            .map(|(_, tx)| tx.clone())
            .ok_or(SendError::NotConnected(envoy))?;
        tx.try_send(Ok(ServerFrame { frame: Some(frame) }))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => SendError::Busy(envoy),
                mpsc::error::TrySendError::Closed(_) => SendError::NotConnected(envoy),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_stream_replaces_an_older_one_whose_end_leaves_it_in_place() {
        let streams = Streams::default();
        let envoy = Uuid::new_v4();
        let (old_tx, _old_rx) = mpsc::channel(1);
        let (new_tx, mut new_rx) = mpsc::channel(1);
        let old = streams.hold(envoy, old_tx);
        let new = streams.hold(envoy, new_tx);
        drop(old);
        assert!(streams.is_connected(envoy));
        streams.force_push(envoy, "").unwrap();
        assert!(new_rx.try_recv().is_ok(), "the newer stream got the frame");
        drop(new);
        assert_eq!(
            streams.force_push(envoy, ""),
            Err(SendError::NotConnected(envoy))
        );
    }

    #[test]
    fn a_dispatched_task_verifies_for_its_envoy_only_and_expires_after_its_timeout() {
        let streams = Streams::default();
        let key = SigningKey::from_bytes(&[3; 32]);
        let envoy = Uuid::new_v4();
        let (tx, mut rx) = mpsc::channel(1);
        let _held = streams.hold(envoy, tx);
        let task = TaskSpec {
            task_id: "t1".into(),
            command: "uptime".into(),
            timeout_secs: 60,
            ..Default::default()
        };
        streams.dispatch_task(envoy, task, &key, 1_000).unwrap();
        let Some(server_frame::Frame::TaskDispatch(d)) = rx.try_recv().unwrap().unwrap().frame
        else {
            panic!("not a task dispatch");
        };
        let signed = d.signed.expect("signed");
        let pinned = key.verifying_key();
        let me = envoy.to_string();
        let spec = vigo_core::task::verify(&signed, &pinned, &me, 1_000, |_| false).unwrap();
        assert_eq!(
            (spec.issued_unix, spec.expires_unix),
            (1_000, 1_000 + 60 + 300)
        );
        assert!(vigo_core::task::verify(&signed, &pinned, "another", 1_000, |_| false).is_err());
        assert!(vigo_core::task::verify(&signed, &pinned, &me, 1_361, |_| false).is_err());
        let stranger = Uuid::new_v4();
        assert_eq!(
            streams.dispatch_task(stranger, TaskSpec::default(), &key, 1_000),
            Err(SendError::NotConnected(stranger))
        );
    }

    #[test]
    fn a_full_stream_is_busy_not_blocking() {
        let streams = Streams::default();
        let envoy = Uuid::new_v4();
        let (tx, _rx) = mpsc::channel(1);
        let _held = streams.hold(envoy, tx);
        streams.force_push(envoy, "").unwrap();
        assert_eq!(streams.force_push(envoy, ""), Err(SendError::Busy(envoy)));
    }

    #[test]
    fn results_are_kept_per_task_and_envoy_and_bounded() {
        let streams = Streams::default();
        let envoy = Uuid::new_v4();
        for i in 0..MAX_KEPT_RESULTS + 5 {
            streams.record_result(
                envoy,
                TaskResult {
                    task_id: format!("t{i}"),
                    ..Default::default()
                },
            );
        }
        assert!(streams.result("t0", envoy).is_none(), "the oldest went");
        assert!(streams.result("t5", envoy).is_some());
        assert!(streams.result("t5", Uuid::new_v4()).is_none());
    }
}
