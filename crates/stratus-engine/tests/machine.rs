//! The execution state machine: happy path, concurrency, retries, failures, cancel, stale
//! results, determinism, and resume after a crash at every step boundary.

mod common;

use common::*;
use serde_json::Value;
use stratus_engine::{
    build, CancelKind, Command, Event, Execution, Filter, Settings, Status, TaskKind, TaskState,
    Workflow,
};

fn settings() -> Settings {
    Settings {
        max_in_flight: 4,
        default_max_retries: 60,
        default_retry_interval_ms: 15_000,
        wait_after_fail_ms: 600_000,
    }
}

#[test]
fn install_runs_every_operation_once_and_sets_states_in_order() {
    let graph = install_graph("chain.expected.json");
    let ops = operations(&graph);
    let mut sim = Sim::new(Execution::new(graph, settings()));
    sim.step(Event::Started);
    assert_eq!(sim.run_to_end(), Status::Terminated);
    assert_eq!(sim.runs.len(), ops.len());
    assert!(sim.runs.values().all(|&n| n == 1));
    assert_eq!(sim.events.first().unwrap(), "workflow_started");
    assert_eq!(sim.events.last().unwrap(), "workflow_succeeded");
    let deployment = reference_deployment("chain.expected.json", "uninitialized");
    for instance in &deployment.instances {
        let states: Vec<&str> = sim
            .states
            .iter()
            .filter(|(i, _)| *i == instance.id)
            .map(|(_, s)| s.as_str())
            .collect();
        assert_eq!(
            states,
            [
                "initializing",
                "creating",
                "created",
                "configuring",
                "configured",
                "starting",
                "started"
            ]
            .iter()
            .copied()
            .filter(|s| {
                // a node without create or configure skips those states
                let node = deployment.node_of(instance);
                match *s {
                    "creating" | "created" => {
                        node.has_operation("cloudify.interfaces.lifecycle.create")
                    }
                    "configuring" | "configured" => {
                        node.has_operation("cloudify.interfaces.lifecycle.configure")
                    }
                    "starting" => node.has_operation("cloudify.interfaces.lifecycle.start"),
                    _ => true,
                }
            })
            .collect::<Vec<_>>(),
            "{}",
            instance.id
        );
    }
}

#[test]
fn concurrency_limit_holds() {
    let tasks = (0..20)
        .map(|i| (op(&format!("n{i}"), None, None), vec![]))
        .collect();
    let mut sim = Sim::new(Execution::new(
        graph(tasks),
        Settings {
            max_in_flight: 3,
            ..settings()
        },
    ));
    sim.step(Event::Started);
    assert_eq!(sim.queue.len(), 3);
    assert_eq!(sim.run_to_end(), Status::Terminated);
    assert_eq!(sim.max_outstanding, 3);
    assert_eq!(sim.runs.len(), 20);
}

#[test]
fn unlimited_concurrency_dispatches_all_ready() {
    let tasks = (0..20)
        .map(|i| (op(&format!("n{i}"), None, None), vec![]))
        .collect();
    let mut sim = Sim::new(Execution::new(
        graph(tasks),
        Settings {
            max_in_flight: 0,
            ..settings()
        },
    ));
    sim.step(Event::Started);
    assert_eq!(sim.queue.len(), 20);
}

fn fail(id: u32, recoverable: bool) -> Event {
    Event::TaskFailed {
        id,
        error: "boom".into(),
        recoverable,
        retry_after_ms: None,
    }
}

#[test]
fn recoverable_failures_retry_after_the_interval_up_to_max_retries() {
    let g = graph(vec![
        (op("a", Some(2), Some(5_000)), vec![]),
        (op("b", None, None), vec![0]),
    ]);
    let mut sim = Sim::new(Execution::new(g, settings()));
    sim.step(Event::Started);
    assert_eq!(sim.queue.pop_front(), Some(0));
    sim.step(fail(0, true));
    assert_eq!(sim.wake, Some(6_000));
    assert!(sim.queue.is_empty());
    assert_eq!(
        sim.exec.progress().tasks[0],
        TaskState::Waiting {
            attempt: 1,
            at: 6_000
        }
    );
    // not due yet
    sim.now = 5_999;
    sim.step(Event::Tick);
    assert!(sim.queue.is_empty());
    sim.now = 6_000;
    sim.wake = None;
    sim.step(Event::Tick);
    assert_eq!(sim.queue.pop_front(), Some(0));
    assert!(matches!(
        sim.log
            .iter()
            .rev()
            .find(|c| matches!(c, Command::RunTask { .. })),
        Some(Command::RunTask {
            attempt: 2,
            max_retries: 2,
            retry_interval_ms: 5_000,
            redelivery: false,
            ..
        })
    ));
    sim.step(fail(0, true));
    sim.now = sim.wake.take().unwrap();
    sim.step(Event::Tick);
    assert_eq!(sim.queue.pop_front(), Some(0));
    // third failure: retries (2) exhausted
    sim.step(fail(0, true));
    assert_eq!(sim.exec.progress().tasks[0], TaskState::Failed);
    assert_eq!(sim.finished, Some(Status::Failed));
    assert_eq!(sim.runs.get(&0), Some(&3));
    assert_eq!(
        sim.runs.get(&1),
        None,
        "dependent of a failed task never runs"
    );
}

#[test]
fn manager_defaults_apply_when_the_operation_sets_none() {
    let g = graph(vec![(op("a", None, None), vec![])]);
    let mut sim = Sim::new(Execution::new(g, Settings::default()));
    sim.step(Event::Started);
    assert!(matches!(
        &sim.log[1..],
        [
            Command::Emit(_),
            Command::RunTask {
                max_retries: 60,
                retry_interval_ms: 15_000,
                ..
            }
        ]
    ));
    sim.queue.clear();
    sim.step(fail(0, true));
    assert_eq!(sim.wake, Some(1_000 + 15_000));
}

#[test]
fn non_recoverable_failure_is_final_and_retry_after_overrides_interval() {
    let g = graph(vec![
        (op("a", Some(5), Some(1_000)), vec![]),
        (op("b", Some(5), Some(1_000)), vec![]),
    ]);
    let mut sim = Sim::new(Execution::new(g, settings()));
    sim.step(Event::Started);
    sim.queue.clear();
    sim.step(Event::TaskFailed {
        id: 1,
        error: "x".into(),
        recoverable: true,
        retry_after_ms: Some(42),
    });
    assert_eq!(sim.wake, Some(1_042));
    sim.step(fail(0, false));
    assert_eq!(sim.exec.progress().tasks[0], TaskState::Failed);
    assert_eq!(sim.finished, None, "b may still retry (wait_after_fail)");
    sim.now = 1_042;
    sim.step(Event::Tick);
    sim.step(Event::TaskSucceeded {
        id: 1,
        result: Value::Null,
    });
    assert_eq!(sim.finished, Some(Status::Failed));
    assert_eq!(sim.events.last().unwrap(), "workflow_failed");
}

#[test]
fn infinite_retries_and_retry_requests() {
    let g = graph(vec![(op("a", Some(-1), Some(10)), vec![])]);
    let mut sim = Sim::new(Execution::new(g, settings()));
    sim.step(Event::Started);
    for _ in 0..100 {
        sim.queue.clear();
        sim.step(Event::TaskRetryRequested {
            id: 0,
            message: "not yet".into(),
            retry_after_ms: None,
        });
        sim.now = sim.wake.take().unwrap();
        sim.step(Event::Tick);
    }
    assert!(sim.events.iter().any(|e| e == "task_rescheduled"));
    assert_eq!(sim.run_to_end(), Status::Terminated);
    assert_eq!(sim.runs[&0], 101);
}

#[test]
fn retry_requests_count_against_max_retries() {
    let g = graph(vec![(op("a", Some(1), Some(10)), vec![])]);
    let mut sim = Sim::new(Execution::new(g, settings()));
    sim.step(Event::Started);
    sim.queue.clear();
    sim.step(Event::TaskRetryRequested {
        id: 0,
        message: "wait".into(),
        retry_after_ms: None,
    });
    sim.now = sim.wake.take().unwrap();
    sim.step(Event::Tick);
    sim.queue.clear();
    sim.step(Event::TaskRetryRequested {
        id: 0,
        message: "wait".into(),
        retry_after_ms: None,
    });
    assert_eq!(sim.finished, Some(Status::Failed));
}

#[test]
fn uninstall_with_ignore_failure_continues_past_failures() {
    let deployment = reference_deployment("chain.expected.json", "started");
    for ignore_failure in [true, false] {
        let g = build(
            &deployment,
            &Workflow::Uninstall {
                filter: Filter::default(),
                ignore_failure,
            },
        )
        .unwrap();
        let ops = operations(&g);
        let mut sim = Sim::new(Execution::new(g, settings()));
        sim.step(Event::Started);
        let mut failed = 0;
        while sim.finished.is_none() {
            let Some(id) = sim.queue.pop_front() else {
                panic!("stuck")
            };
            // every stop operation fails for good
            let is_stop = sim
                .exec
                .graph()
                .task(id)
                .operation()
                .unwrap()
                .operation
                .ends_with(".stop");
            if is_stop {
                failed += 1;
                sim.step(fail(id, false));
            } else {
                sim.step(Event::TaskSucceeded {
                    id,
                    result: Value::Null,
                });
            }
        }
        if ignore_failure {
            assert_eq!(sim.finished, Some(Status::Terminated));
            assert_eq!(sim.runs.len(), ops.len());
            assert!(sim.events.iter().any(|e| e == "task_ignored"));
            assert!(sim.states.iter().any(|(_, s)| s == "deleted"));
        } else {
            assert_eq!(
                failed,
                sim.runs
                    .keys()
                    .filter(|&&id| sim
                        .exec
                        .graph()
                        .task(id)
                        .operation()
                        .unwrap()
                        .operation
                        .ends_with(".stop"))
                    .count()
            );
            assert_eq!(sim.finished, Some(Status::Failed));
            assert!(sim.runs.len() < ops.len());
        }
    }
}

#[test]
fn wait_after_fail_ends_the_execution_with_tasks_in_flight() {
    let g = graph(vec![
        (op("a", Some(0), None), vec![]),
        (op("b", None, None), vec![]),
    ]);
    let mut sim = Sim::new(Execution::new(
        g,
        Settings {
            wait_after_fail_ms: 100,
            ..settings()
        },
    ));
    sim.step(Event::Started);
    sim.step(fail(0, true));
    assert_eq!(sim.finished, None);
    assert_eq!(sim.wake, Some(1_100));
    sim.now = 1_100;
    sim.step(Event::Tick);
    assert_eq!(sim.finished, Some(Status::Failed));
}

#[test]
fn graceful_cancel_waits_for_in_flight_tasks_and_dispatches_nothing_new() {
    let g = graph(vec![
        (op("a", None, None), vec![]),
        (op("b", None, None), vec![0]),
        (op("c", None, None), vec![]),
    ]);
    let mut sim = Sim::new(Execution::new(g, settings()));
    sim.step(Event::Started);
    assert_eq!(sim.queue.len(), 2);
    sim.step(Event::CancelRequested(CancelKind::Cancel));
    assert_eq!(sim.exec.status(), Status::Cancelling);
    sim.step(Event::TaskSucceeded {
        id: 0,
        result: Value::Null,
    });
    assert_eq!(sim.runs.get(&1), None, "b is not dispatched after cancel");
    assert_eq!(sim.finished, None);
    sim.step(Event::TaskSucceeded {
        id: 2,
        result: Value::Null,
    });
    assert_eq!(sim.finished, Some(Status::Cancelled));
    assert_eq!(sim.events.last().unwrap(), "workflow_cancelled");
}

#[test]
fn force_cancel_and_kill_end_now() {
    for kind in [CancelKind::ForceCancel, CancelKind::Kill] {
        let g = graph(vec![
            (op("a", None, None), vec![]),
            (op("b", None, None), vec![]),
        ]);
        let mut sim = Sim::new(Execution::new(g, settings()));
        sim.step(Event::Started);
        sim.step(Event::CancelRequested(kind));
        assert_eq!(sim.finished, Some(Status::Cancelled));
        let aborted = sim
            .log
            .iter()
            .any(|c| matches!(c, Command::Abort { ids } if ids == &vec![0, 1]));
        assert_eq!(aborted, kind == CancelKind::Kill);
        // later results change nothing
        let before = sim.log.len();
        sim.step(Event::TaskSucceeded {
            id: 0,
            result: Value::Null,
        });
        assert_eq!(sim.log.len(), before);
    }
}

#[test]
fn stale_duplicate_and_unknown_results_are_ignored() {
    let g = graph(vec![
        (op("a", None, None), vec![]),
        (op("b", None, None), vec![0]),
    ]);
    let mut sim = Sim::new(Execution::new(g, settings()));
    sim.step(Event::Started);
    sim.step(Event::TaskSucceeded {
        id: 1,
        result: Value::Null,
    }); // not sent yet
    assert_eq!(sim.exec.progress().tasks[1], TaskState::Pending);
    sim.step(Event::TaskSucceeded {
        id: 99,
        result: Value::Null,
    });
    sim.step(fail(99, true));
    sim.step(Event::TaskStarted { id: 99 });
    sim.queue.clear();
    sim.step(Event::TaskSucceeded {
        id: 0,
        result: Value::Null,
    });
    let n = sim.log.len();
    sim.step(Event::TaskSucceeded {
        id: 0,
        result: Value::Null,
    });
    sim.step(fail(0, false));
    assert_eq!(sim.log.len(), n);
    assert_eq!(sim.runs[&1], 1);
}

#[test]
fn instant_tasks_do_not_count_against_the_limit() {
    let g = graph(vec![
        (op("a", None, None), vec![]),
        (
            TaskKind::SetState {
                instance: "x".into(),
                state: "s".into(),
            },
            vec![],
        ),
        (
            TaskKind::Event {
                instance: None,
                message: "m".into(),
            },
            vec![1],
        ),
        (op("b", None, None), vec![]),
    ]);
    let mut sim = Sim::new(Execution::new(
        g,
        Settings {
            max_in_flight: 1,
            ..settings()
        },
    ));
    sim.step(Event::Started);
    assert_eq!(sim.queue.len(), 1);
    assert_eq!(sim.states.len(), 1);
    assert!(sim.events.iter().any(|e| e == "workflow_node_event"));
    assert_eq!(sim.run_to_end(), Status::Terminated);
}

#[test]
fn command_streams_are_deterministic() {
    let run = || {
        let mut sim = Sim::new(Execution::new(
            install_graph("nested.expected.json"),
            settings(),
        ));
        sim.step(Event::Started);
        sim.run_to_end();
        serde_json::to_string(&sim.log).unwrap()
    };
    assert_eq!(run(), run());
}

/// The reference run's events, replayed: for every prefix, crash (drop everything but the
/// persisted progress), resume and finish. Completed tasks never run again; only tasks in
/// flight at the crash run twice; everything completes.
#[test]
fn resume_after_a_crash_at_every_step_boundary() {
    for (name, limit, with_failures) in [
        ("chain.expected.json", 3, false),
        ("full.expected.json", 0, false),
        ("chain.expected.json", 2, true),
    ] {
        let graph = install_graph(name);
        let settings = Settings {
            max_in_flight: limit,
            default_retry_interval_ms: 5,
            ..settings()
        };
        // Record the reference event sequence; with_failures makes every 3rd task fail once.
        let mut sim = Sim::new(Execution::new(graph.clone(), settings.clone()));
        let mut events = vec![Event::Started];
        sim.step(Event::Started);
        let mut failed_once = std::collections::HashSet::new();
        let mut counter = 0;
        while sim.finished.is_none() {
            let event = if let Some(id) = sim.queue.pop_front() {
                counter += 1;
                if with_failures && counter % 3 == 0 && failed_once.insert(id) {
                    fail(id, true)
                } else {
                    Event::TaskSucceeded {
                        id,
                        result: Value::Null,
                    }
                }
            } else {
                sim.now = sim.wake.take().expect("stuck");
                Event::Tick
            };
            events.push(event.clone());
            sim.step(event);
        }
        assert_eq!(sim.finished, Some(Status::Terminated));

        let mut resumed = 0;
        for cut in 0..=events.len() {
            // Replay the first `cut` events, then crash.
            let mut before = Sim::new(Execution::new(graph.clone(), settings.clone()));
            for event in &events[..cut] {
                if matches!(event, Event::Tick) {
                    before.now = before.wake.take().unwrap_or(before.now).max(before.now);
                }
                before.step(event.clone());
            }
            let persisted = before.persisted.clone();
            let progress: stratus_engine::Progress = serde_json::from_str(&persisted).unwrap();
            let completed: Vec<u32> = (0..graph.len() as u32)
                .filter(|&i| progress.tasks[i as usize].is_done())
                .collect();
            let in_flight: Vec<u32> = (0..graph.len() as u32)
                .filter(|&i| matches!(progress.tasks[i as usize], TaskState::Sent { .. }))
                .collect();
            if before.finished.is_some() {
                continue;
            }
            resumed += 1;
            let mut after = Sim::resume_from(&persisted, graph.clone(), settings.clone());
            after.now = before.now;
            // Re-dispatch of in-flight tasks is a redelivery.
            for command in &after.log {
                if let Command::RunTask { id, redelivery, .. } = command {
                    if in_flight.contains(id) {
                        assert!(
                            *redelivery,
                            "{name} cut {cut}: in-flight task {id} not marked redelivery"
                        );
                    }
                }
            }
            let status = after.run_to_end();
            assert_eq!(status, Status::Terminated, "{name} cut {cut}");
            for id in &completed {
                assert!(
                    !after.runs.contains_key(id),
                    "{name} cut {cut}: completed task {id} ran again"
                );
            }
            for id in &in_flight {
                assert!(
                    after.runs.contains_key(id),
                    "{name} cut {cut}: in-flight task {id} was lost"
                );
            }
            // Every operation ran exactly once over both lives, except in-flight ones (twice)
            // and retried ones.
            for id in operations(&graph) {
                let total = before.runs.get(&id).copied().unwrap_or(0)
                    + after.runs.get(&id).copied().unwrap_or(0);
                let extra = u32::from(in_flight.contains(&id))
                    + u32::from(with_failures && failed_once.contains(&id));
                assert!(
                    total >= 1 && total <= 1 + extra,
                    "{name} cut {cut}: task {id} ran {total} times"
                );
            }
        }
        assert!(
            resumed + 1 >= events.len(),
            "{name}: {resumed} of {} cuts resumed",
            events.len()
        );
        eprintln!("{name}: resumed at {resumed} step boundaries");
    }
}

#[test]
fn force_resume_reruns_failed_tasks_plain_resume_does_not() {
    let g = graph(vec![
        (op("a", Some(0), None), vec![]),
        (op("b", None, None), vec![0]),
    ]);
    let mut sim = Sim::new(Execution::new(g.clone(), settings()));
    sim.step(Event::Started);
    sim.queue.clear();
    sim.step(fail(0, false));
    assert_eq!(sim.finished, Some(Status::Failed));
    let persisted = sim.persisted.clone();
    let resumed = Sim::resume_from(&persisted, g.clone(), settings());
    assert!(
        resumed.log.is_empty(),
        "plain resume of a failed execution does nothing"
    );
    let progress = serde_json::from_str(&persisted).unwrap();
    let mut forced = Sim::new(Execution::resume(g, settings(), progress));
    forced.step(Event::Resumed { force: true });
    assert_eq!(forced.run_to_end(), Status::Terminated);
    assert_eq!(forced.runs.len(), 2);
}
