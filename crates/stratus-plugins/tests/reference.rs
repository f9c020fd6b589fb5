//! Protocol compatibility with cloudify-common 7.0.5 itself: the reference `ctx` client and
//! Stratus's, each against the reference proxy (`HTTPCtxProxy` over a stub ctx with the same
//! data) and Stratus's proxy. All four combinations must print the same bytes, exit with the
//! same status and end stderr with the same line.
//!
//! Needs the reference venv (`STRATUS_CFY_VENV`, default the py3 venv `tools/clients/setup`
//! makes: `$STRATUS_CLIENTS_DIR/py3`, `target/clients/py3`); without it the test
//! is skipped with a loud note, unless `STRATUS_REQUIRE_CLIENTS=1` makes that a failure.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use common::*;
use stratus_plugins::CtxProxy;

fn venv() -> Option<PathBuf> {
    let clients = std::env::var("STRATUS_CLIENTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/clients"));
    let venv = std::env::var("STRATUS_CFY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| clients.join("py3"));
    if venv.join("bin/python").exists() && venv.join("bin/ctx").exists() {
        return Some(venv);
    }
    if std::env::var("STRATUS_REQUIRE_CLIENTS").as_deref() == Ok("1") {
        panic!(
            "STRATUS_REQUIRE_CLIENTS=1 but the reference venv {} (bin/python, bin/ctx) is missing",
            venv.display()
        );
    }
    eprintln!("\n!!!!! SKIPPED: reference venv {} not found; ctx protocol compatibility NOT checked !!!!!\n", venv.display());
    None
}

struct ReferenceProxy {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl ReferenceProxy {
    fn start(venv: &std::path::Path) -> ReferenceProxy {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reference_proxy.py");
        let mut child = Command::new(venv.join("bin/python"))
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the reference proxy");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        ReferenceProxy {
            child,
            stdin,
            stdout,
        }
    }

    /// A fresh reference proxy over a fresh stub ctx.
    fn session(&mut self) -> String {
        let stdin = self.stdin.as_mut().expect("stdin");
        stdin.write_all(b"new\n").expect("ask for a session");
        stdin.flush().expect("flush");
        let mut url = String::new();
        self.stdout.read_line(&mut url).expect("read the URL");
        url.trim().to_owned()
    }
}

impl Drop for ReferenceProxy {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

#[derive(Debug, PartialEq)]
struct Observed {
    args: Vec<String>,
    stdout: String,
    code: Option<i32>,
    last_stderr_line: String,
}

fn run_client(client: &[String], url: &str, args: &[&str]) -> Observed {
    let output = Command::new(&client[0])
        .args(&client[1..])
        .args(args)
        .env("CTX_SOCKET_URL", url)
        .output()
        .expect("run a ctx client");
    let stderr = String::from_utf8_lossy(&output.stderr);
    Observed {
        args: args.iter().map(|arg| (*arg).to_owned()).collect(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        code: output.status.code(),
        last_stderr_line: stderr.lines().last().unwrap_or_default().to_owned(),
    }
}

fn sequences() -> Vec<Vec<Vec<&'static str>>> {
    vec![
        vec![
            vec!["node", "id"],
            vec!["node", "name"],
            vec!["node", "type"],
            vec!["node", "properties"],
            vec!["-j", "node", "properties"],
            vec!["node", "properties", "port"],
            vec!["node", "properties", "nested.list[1].x"],
            vec!["node", "properties", "nested.list[7].x"],
            vec!["node", "properties", "name"],
            vec!["node", "properties", "missing"],
            vec!["node", "bogus"],
            vec!["node"],
            vec!["instance", "id"],
            vec!["instance", "host_ip"],
            vec!["instance", "runtime-properties"],
            vec!["instance", "runtime-properties", "existing"],
            vec![
                "instance",
                "runtime-properties",
                "k",
                r#"@{"a": [1, true, null], "b": 1.5, "é": "x'y"}"#,
            ],
            vec!["instance", "runtime-properties", "k"],
            vec!["--json-output", "instance", "runtime-properties", "k"],
            vec!["instance", "runtime_properties", "deep.er.key", "v"],
            vec!["instance", "runtime-properties", "deep"],
            vec!["instance", "runtime-properties", "k.a.x"],
            vec!["instance", "runtime-properties", "s", "hello"],
            vec!["instance", "runtime-properties", "s.ell"],
            vec!["instance", "runtime-properties", "s.zz"],
            vec!["instance", "runtime-properties", "n", "@0"],
            vec!["instance", "runtime-properties", "n"],
            vec!["-j", "instance", "runtime-properties", "n"],
            vec!["instance", "runtime-properties", "get", "existing"],
            vec!["instance", "runtime-properties", "pop", "existing"],
            vec!["instance", "runtime-properties", "existing"],
            vec!["instance", "runtime-properties", "a", "b", "c"],
            vec!["operation", "name"],
            vec!["operation", "retry_number"],
            vec!["operation", "max_retries"],
            vec!["deployment", "id"],
            vec!["blueprint", "id"],
            vec!["execution-id"],
            vec!["workflow-id"],
            vec!["logger", "info", "hello %s", "world"],
            vec!["returns", "@[1, 2.0, -3]"],
            vec!["returns", "again"],
        ],
        vec![
            vec!["retry_operation", "not yet", "7"],
            vec!["retry-operation", "twice"],
        ],
        vec![vec!["abort_operation"]],
        vec![vec!["abort-operation", "broken", "extra", "args", "here"]],
        vec![vec!["returns", r#"@{"a": 1}"#], vec!["returns"]],
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctx_clients_and_proxies_agree_with_the_reference() {
    let Some(venv) = venv() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let proxy = CtxProxy::start().await.expect("proxy");
    let ours = vec![env!("CARGO_BIN_EXE_stratus-ctx").to_owned()];
    let reference = vec![venv.join("bin/ctx").to_string_lossy().into_owned()];
    let mut reference_proxy = ReferenceProxy::start(&venv);
    for sequence in sequences() {
        let mut results = Vec::new();
        for (client_name, client) in [("reference client", &reference), ("stratus client", &ours)] {
            for proxy_name in ["reference proxy", "stratus proxy"] {
                let (url, handle) = if proxy_name == "reference proxy" {
                    (reference_proxy.session(), None)
                } else {
                    let (url, handle) = proxy.register(node_context(dir.path())).expect("register");
                    (url, Some(handle))
                };
                let client = client.clone();
                let commands = sequence.clone();
                let observed = tokio::task::spawn_blocking(move || {
                    commands
                        .iter()
                        .map(|args| run_client(&client, &url, args))
                        .collect::<Vec<_>>()
                })
                .await
                .expect("join");
                drop(handle);
                results.push((format!("{client_name} → {proxy_name}"), observed));
            }
        }
        let (baseline_name, baseline) = &results[0];
        for (name, observed) in &results[1..] {
            for (expected, got) in baseline.iter().zip(observed) {
                assert_eq!(expected, got, "{name} differs from {baseline_name}");
            }
        }
    }
}
