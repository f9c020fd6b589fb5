//! The runtime of executions: one task per running execution drives the pure state machine of
//! `stratus-engine`, commits every step before acting on it, and runs operations through the
//! executors.
//!
//! Durability (the engine's contract, see `stratus_engine::execution`): the graph is stored
//! as a blob when the execution starts; each step's `ProgressDelta` is stored as a blob
//! `execution/T/ID/step/NNNNNNNNNN` in the same batch as the step's instance states, runtime
//! property patches and events — and only then are its commands acted on (a task is durably
//! `sent` before it is dispatched). After a crash, `resume_all` rebuilds each execution from
//! its graph and deltas and the engine re-sends only the tasks that were in flight.
//!
//! Group commit: results that arrive together are stepped together and committed in one
//! batch, so the number of fsyncs grows with the waves of an install, not its task count.

mod actor;
mod commit;
mod event_json;
pub mod executors;
mod job;
pub mod kubernetes;
pub mod pgaas;
mod scale;
pub mod script;

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::app::App;
use crate::state::kind;

pub use executors::{Executor, Executors, Job, Outcome, Report, Target};
pub use script::ScriptExecutor;

/// What an execution's task receives.
#[derive(Debug)]
pub enum Input {
    Engine(stratus_engine::Event),
    Report {
        id: stratus_engine::TaskId,
        report: Report,
    },
    /// A line an operation logged (a `cloudify_log` event).
    Log {
        level: String,
        message: String,
        node_instance_id: String,
        operation: String,
    },
}

/// The running executions (their inboxes) and how to run operations.
pub struct Runner {
    inboxes: Mutex<HashMap<(String, String), mpsc::UnboundedSender<Input>>>,
    pub executors: Executors,
    pub settings: stratus_engine::Settings,
}

/// Statuses of executions that should be running.
pub const ACTIVE: [&str; 5] = [
    "pending",
    "started",
    "cancelling",
    "force_cancelling",
    "kill_cancelling",
];

impl Runner {
    pub fn new(executors: Executors, settings: stratus_engine::Settings) -> Runner {
        Runner {
            inboxes: Mutex::new(HashMap::new()),
            executors,
            settings,
        }
    }

    fn inboxes(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(String, String), mpsc::UnboundedSender<Input>>> {
        self.inboxes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends to a running execution; false when it is not running here.
    pub fn send(&self, tenant: &str, id: &str, input: Input) -> bool {
        self.inboxes()
            .get(&(tenant.to_string(), id.to_string()))
            .is_some_and(|inbox| inbox.send(input).is_ok())
    }

    pub fn is_running(&self, tenant: &str, id: &str) -> bool {
        self.inboxes()
            .contains_key(&(tenant.to_string(), id.to_string()))
    }

    fn forget(&self, tenant: &str, id: &str) {
        self.inboxes().remove(&(tenant.to_string(), id.to_string()));
    }
}

/// Starts driving an execution (stored `pending`, or interrupted) unless it already runs.
pub fn start(app: &App, tenant: &str, id: &str) {
    let key = (tenant.to_string(), id.to_string());
    let (sender, receiver) = mpsc::unbounded_channel();
    {
        let mut inboxes = app.runner.inboxes();
        if inboxes.contains_key(&key) {
            return;
        }
        inboxes.insert(key, sender.clone());
    }
    let (app, tenant, id) = (app.clone(), tenant.to_string(), id.to_string());
    tokio::spawn(async move {
        actor::drive(app.clone(), tenant.clone(), id.clone(), receiver, sender).await;
        app.runner.forget(&tenant, &id);
        start_next_queued(&app, &tenant, &id).await;
    });
}

/// After a restart: every execution that was running (or waiting to start) goes on.
pub fn resume_all(app: &App) -> usize {
    let active: Vec<(String, String)> = app.shared.read(|tables| {
        tables
            .table(kind::EXECUTIONS)
            .rows()
            .filter(|row| ACTIVE.contains(&row.str_field("status")))
            .filter(|row| row.field("is_system_workflow") != Some(&Value::Bool(true)))
            .map(|row| (row.tenant.clone(), row.id.clone()))
            .collect()
    });
    for (tenant, id) in &active {
        start(app, tenant, id);
    }
    active.len()
}

/// When an execution ends, the oldest queued one of the same deployment starts.
async fn start_next_queued(app: &App, tenant: &str, finished: &str) {
    let deployment = app.shared.read(|tables| {
        tables
            .get(kind::EXECUTIONS, tenant, finished)
            .map(|row| row.str_field("deployment_id").to_string())
    });
    let Some(deployment) = deployment else { return };
    let next = app.shared.write(|tables| {
        if crate::resources::executions::running(tables, tenant, &deployment).is_some() {
            return Ok((Vec::new(), None));
        }
        let queued = tables
            .table(kind::EXECUTIONS)
            .rows()
            .filter(|row| row.tenant == tenant && row.str_field("deployment_id") == deployment)
            .filter(|row| row.str_field("status") == "queued")
            .min_by(|a, b| a.str_field("created_at").cmp(b.str_field("created_at")))
            .cloned();
        let Some(row) = queued else {
            return Ok((Vec::new(), None));
        };
        let mut body = row.body();
        if let Value::Object(map) = &mut body {
            crate::resources::executions::set_status(map, "pending", &crate::clock::now());
        }
        let write = stratus_store::Write::Put {
            kind: kind::EXECUTIONS.into(),
            tenant: tenant.to_string(),
            id: row.id.clone(),
            body,
            expected_version: Some(row.version),
        };
        Ok((vec![write], Some(row.id.clone())))
    });
    if let Ok((Some(id), _)) = next.await {
        start(app, tenant, &id);
    }
}
