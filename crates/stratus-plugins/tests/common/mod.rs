//! Shared fixtures: a blueprint directory, operation contexts, a collecting log sink.

#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};
use stratus_plugins::{
    CtxCommand, Entity, InstanceInfo, LogLine, LogSink, NodeInfo, OperationContext, OperationInfo,
    Subject,
};

pub fn ctx_command() -> CtxCommand {
    CtxCommand::new(Path::new(env!("CARGO_BIN_EXE_stratus-ctx"))).expect("ctx command")
}

pub fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

pub fn entity(node: &str, instance: &str, properties: Value, runtime: Value) -> Entity {
    Entity {
        node: NodeInfo {
            name: node.to_owned(),
            type_name: "cloudify.nodes.Root".to_owned(),
            type_hierarchy: vec!["cloudify.nodes.Root".to_owned()],
            number_of_instances: Some(1),
            properties: object(properties),
        },
        instance: InstanceInfo {
            id: instance.to_owned(),
            runtime_properties: object(runtime),
            host_ip: Some("10.0.0.7".to_owned()),
            index: Some(0),
        },
    }
}

pub fn node_context(blueprint_dir: &Path) -> OperationContext {
    OperationContext {
        tenant: "default_tenant".to_owned(),
        deployment_id: "dep1".to_owned(),
        blueprint_id: "bp1".to_owned(),
        execution_id: "exec-1".to_owned(),
        workflow_id: "install".to_owned(),
        operation: OperationInfo {
            name: "cloudify.interfaces.lifecycle.create".to_owned(),
            retry_number: 0,
            max_retries: 3,
        },
        subject: Subject::NodeInstance(entity(
            "web",
            "web_a1b2c3",
            json!({"port": 8080, "nested": {"list": [{"x": 1}, {"x": 2}]}, "name": "it's"}),
            json!({"existing": "yes"}),
        )),
        blueprint_dir: Some(blueprint_dir.to_path_buf()),
    }
}

pub fn relationship_context(blueprint_dir: &Path) -> OperationContext {
    OperationContext {
        subject: Subject::RelationshipInstance {
            source: entity("app", "app_111111", json!({"role": "client"}), json!({})),
            target: entity(
                "db",
                "db_222222",
                json!({"port": 5432}),
                json!({"endpoint": "db.local"}),
            ),
        },
        operation: OperationInfo {
            name: "cloudify.interfaces.relationship_lifecycle.preconfigure".to_owned(),
            retry_number: 1,
            max_retries: 3,
        },
        ..node_context(blueprint_dir)
    }
}

#[derive(Clone, Default)]
pub struct Collect(pub Arc<Mutex<Vec<LogLine>>>);

impl Collect {
    pub fn sink(&self) -> Arc<dyn LogSink> {
        let lines = Arc::clone(&self.0);
        Arc::new(move |line: LogLine| lines.lock().expect("log lock").push(line))
    }

    pub fn messages(&self) -> Vec<String> {
        self.0
            .lock()
            .expect("log lock")
            .iter()
            .map(LogLine::event_message)
            .collect()
    }
}

pub fn write_script(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, body).expect("write script");
}
