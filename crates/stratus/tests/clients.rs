//! Real, unchanged Cloudify clients against `stratus serve`.
//!
//! Each test starts its own server (temp data dir, known admin password, a free port read
//! from the server's "serving the Cloudify REST API on http://ADDR/api/v3.1" stderr line) and
//! runs one script from `tests/clients/` with an interpreter from the client venvs that
//! `tools/clients/setup` creates in `${STRATUS_CLIENTS_DIR:-<workspace>/target/clients}`:
//!
//! - `cfy_cli.py`            cfy 7.0.5 CLI (py3 venv)
//! - `rest_client_7.py`      cloudify-common 7.0.5 `CloudifyClient` (py3 venv)
//! - `rest_client_4.py`      cloudify-rest-client 4.3.3 on Python 2.7 (py2 venv)
//! - `deployment_handler.py` ONAP deployment-handler's HTTP calls, replayed with requests (py3 venv)
//!
//! Executions really run (the blueprints in `tests/clients/blueprints/` use the in-process
//! `stratus-builtin` plugin): each script follows install/uninstall to `terminated` as its client
//! would, and drives cancel/kill/resume/queue against a really running execution (`slow`).
//!
//! Without the venvs the tests print a loud note and pass, unless `STRATUS_REQUIRE_CLIENTS=1`
//! (set by `tools/test`), where they fail. The py2 venv may be missing when the machine has no
//! Python 2.7 (`tools/clients/setup` then writes `py2.skipped`): that skips even when required.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PASSWORD: &str = "client-compat-Pw1";
const SERVER_START: Duration = Duration::from_secs(60);
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(600);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn clients_dir() -> PathBuf {
    match std::env::var_os("STRATUS_CLIENTS_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace().join(dir)
            }
        }
        _ => workspace().join("target/clients"),
    }
}

fn required() -> bool {
    std::env::var("STRATUS_REQUIRE_CLIENTS").is_ok_and(|v| v == "1")
}

/// The interpreter of venv `name` (py3 or py2), or None after printing why the test skips.
fn interpreter(name: &str, test: &str) -> Option<PathBuf> {
    let dir = clients_dir();
    let python = dir.join(name).join("bin/python");
    if python.exists() && dir.join(name).join(".stratus-stamp").exists() {
        return Some(python);
    }
    if name == "py2" && dir.join("py2.skipped").exists() {
        loud(&format!(
            "!!! SKIPPED {test}: tools/clients/setup found no Python 2.7 on this machine \
             ({}); cloudify-rest-client 4.3.3 was not checked.",
            dir.join("py2.skipped").display()
        ));
        return None;
    }
    let msg = format!(
        "the client venv {} is missing: run tools/clients/setup (it creates \
         ${{STRATUS_CLIENTS_DIR:-target/clients}}/{{py3,py2}} from PyPI)",
        dir.join(name).display()
    );
    if required() {
        panic!("{test}: {msg} (STRATUS_REQUIRE_CLIENTS=1)");
    }
    loud(&format!(
        "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         !!! SKIPPED {test}: {msg}.\n\
         !!! Set STRATUS_REQUIRE_CLIENTS=1 to make this a failure.\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    ));
    None
}

/// Writes straight to the process's stderr, past the test harness's output capture, so a
/// skip shows even when the test passes.
fn loud(note: &str) {
    let _ = writeln!(std::io::stderr().lock(), "\n{note}\n");
}

/// A running `stratus serve`, killed on drop.
struct Server {
    child: Child,
    url: String,
    log: Arc<Mutex<String>>,
    _data: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let data = tempfile::tempdir().expect("temp data dir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_stratus"))
            .arg("serve")
            .arg("--data-dir")
            .arg(data.path())
            .args(["--listen", "127.0.0.1:0", "--admin-password", PASSWORD])
            .env_remove("STRATUS_DATABASE_URL")
            .env_remove("STRATUS_CONFIG")
            .env_remove("STRATUS_LISTEN")
            .env_remove("STRATUS_DATA_DIR")
            .env_remove("STRATUS_ADMIN_PASSWORD")
            .env_remove("CMPASS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn stratus serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = serving_url(&line) {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(url);
                    }
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        match rx.recv_timeout(SERVER_START) {
            Ok(url) => Server {
                child,
                url,
                log,
                _data: data,
            },
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "stratus serve did not report its address within {SERVER_START:?}; stderr:\n{}",
                    log.lock().unwrap()
                );
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `http://ADDR` from "stratus: serving the Cloudify REST API on http://ADDR/api/v3.1 …".
fn serving_url(line: &str) -> Option<String> {
    let rest = line.split("serving the Cloudify REST API on ").nth(1)?;
    let url = rest.split_whitespace().next()?;
    Some(url.trim_end_matches("/api/v3.1").to_string())
}

/// Runs `script` with `python` against a fresh server; panics with its output on failure.
fn run_script(venv: &str, script: &str) {
    let Some(python) = interpreter(venv, script) else {
        return;
    };
    let server = Server::start();
    let repo = workspace();
    let script_path = repo.join("tests/clients").join(script);
    let corpus = repo.join("../shared/corpus/onap-frankfurt");
    let started = Instant::now();
    let mut child = Command::new(&python)
        .arg("-u")
        .arg(&script_path)
        .env("STRATUS_URL", &server.url)
        .env("STRATUS_ADMIN_PASSWORD", PASSWORD)
        .env("STRATUS_REPO", &repo)
        .env("STRATUS_CORPUS", &corpus)
        .env("PYTHONIOENCODING", "utf-8")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {} {}: {e}", python.display(), script_path.display()));
    let out = drain(child.stdout.take().expect("stdout"));
    let err = drain(child.stderr.take().expect("stderr"));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the script") {
            break Some(status);
        }
        if started.elapsed() > SCRIPT_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let took = started.elapsed();
    let report = format!(
        "--- {script} ({}) against {} in {took:.1?}\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}\n\
         --- server log:\n{}",
        python.display(),
        server.url,
        server.log.lock().unwrap()
    );
    drop(server);
    match status {
        Some(status) if status.success() => {
            println!("{report}");
            eprintln!("{script}: passed in {took:.1?}");
        }
        Some(status) => panic!("{script} failed ({status}):\n{report}"),
        None => panic!("{script} timed out after {SCRIPT_TIMEOUT:?}:\n{report}"),
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

#[test]
fn serving_line_is_parsed() {
    assert_eq!(
        serving_url(
            "stratus: serving the Cloudify REST API on http://127.0.0.1:4242/api/v3.1 \
             (state: sqlite /x/stratus.db; ready in 5 ms)"
        )
        .as_deref(),
        Some("http://127.0.0.1:4242")
    );
    assert_eq!(serving_url("stratus: admin password set"), None);
}

#[test]
fn cfy_cli_7() {
    run_script("py3", "cfy_cli.py");
}

#[test]
fn rest_client_7() {
    run_script("py3", "rest_client_7.py");
}

#[test]
fn rest_client_4_py2() {
    run_script("py2", "rest_client_4.py");
}

#[test]
fn onap_deployment_handler() {
    run_script("py3", "deployment_handler.py");
}
