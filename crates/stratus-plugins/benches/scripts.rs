//! Script-operation throughput: trivial bash scripts that call
//! `ctx instance runtime-properties k v` once, N at a time, through `run_script` and the
//! shared proxy. Prints a table of operations per second (the target is ≥ 300/s on
//! 2 cores end to end). Run with `cargo bench -p stratus-plugins --bench scripts`.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Map, Value};
use stratus_plugins::{
    run_script, CtxCommand, CtxProxy, Entity, InstanceInfo, LogLine, LogSink, NodeInfo,
    OperationContext, OperationResult, ScriptSpec, Subject,
};

fn context(dir: &Path, instance: usize) -> OperationContext {
    OperationContext {
        deployment_id: "bench".to_owned(),
        subject: Subject::NodeInstance(Entity {
            node: NodeInfo {
                name: "node".to_owned(),
                type_name: "cloudify.nodes.Root".to_owned(),
                ..NodeInfo::default()
            },
            instance: InstanceInfo {
                id: format!("node_{instance}"),
                ..InstanceInfo::default()
            },
        }),
        blueprint_dir: Some(dir.to_path_buf()),
        ..OperationContext::default()
    }
}

fn main() {
    let total: usize = std::env::var("STRATUS_BENCH_OPS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(600);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("op.sh"),
        "#!/bin/bash\nctx instance runtime-properties k v\n",
    )
    .expect("script");
    let ctx_exe = env!("CARGO_BIN_EXE_stratus-ctx");
    let ctx_command = Arc::new(CtxCommand::new(Path::new(ctx_exe)).expect("ctx command"));
    let mut inputs = Map::new();
    inputs.insert("script_path".to_owned(), Value::String("op.sh".to_owned()));
    inputs.insert("SOME_INPUT".to_owned(), json!({"a": 1}));
    let spec = Arc::new(ScriptSpec::from_inputs(&inputs).expect("spec"));
    let sink: Arc<dyn LogSink> = Arc::new(|_: LogLine| {});

    println!("script operations (bash + one `ctx instance runtime-properties k v`), {total} per row, 2 worker threads");
    println!(
        "{:>11} | {:>9} | {:>8} | {:>10}",
        "parallelism", "seconds", "ops/s", "mean ms/op"
    );
    println!("{:-<11}-+-{:-<9}-+-{:-<8}-+-{:-<10}", "", "", "", "");
    runtime.block_on(async {
        let proxy = CtxProxy::start().await.expect("proxy");
        for parallelism in [1usize, 4, 8, 16, 32] {
            let started = Instant::now();
            let semaphore = Arc::new(tokio::sync::Semaphore::new(parallelism));
            let mut tasks = Vec::with_capacity(total);
            for index in 0..total {
                let permit = Arc::clone(&semaphore)
                    .acquire_owned()
                    .await
                    .expect("semaphore");
                let (proxy, ctx_command, spec, sink) = (
                    proxy.clone(),
                    Arc::clone(&ctx_command),
                    Arc::clone(&spec),
                    Arc::clone(&sink),
                );
                let ctx = context(dir.path(), index);
                tasks.push(tokio::spawn(async move {
                    let outcome = run_script(&spec, ctx, &proxy, &ctx_command, sink).await;
                    drop(permit);
                    outcome
                }));
            }
            for task in tasks {
                let outcome = task.await.expect("join");
                assert!(
                    matches!(outcome.result, OperationResult::Succeeded { .. }),
                    "{:?}",
                    outcome.result
                );
                assert_eq!(outcome.effects.patches.len(), 1);
            }
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "{parallelism:>11} | {seconds:>9.3} | {:>8.0} | {:>10.2}",
                total as f64 / seconds,
                seconds * 1000.0 * parallelism as f64 / total as f64
            );
        }
    });
}
