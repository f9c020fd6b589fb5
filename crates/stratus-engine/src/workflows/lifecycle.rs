//! Install, uninstall and reinstall of a set of node instances: the reference's
//! `cloudify/plugins/lifecycle.py` (`LifecycleProcessor`, `install_node_instance_subgraph`,
//! `uninstall_node_instance_subgraph`, `_relationships_operations`) translated step by step, so
//! that the two can be read side by side. Each instance gets a subgraph holding its sequence;
//! "intact" instances (related, not processed) get empty stubs so that ordering through them
//! still holds, plus `establish` / `unlink` operations for relationships to processed ones.

use std::collections::{HashMap, HashSet};

use super::{event, op_step, relationship_op, set_state, WorkflowError};
use crate::graph::{Builder, Step, Subgraph, TaskId, TaskKind};
use crate::model::{Deployment, NodeInstance};

const LIFECYCLE: &str = "cloudify.interfaces.lifecycle";

fn lifecycle(name: &str) -> String {
    format!("{LIFECYCLE}.{name}")
}

/// An instance's subgraph and, for each operation task in it, the ids of the step that
/// follows (the reference's `_dependents` of that task, used by relationship `operation`).
pub(crate) struct InstanceSubgraph {
    pub subgraph: Subgraph,
    pub followers: HashMap<String, Vec<TaskId>>,
}

pub(crate) struct Processor<'a> {
    pub deployment: &'a Deployment,
    /// Processed instances, in deployment order.
    pub instances: Vec<&'a NodeInstance>,
    /// Related ("intact") instances, in deployment order.
    pub intact: Vec<&'a NodeInstance>,
    pub ignore_failure: bool,
    pub name_prefix: String,
    /// Instance states to build from (a reinstall builds its install half from `deleted`).
    pub state_override: Option<&'a str>,
}

impl<'a> Processor<'a> {
    pub fn new(
        deployment: &'a Deployment,
        selected: &HashSet<String>,
        ignore_failure: bool,
        name_prefix: &str,
    ) -> Processor<'a> {
        let (instances, intact) = deployment
            .instances
            .iter()
            .partition(|i| selected.contains(&i.id));
        Processor {
            deployment,
            instances,
            intact,
            ignore_failure,
            name_prefix: name_prefix.to_string(),
            state_override: None,
        }
    }

    fn state<'s>(&'s self, instance: &'s NodeInstance) -> &'s str {
        self.state_override.unwrap_or(&instance.state)
    }

    /// Adds the install graph; returns every subgraph's end (for barriers).
    pub fn install(&self, builder: &mut Builder) -> Result<Vec<TaskId>, WorkflowError> {
        self.process(builder, true)
    }

    pub fn uninstall(&self, builder: &mut Builder) -> Result<Vec<TaskId>, WorkflowError> {
        self.process(builder, false)
    }

    fn process(&self, builder: &mut Builder, install: bool) -> Result<Vec<TaskId>, WorkflowError> {
        let processed: HashSet<&str> = self.instances.iter().map(|i| i.id.as_str()).collect();
        let mut subgraphs: HashMap<&str, InstanceSubgraph> = HashMap::new();
        let mut ends = Vec::new();
        for instance in &self.instances {
            let name = if install {
                format!("{}install_{}", self.name_prefix, instance.id)
            } else {
                format!("{}{}", self.name_prefix, instance.id)
            };
            let first = builder.tasks.len();
            let subgraph = Subgraph::new(builder, &name);
            let steps = if install {
                self.install_steps(instance)?
            } else {
                self.uninstall_steps(instance)?
            };
            let created = subgraph.sequence(builder, steps);
            if !install && self.ignore_failure {
                for task in &mut builder.tasks[first..] {
                    task.ignore_failure = true;
                }
            }
            let mut followers = HashMap::new();
            for (i, ids) in created.iter().enumerate() {
                for &id in ids {
                    if let TaskKind::Operation(op) = &builder.tasks[id as usize].kind {
                        if op.related.is_none() {
                            let next = created.get(i + 1).cloned().unwrap_or_default();
                            followers.insert(op.operation.clone(), next);
                        }
                    }
                }
            }
            ends.push(subgraph.end);
            subgraphs.insert(
                instance.id.as_str(),
                InstanceSubgraph {
                    subgraph,
                    followers,
                },
            );
        }
        for instance in &self.intact {
            let subgraph = Subgraph::new(builder, &format!("stub_{}", instance.id));
            ends.push(subgraph.end);
            subgraphs.insert(
                instance.id.as_str(),
                InstanceSubgraph {
                    subgraph,
                    followers: HashMap::new(),
                },
            );
        }
        self.add_dependencies(builder, &subgraphs, &self.instances, install, &processed);
        self.add_dependencies(builder, &subgraphs, &self.intact, install, &processed);
        // Operations for intact instances related to processed ones (`_finish_subgraphs`).
        let intact_op = if install {
            "cloudify.interfaces.relationship_lifecycle.establish"
        } else {
            "cloudify.interfaces.relationship_lifecycle.unlink"
        };
        for instance in &self.intact {
            let mut steps = Vec::new();
            let relationships: Vec<_> = if install {
                instance.relationships.iter().collect()
            } else {
                instance.relationships.iter().rev().collect()
            };
            for rel in relationships {
                if !processed.contains(rel.target_id.as_str()) {
                    continue;
                }
                for side in [crate::graph::Side::Source, crate::graph::Side::Target] {
                    if let Some(kind) =
                        relationship_op(self.deployment, instance, rel, side, intact_op)?
                    {
                        steps.push(Step::One(kind));
                    }
                }
            }
            if !steps.is_empty() {
                let first = builder.tasks.len();
                subgraphs[instance.id.as_str()]
                    .subgraph
                    .sequence(builder, steps);
                if !install {
                    // `set_send_node_event_on_error_handler`: failures are reported and ignored.
                    for task in &mut builder.tasks[first..] {
                        task.ignore_failure = true;
                    }
                }
            }
        }
        Ok(ends)
    }

    fn add_dependencies(
        &self,
        builder: &mut Builder,
        subgraphs: &HashMap<&str, InstanceSubgraph>,
        instances: &[&NodeInstance],
        install: bool,
        _processed: &HashSet<&str>,
    ) {
        for instance in instances {
            let node = self.deployment.node_of(instance);
            let relationships: Vec<_> = if install {
                instance.relationships.iter().collect()
            } else {
                instance.relationships.iter().rev().collect()
            };
            for rel in relationships {
                let (Some(source), Some(target)) = (
                    subgraphs.get(instance.id.as_str()),
                    subgraphs.get(rel.target_id.as_str()),
                ) else {
                    continue;
                };
                let operation = node
                    .relationship_to(&rel.target_name)
                    .and_then(|r| r.properties.get("operation"))
                    .and_then(|v| v.as_str())
                    .filter(|s| !s.is_empty());
                let (waiting, waited) = if install {
                    (source, target)
                } else {
                    (target, source)
                };
                match operation {
                    None => builder.depend(waiting.subgraph.start, waited.subgraph.end),
                    Some(operation) => {
                        // Wait only for the step after the named lifecycle operation; no such
                        // operation in the graph means no dependency (as in the reference).
                        if let Some(next) = waited.followers.get(&lifecycle(operation)) {
                            for &id in next {
                                builder.depend(waiting.subgraph.start, id);
                            }
                        }
                    }
                }
            }
        }
    }

    /// `_relationships_operations`: per run of relationships to one target node, a fork of
    /// their non-empty source and target operations; in reverse for unlink.
    fn relationships_operations(
        &self,
        instance: &NodeInstance,
        operation: &str,
        reverse: bool,
    ) -> Result<Option<Step>, WorkflowError> {
        let mut groups: Vec<Vec<TaskKind>> = Vec::new();
        let mut current_target: Option<&str> = None;
        let mut current: Vec<TaskKind> = Vec::new();
        for rel in &instance.relationships {
            if current_target != Some(rel.target_name.as_str()) {
                if !current.is_empty() {
                    groups.push(std::mem::take(&mut current));
                }
                current_target = Some(rel.target_name.as_str());
            }
            for side in [crate::graph::Side::Source, crate::graph::Side::Target] {
                if let Some(kind) =
                    relationship_op(self.deployment, instance, rel, side, operation)?
                {
                    current.push(kind);
                }
            }
        }
        if !current.is_empty() {
            groups.push(current);
        }
        if groups.is_empty() {
            return Ok(None);
        }
        if reverse {
            groups.reverse();
        }
        Ok(Some(Step::Nested(
            groups.into_iter().map(Step::Fork).collect(),
        )))
    }

    /// `_skip_nop_operations(pre, task, post)`.
    fn skip_nop(pre: Option<Step>, task: Option<Step>, post: Option<Step>) -> Vec<Step> {
        match task {
            None => Vec::new(),
            Some(task) => pre.into_iter().chain([task]).chain(post).collect(),
        }
    }

    fn node_op(&self, instance: &NodeInstance, name: &str) -> Result<Option<Step>, WorkflowError> {
        Ok(op_step(self.deployment, instance, name, None, false)?.map(Step::One))
    }

    fn install_steps(&self, instance: &NodeInstance) -> Result<Vec<Step>, WorkflowError> {
        let id = &instance.id;
        let node = self.deployment.node_of(instance);
        let state = self.state(instance);
        let ev = |m: &str| Step::One(event(id, m));
        let set = |s: &str| set_state(id, s);
        let (creation_validation, precreate) = if [
            "started",
            "starting",
            "created",
            "creating",
            "configured",
            "configuring",
        ]
        .contains(&state)
        {
            (Vec::new(), Vec::new())
        } else {
            let validation = if node.has_operation("cloudify.interfaces.validation.create") {
                Self::skip_nop(
                    Some(ev("Validating node instance before creation")),
                    self.node_op(instance, "cloudify.interfaces.validation.create")?,
                    Some(ev("Node instance validated before creation")),
                )
            } else {
                Vec::new()
            };
            let precreate = if node.has_operation(&lifecycle("precreate")) {
                Self::skip_nop(
                    Some(ev("Precreating node instance")),
                    self.node_op(instance, &lifecycle("precreate"))?,
                    Some(ev("Node instance precreated")),
                )
            } else {
                Vec::new()
            };
            (validation, precreate)
        };
        let create = if [
            "started",
            "starting",
            "created",
            "configuring",
            "configured",
        ]
        .contains(&state)
        {
            Vec::new()
        } else {
            Self::skip_nop(
                Some(Step::Fork(vec![
                    event(id, "Creating node instance"),
                    set("creating"),
                ])),
                self.node_op(instance, &lifecycle("create"))?,
                Some(Step::Fork(vec![
                    event(id, "Node instance created"),
                    set("created"),
                ])),
            )
        };
        let (preconf, configure) = if ["started", "starting", "configured"].contains(&state) {
            (Vec::new(), Vec::new())
        } else {
            (
                Self::skip_nop(
                    Some(ev("Pre-configuring relationships")),
                    self.relationships_operations(
                        instance,
                        "cloudify.interfaces.relationship_lifecycle.preconfigure",
                        false,
                    )?,
                    Some(ev("Relationships pre-configured")),
                ),
                Self::skip_nop(
                    Some(Step::Fork(vec![
                        set("configuring"),
                        event(id, "Configuring node instance"),
                    ])),
                    self.node_op(instance, &lifecycle("configure"))?,
                    Some(Step::Fork(vec![
                        set("configured"),
                        event(id, "Node instance configured"),
                    ])),
                ),
            )
        };
        let mut postconf = Vec::new();
        let mut start = Vec::new();
        let mut host_post_start = Vec::new();
        let mut poststart = Vec::new();
        let mut monitoring_start = Vec::new();
        let mut establish = Vec::new();
        if state != "started" {
            postconf = Self::skip_nop(
                Some(ev("Post-configuring relationships")),
                self.relationships_operations(
                    instance,
                    "cloudify.interfaces.relationship_lifecycle.postconfigure",
                    false,
                )?,
                Some(ev("Relationships post-configured")),
            );
            start = Self::skip_nop(
                Some(Step::Fork(vec![
                    set("starting"),
                    event(id, "Starting node instance"),
                ])),
                self.node_op(instance, &lifecycle("start"))?,
                None,
            );
            if node.is_compute() {
                host_post_start = self.host_post_start(instance)?;
            }
            if node.has_operation(&lifecycle("poststart")) {
                poststart = Self::skip_nop(
                    Some(ev("Poststarting node instance")),
                    self.node_op(instance, &lifecycle("poststart"))?,
                    Some(ev("Node instance poststarted")),
                );
            }
            monitoring_start = Self::skip_nop(
                None,
                self.node_op(instance, "cloudify.interfaces.monitoring.start")?,
                None,
            );
            establish = Self::skip_nop(
                Some(ev("Establishing relationships")),
                self.relationships_operations(
                    instance,
                    "cloudify.interfaces.relationship_lifecycle.establish",
                    false,
                )?,
                Some(ev("Relationships established")),
            );
        }
        let anything = [
            &creation_validation,
            &precreate,
            &create,
            &preconf,
            &configure,
            &postconf,
            &start,
            &host_post_start,
            &poststart,
            &monitoring_start,
            &establish,
        ]
        .iter()
        .any(|s| !s.is_empty())
            // `_host_post_start` always holds the host's get_state task, a NOP or not.
            || (state != "started" && node.is_compute());
        let or = |steps: Vec<Step>, message: &str| {
            if steps.is_empty() {
                vec![ev(message)]
            } else {
                steps
            }
        };
        if !anything {
            return Ok(vec![Step::Fork(vec![
                set("started"),
                event(id, "Node instance started (nothing to do)"),
            ])]);
        }
        let mut steps = vec![Step::One(set("initializing"))];
        steps.extend(or(
            creation_validation,
            "Validating node instance before creation: nothing to do",
        ));
        steps.extend(or(precreate, "Precreating node instance: nothing to do"));
        steps.extend(or(create, "Creating node instance: nothing to do"));
        steps.extend(preconf);
        steps.extend(or(configure, "Configuring node instance: nothing to do"));
        steps.extend(postconf);
        steps.extend(or(start, "Starting node instance: nothing to do"));
        steps.extend(host_post_start);
        steps.extend(or(poststart, "Poststarting node instance: nothing to do"));
        steps.extend(monitoring_start);
        steps.extend(establish);
        steps.push(Step::Fork(vec![
            set("started"),
            event(id, "Node instance started"),
        ]));
        Ok(steps)
    }

    /// `_host_post_start`: host get_state, agent installation (unless `install_method: none`),
    /// monitoring agent. Absent operations are skipped.
    fn host_post_start(&self, instance: &NodeInstance) -> Result<Vec<Step>, WorkflowError> {
        let node = self.deployment.node_of(instance);
        let id = &instance.id;
        let ev = |m: &str| Step::One(event(id, m));
        let mut steps: Vec<Step> = Vec::new();
        let push_op = |steps: &mut Vec<Step>, name: &str| -> Result<(), WorkflowError> {
            if let Some(step) = self.node_op(instance, name)? {
                steps.push(step);
            }
            Ok(())
        };
        push_op(&mut steps, "cloudify.interfaces.host.get_state")?;
        let method = node.install_method.as_str();
        if method != "none" {
            if node.has_operation("cloudify.interfaces.worker_installer.install") {
                steps.push(ev("Installing agent"));
                push_op(&mut steps, "cloudify.interfaces.worker_installer.install")?;
                steps.push(ev("Agent installed"));
                steps.push(ev("Starting agent"));
                push_op(&mut steps, "cloudify.interfaces.worker_installer.start")?;
                steps.push(ev("Agent started"));
            } else {
                steps.push(ev("Creating agent"));
                push_op(&mut steps, "cloudify.interfaces.cloudify_agent.create")?;
                steps.push(ev("Agent created"));
                if method == "plugin" || method == "init_script" {
                    steps.push(ev("Waiting for agent to start"));
                    push_op(&mut steps, "cloudify.interfaces.cloudify_agent.start")?;
                    steps.push(ev("Agent started"));
                }
            }
        }
        push_op(&mut steps, "cloudify.interfaces.monitoring_agent.install")?;
        push_op(&mut steps, "cloudify.interfaces.monitoring_agent.start")?;
        Ok(steps)
    }

    /// `_host_pre_stop`.
    fn host_pre_stop(&self, instance: &NodeInstance) -> Result<Vec<Step>, WorkflowError> {
        let node = self.deployment.node_of(instance);
        let id = &instance.id;
        let ev = |m: &str| Step::One(event(id, m));
        let mut steps: Vec<Step> = Vec::new();
        let push_op = |steps: &mut Vec<Step>, name: &str| -> Result<(), WorkflowError> {
            if let Some(step) = self.node_op(instance, name)? {
                steps.push(step);
            }
            Ok(())
        };
        push_op(&mut steps, "cloudify.interfaces.monitoring_agent.stop")?;
        push_op(&mut steps, "cloudify.interfaces.monitoring_agent.uninstall")?;
        let method = node.install_method.as_str();
        if method != "none" {
            steps.push(ev("Stopping agent"));
            if method == "init_script" || method == "plugin" {
                push_op(&mut steps, "cloudify.interfaces.cloudify_agent.stop_amqp")?;
                steps.push(ev("Deleting agent"));
                push_op(&mut steps, "cloudify.interfaces.cloudify_agent.delete")?;
            } else if node.has_operation("cloudify.interfaces.worker_installer.stop") {
                push_op(&mut steps, "cloudify.interfaces.worker_installer.stop")?;
                steps.push(ev("Deleting agent"));
                push_op(&mut steps, "cloudify.interfaces.worker_installer.uninstall")?;
            } else {
                push_op(&mut steps, "cloudify.interfaces.cloudify_agent.stop")?;
                steps.push(ev("Deleting agent"));
                push_op(&mut steps, "cloudify.interfaces.cloudify_agent.delete")?;
            }
        }
        steps.push(ev("Agent deleted"));
        Ok(steps)
    }

    fn uninstall_steps(&self, instance: &NodeInstance) -> Result<Vec<Step>, WorkflowError> {
        let id = &instance.id;
        let node = self.deployment.node_of(instance);
        let state = self.state(instance);
        let ev = |m: &str| Step::One(event(id, m));
        let set = |s: &str| set_state(id, s);
        let mut stop_message = Vec::new();
        let mut monitoring_stop = Vec::new();
        let mut host_pre_stop = Vec::new();
        let mut prestop = Vec::new();
        let mut deletion_validation = Vec::new();
        let stop;
        if [
            "stopped",
            "deleting",
            "deleted",
            "uninitialized",
            "configured",
        ]
        .contains(&state)
        {
            stop = vec![ev(&format!("Stop: instance already {state}"))];
        } else {
            stop_message = vec![Step::Fork(vec![
                set("stopping"),
                event(id, "Stopping node instance"),
            ])];
            monitoring_stop = Self::skip_nop(
                None,
                self.node_op(instance, "cloudify.interfaces.monitoring.stop")?,
                None,
            );
            if node.has_operation("cloudify.interfaces.validation.delete") {
                deletion_validation = Self::skip_nop(
                    Some(ev("Validating node instance before deletion")),
                    self.node_op(instance, "cloudify.interfaces.validation.delete")?,
                    Some(ev("Node instance validated before deletion")),
                );
            }
            if node.has_operation(&lifecycle("prestop")) {
                prestop = Self::skip_nop(
                    Some(ev("Prestopping node instance")),
                    self.node_op(instance, &lifecycle("prestop"))?,
                    Some(ev("Node instance prestopped")),
                );
            }
            if node.is_compute() {
                host_pre_stop = self.host_pre_stop(instance)?;
            }
            stop = Self::skip_nop(
                None,
                self.node_op(instance, &lifecycle("stop"))?,
                Some(ev("Stopped node instance")),
            );
        }
        let stopped_set_state = if ["stopped", "deleting", "deleted"].contains(&state) {
            Vec::new()
        } else {
            vec![Step::One(set("stopped"))]
        };
        let mut unlink = Vec::new();
        let mut postdelete = Vec::new();
        let delete;
        if ["deleted", "uninitialized"].contains(&state) {
            delete = vec![ev(&format!("Delete: instance already {state}"))];
        } else {
            unlink = Self::skip_nop(
                Some(ev("Unlinking relationships")),
                self.relationships_operations(
                    instance,
                    "cloudify.interfaces.relationship_lifecycle.unlink",
                    true,
                )?,
                Some(ev("Relationships unlinked")),
            );
            delete = Self::skip_nop(
                Some(Step::Fork(vec![
                    set("deleting"),
                    event(id, "Deleting node instance"),
                ])),
                self.node_op(instance, &lifecycle("delete"))?,
                None,
            );
            if node.has_operation(&lifecycle("postdelete")) {
                postdelete = Self::skip_nop(
                    Some(ev("Postdeleting node instance")),
                    self.node_op(instance, &lifecycle("postdelete"))?,
                    Some(ev("Node instance postdeleted")),
                );
            }
        }
        let finish_message = if state == "deleted" {
            Vec::new()
        } else {
            vec![Step::Fork(vec![
                set("deleted"),
                event(id, "Deleted node instance"),
            ])]
        };
        let or = |steps: Vec<Step>, message: &str| {
            if steps.is_empty() {
                vec![ev(message)]
            } else {
                steps
            }
        };
        let mut steps = stop_message;
        steps.extend(or(
            deletion_validation,
            "Validating node instance after deletion: nothing to do",
        ));
        steps.extend(monitoring_stop);
        steps.extend(prestop);
        steps.extend(host_pre_stop);
        steps.extend(or(stop, "Stopped node instance: nothing to do"));
        steps.extend(stopped_set_state);
        steps.extend(unlink);
        steps.extend(or(delete, "Deleting node instance: nothing to do"));
        steps.extend(postdelete);
        steps.extend(finish_message);
        Ok(steps)
    }
}
