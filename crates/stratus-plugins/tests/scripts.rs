//! Real bash scripts against the ctx proxy through the `ctx` command.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Map, Value};
use stratus_plugins::{run_script, CtxProxy, OperationResult, PatchOp, ScriptSpec};

fn spec(script: &str, inputs: Value) -> ScriptSpec {
    let mut inputs = object(inputs);
    inputs.insert("script_path".to_owned(), Value::String(script.to_owned()));
    ScriptSpec::from_inputs(&inputs).expect("script inputs")
}

struct Fixture {
    dir: tempfile::TempDir,
    proxy: CtxProxy,
    ctx_command: stratus_plugins::CtxCommand,
}

async fn fixture() -> Fixture {
    Fixture {
        dir: tempfile::tempdir().expect("tempdir"),
        proxy: CtxProxy::start().await.expect("proxy"),
        ctx_command: ctx_command(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logger_properties_runtime_properties_and_returns() {
    let f = fixture().await;
    write_script(
        f.dir.path(),
        "scripts/create.sh",
        r#"#!/bin/bash
set -e
ctx logger info "hello from $(ctx node id) in $(ctx deployment id)"
port=$(ctx node properties port)
ctx instance runtime-properties port_seen "$port"
ctx instance runtime-properties json_value '@{"json": [1,2]}'
ctx instance runtime_properties nested.deep.key value
echo "nested=$(ctx instance runtime-properties nested)"
echo "list=$(ctx instance runtime_properties json_value.json)"
echo "item=$(ctx node properties 'nested.list[1].x')"
echo "name=$(ctx node properties name)"
echo "existing=$(ctx instance runtime-properties existing) host=$(ctx instance host_ip)"
echo "op=$(ctx operation name) retry=$(ctx operation retry_number)/$(ctx operation max_retries) exec=$(ctx execution-id) wf=$(ctx workflow-id) bp=$(ctx blueprint id)"
echo "input=$MY_INPUT map=$MY_MAP flag=$MY_FLAG none=$MY_NONE"
echo "to stderr" >&2
ctx returns '@[1, "two"]'
"#,
    );
    let logs = Collect::default();
    let spec = spec(
        "scripts/create.sh",
        json!({"MY_INPUT": "plain", "MY_MAP": {"a": [1, null]}, "MY_FLAG": false, "MY_NONE": null}),
    );
    let outcome = run_script(
        &spec,
        node_context(f.dir.path()),
        &f.proxy,
        &f.ctx_command,
        logs.sink(),
    )
    .await;
    let messages = logs.messages();
    assert_eq!(
        outcome.result,
        OperationResult::Succeeded {
            returns: Some(json!([1, "two"]))
        },
        "{messages:#?}"
    );
    assert_eq!(outcome.exit_code, Some(0));
    for expected in [
        "hello from web in dep1",
        "<out> nested={'deep': {'key': 'value'}}",
        "<out> list=[1, 2]",
        "<out> item=2",
        "<out> name=it's",
        "<out> existing=yes host=10.0.0.7",
        // retry_number 0 prints nothing: the reference client prints '' for any falsy payload.
        "<out> op=cloudify.interfaces.lifecycle.create retry=/3 exec=exec-1 wf=install bp=bp1",
        "<out> input=plain map={\"a\": [1, null]} flag=false none=None",
        "<err> to stderr",
    ] {
        assert!(
            messages.iter().any(|message| message == expected),
            "missing {expected:?} in {messages:#?}"
        );
    }
    let patch = &outcome.effects.patches["web_a1b2c3"];
    let mut stored = object(json!({"existing": "yes", "written_meanwhile": 1}));
    assert!(patch.apply(&mut stored).is_empty());
    assert_eq!(
        Value::Object(stored),
        json!({"existing": "yes", "written_meanwhile": 1, "port_seen": "8080", "json_value": {"json": [1, 2]}, "nested": {"deep": {"key": "value"}}})
    );
    assert_eq!(f.proxy.registered(), 0, "the operation's URL is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relationship_operations_reach_source_and_target() {
    let f = fixture().await;
    write_script(
        f.dir.path(),
        "rel.sh",
        r#"set -e
echo "source=$(ctx source node id) target=$(ctx target node id) port=$(ctx target node properties port)"
echo "endpoint=$(ctx target instance runtime-properties endpoint)"
ctx source instance runtime-properties db_endpoint "$(ctx target instance runtime-properties endpoint)"
ctx target instance runtime-properties clients.app '@true'
ctx instance id || echo "no instance in a relationship"
"#,
    );
    let logs = Collect::default();
    let outcome = run_script(
        &spec("rel.sh", json!({})),
        relationship_context(f.dir.path()),
        &f.proxy,
        &f.ctx_command,
        logs.sink(),
    )
    .await;
    let messages = logs.messages();
    assert_eq!(
        outcome.result,
        OperationResult::Succeeded { returns: None },
        "{messages:#?}"
    );
    assert!(
        messages.contains(&"<out> source=app target=db port=5432".to_owned()),
        "{messages:#?}"
    );
    assert!(
        messages.contains(&"<out> no instance in a relationship".to_owned()),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(
            |m| m.contains("ctx.node/ctx.instance can only be used in a node-instance context")
        ),
        "{messages:#?}"
    );
    let source = &outcome.effects.patches["app_111111"].ops;
    let target = &outcome.effects.patches["db_222222"].ops;
    assert!(matches!(&source[..], [PatchOp::Set { value, .. }] if value == "db.local"));
    assert!(matches!(
        &target[..],
        [PatchOp::Set {
            value: Value::Bool(true),
            ..
        }]
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_abort_and_the_single_result_rule() {
    let f = fixture().await;
    write_script(f.dir.path(), "retry.sh", "set -e\nctx instance runtime-properties attempt 1\nctx retry_operation 'not yet' 7\necho unreachable\n");
    write_script(
        f.dir.path(),
        "abort.sh",
        "ctx abort-operation 'broken for good'\nexit 0\n",
    );
    write_script(
        f.dir.path(),
        "twice.sh",
        "ctx returns first\nctx abort_operation second || true\n",
    );
    write_script(
        f.dir.path(),
        "op_retry.sh",
        "ctx operation retry 'waiting' @2.5\n",
    );
    let logs = Collect::default();
    let ctx = node_context(f.dir.path());

    let retry = run_script(
        &spec("retry.sh", json!({})),
        ctx.clone(),
        &f.proxy,
        &f.ctx_command,
        logs.sink(),
    )
    .await;
    assert_eq!(
        retry.result,
        OperationResult::Retry {
            message: Some("not yet".to_owned()),
            interval: Some(Duration::from_secs(7))
        }
    );
    assert_eq!(
        retry.exit_code,
        Some(1),
        "the client exits 1 like SystemExit"
    );
    assert!(!logs.messages().contains(&"<out> unreachable".to_owned()));
    assert!(
        logs.messages().contains(&"<err> not yet".to_owned()),
        "{:#?}",
        logs.messages()
    );
    assert_eq!(
        retry.effects.patches["web_a1b2c3"].ops.len(),
        1,
        "changes are kept on retry"
    );

    let abort = run_script(
        &spec("abort.sh", json!({})),
        ctx.clone(),
        &f.proxy,
        &f.ctx_command,
        logs.sink(),
    )
    .await;
    assert_eq!(
        abort.result,
        OperationResult::Failed {
            message: "broken for good".to_owned(),
            recoverable: false
        }
    );

    let twice = run_script(
        &spec("twice.sh", json!({})),
        ctx.clone(),
        &f.proxy,
        &f.ctx_command,
        logs.sink(),
    )
    .await;
    assert_eq!(
        twice.result,
        OperationResult::Failed {
            message: "ctx may only abort or return once".to_owned(),
            recoverable: false
        }
    );

    let op_retry = run_script(
        &spec("op_retry.sh", json!({})),
        ctx,
        &f.proxy,
        &f.ctx_command,
        logs.sink(),
    )
    .await;
    assert_eq!(
        op_retry.result,
        OperationResult::Retry {
            message: Some("waiting".to_owned()),
            interval: Some(Duration::from_millis(2500))
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_resource_stays_inside_the_blueprint() {
    let f = fixture().await;
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("secret.txt"), "secret").expect("write");
    write_script(f.dir.path(), "resources/config.txt", "config body\n");
    write_script(f.dir.path(), "resources/template.conf", "port={{ ctx.node.properties.port }} greeting={{ greeting }} {# comment #}missing=[{{ nothing.here }}]\n");
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        f.dir.path().join("resources/link.txt"),
    )
    .expect("symlink");
    let target = f.dir.path().join("out");
    std::fs::create_dir_all(&target).expect("mkdir");
    write_script(
        f.dir.path(),
        "download.sh",
        r#"set -e
p=$(ctx download-resource resources/config.txt)
echo "temp: $(cat "$p")"
ctx download-resource resources/config.txt "$TARGET/copy.txt" > /dev/null
echo "copy: $(cat "$TARGET/copy.txt")"
r=$(ctx download-resource-and-render resources/template.conf '@{"template_variables": {"greeting": "hi"}}')
echo "rendered: $(cat "$r")"
if ctx download-resource ../escape.txt 2> err1; then echo "escape allowed"; fi
echo "escape: $(tail -n 1 err1)"
if ctx download-resource resources/link.txt 2> err2; then echo "link allowed"; fi
echo "link: $(tail -n 1 err2)"
if ctx download-resource /etc/passwd 2> err3; then echo "absolute allowed"; fi
echo "absolute: $(tail -n 1 err3)"
"#,
    );
    let logs = Collect::default();
    let mut spec = spec("download.sh", json!({"TARGET": target.to_string_lossy()}));
    spec.process.cwd = Some(target.clone());
    let outcome = run_script(
        &spec,
        node_context(f.dir.path()),
        &f.proxy,
        &f.ctx_command,
        logs.sink(),
    )
    .await;
    let messages = logs.messages();
    assert_eq!(
        outcome.result,
        OperationResult::Succeeded { returns: None },
        "{messages:#?}"
    );
    assert!(
        messages.contains(&"<out> temp: config body".to_owned()),
        "{messages:#?}"
    );
    assert!(
        messages.contains(&"<out> copy: config body".to_owned()),
        "{messages:#?}"
    );
    assert!(
        messages.contains(&"<out> rendered: port=8080 greeting=hi missing=[]".to_owned()),
        "{messages:#?}"
    );
    for kind in ["escape", "link", "absolute"] {
        assert!(
            !messages.contains(&format!("<out> {kind} allowed")),
            "{messages:#?}"
        );
        let line = messages
            .iter()
            .find(|m| m.starts_with(&format!("<out> {kind}: ")))
            .expect("refusal line");
        assert!(
            line.contains(
                "NonRecoverableError: resource path is not inside the blueprint directory"
            ),
            "{line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_kills_the_whole_process_group() {
    let f = fixture().await;
    let marker = f.dir.path().join("survivor");
    write_script(
        f.dir.path(),
        "slow.sh",
        &format!(
            "(sleep 3; touch {}) &\necho started\nsleep 30\n",
            marker.display()
        ),
    );
    let logs = Collect::default();
    let mut spec = spec("slow.sh", json!({}));
    spec.timeout = Some(Duration::from_millis(700));
    let started = Instant::now();
    let outcome = run_script(
        &spec,
        node_context(f.dir.path()),
        &f.proxy,
        &f.ctx_command,
        logs.sink(),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    match &outcome.result {
        OperationResult::Failed {
            message,
            recoverable: false,
        } => assert!(message.contains("timed out after 0.7 seconds"), "{message}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(outcome.exit_code, Some(-9));
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        !marker.exists(),
        "the background child was killed with the group"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_zero_exit_is_a_recoverable_failure_with_the_output_tail() {
    let f = fixture().await;
    write_script(
        f.dir.path(),
        "fail.sh",
        "echo partial\necho 'something broke' >&2\nexit 3\n",
    );
    write_script(f.dir.path(), "py/check.py", "import os, subprocess\nprint('py', subprocess.check_output(['ctx', 'node', 'id']).decode(), os.environ['WHO'])\n");
    let logs = Collect::default();
    let outcome = run_script(
        &spec("fail.sh", json!({})),
        node_context(f.dir.path()),
        &f.proxy,
        &f.ctx_command,
        logs.sink(),
    )
    .await;
    match &outcome.result {
        OperationResult::Failed {
            message,
            recoverable: true,
        } => {
            assert!(message.contains("exit_code: 3"), "{message}");
            assert!(message.contains("stdout: partial\n"), "{message}");
            assert!(message.ends_with("stderr: something broke\n"), "{message}");
        }
        other => panic!("expected a recoverable failure, got {other:?}"),
    }
    let missing = run_script(
        &spec("nope.sh", json!({})),
        node_context(f.dir.path()),
        &f.proxy,
        &f.ctx_command,
        logs.sink(),
    )
    .await;
    assert!(
        matches!(&missing.result, OperationResult::Failed { recoverable: false, message } if message.contains("404")),
        "{:?}",
        missing.result
    );
    let python = run_script(
        &spec("py/check.py", json!({"WHO": "me"})),
        node_context(f.dir.path()),
        &f.proxy,
        &f.ctx_command,
        logs.sink(),
    )
    .await;
    assert_eq!(
        python.result,
        OperationResult::Succeeded { returns: None },
        "{:#?}",
        logs.messages()
    );
    assert!(
        logs.messages().contains(&"<out> py web me".to_owned()),
        "{:#?}",
        logs.messages()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_finished_tokens_are_refused() {
    let f = fixture().await;
    let (url, handle) = f
        .proxy
        .register(node_context(f.dir.path()))
        .expect("register");
    let ctx = env!("CARGO_BIN_EXE_stratus-ctx");
    let run = |url: String| {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(ctx)
                .args(["node", "id"])
                .env("CTX_SOCKET_URL", url)
                .output()
                .expect("run ctx")
        })
    };
    let live = run(url.clone()).await.expect("join");
    assert_eq!(String::from_utf8_lossy(&live.stdout), "web");
    let port = f.proxy.port();
    let bogus = run(format!(
        "http://127.0.0.1:{port}/ctx/0123456789abcdef0123456789abcdef"
    ))
    .await
    .expect("join");
    assert_eq!(bogus.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bogus.stderr).contains("no running operation at this ctx URL"));
    drop(handle.finish());
    let finished = run(url).await.expect("join");
    assert_eq!(finished.status.code(), Some(1));
}

/// 100 operations on one instance at once, each setting its own key: whatever order their
/// patches are applied in, no key is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_operations_on_one_instance_lose_no_update() {
    let f = fixture().await;
    write_script(
        f.dir.path(),
        "set.sh",
        "ctx instance runtime-properties \"key_$INDEX\" \"@$INDEX\"\n",
    );
    let logs = Collect::default();
    let operations = (0..100).map(|index| {
        let spec = spec("set.sh", json!({"INDEX": index}));
        let ctx = node_context(f.dir.path());
        let (proxy, command, sink) = (&f.proxy, &f.ctx_command, logs.sink());
        async move { run_script(&spec, ctx, proxy, command, sink).await }
    });
    let outcomes = futures_join_all(operations).await;
    let mut patches = Vec::new();
    for outcome in outcomes {
        assert_eq!(outcome.result, OperationResult::Succeeded { returns: None });
        patches.push(outcome.effects.patches["web_a1b2c3"].clone());
    }
    for order in [
        patches.clone(),
        patches.iter().rev().cloned().collect::<Vec<_>>(),
        interleaved(&patches),
    ] {
        let mut stored: Map<String, Value> = object(json!({"existing": "yes"}));
        for patch in order {
            assert!(patch.apply(&mut stored).is_empty());
        }
        assert_eq!(stored.len(), 101);
        for index in 0..100 {
            assert_eq!(stored[&format!("key_{index}")], json!(index));
        }
    }
}

fn interleaved<T: Clone>(items: &[T]) -> Vec<T> {
    let (even, odd): (Vec<_>, Vec<_>) = items
        .iter()
        .cloned()
        .enumerate()
        .partition(|(index, _)| index % 2 == 0);
    odd.into_iter()
        .rev()
        .chain(even)
        .map(|(_, item)| item)
        .collect()
}

/// Runs futures concurrently on the current task (no extra dependency).
async fn futures_join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for future in futures {
        set.push(Box::pin(future));
    }
    let mut results: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, future) in results.iter_mut().zip(set.iter_mut()) {
            if slot.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(output) => *slot = Some(output),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().flatten().collect()
}
