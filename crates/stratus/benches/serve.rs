//! The manager's benchmark: cold start to ready, idle memory, and list throughput.
//!
//! `cargo bench -p stratus --bench serve` starts the release `stratus serve` on a fresh data
//! directory and prints a table:
//! - cold start: process spawn until `/readyz` answers 200 (median of 5 fresh starts);
//! - idle RSS: `VmRSS` of the idle server, empty and after loading DEPLOYMENTS deployments;
//! - list throughput: `wrk` against `GET /api/v3.1/deployments?_size=100` with DEPLOYMENTS
//!   deployments (requests/s and latency percentiles), and the same page narrowed with
//!   `_include` to four scalar fields (the request-handling cost without the payload).
//!
//! Env: `STRATUS_BENCH_DEPLOYMENTS` (default 10000), `STRATUS_BENCH_SECONDS` (wrk duration,
//! default 10), `STRATUS_BENCH_CONNECTIONS` (default 32). Needs `wrk` (Debian's package).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{env_number, request, rss_kib, start, upload, AUTH};

/// A one-node blueprint as a tar.gz, built with the system `tar`.
fn blueprint_archive(work: &std::path::Path) -> Vec<u8> {
    let dir = work.join("bp/app");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("blueprint.yaml"),
        "tosca_definitions_version: cloudify_dsl_1_3\nimports: [http://www.getcloudify.org/spec/cloudify/4.5.5/types.yaml]\ninputs:\n  name: {default: x}\nnode_templates:\n  web: {type: cloudify.nodes.Root}\noutputs:\n  name: {value: {get_input: name}}\n",
    )
    .expect("write blueprint");
    let status = Command::new("tar")
        .arg("-C")
        .arg(work.join("bp"))
        .args(["-czf", "-", "app"])
        .output()
        .expect("tar");
    status.stdout
}

/// Creates `count` deployments over `threads` keep-alive-less connections in parallel.
fn populate(port: u16, count: u64) -> Duration {
    let started = Instant::now();
    let threads = 4;
    std::thread::scope(|scope| {
        for t in 0..threads {
            scope.spawn(move || {
                for i in (t..count).step_by(threads as usize) {
                    let body = format!(
                        "{{\"blueprint_id\": \"bench\", \"inputs\": {{\"name\": \"n{i}\"}}}}"
                    );
                    let (status, text) = request(
                        port,
                        "PUT",
                        &format!("/api/v3.1/deployments/dep-{i:05}"),
                        Some(&body),
                    )
                    .expect("create");
                    assert_eq!(status, 201, "{text}");
                }
            });
        }
    });
    started.elapsed()
}

fn wrk(port: u16, path: &str, seconds: u64, connections: u64) -> String {
    let output = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-H",
            &format!("Authorization: {AUTH}"),
        ])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output();
    match output {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        Ok(out) => panic!("wrk failed: {}", String::from_utf8_lossy(&out.stderr)),
        Err(e) => panic!("wrk is needed for the throughput figure (apt-get install wrk): {e}"),
    }
}

fn field<'a>(wrk: &'a str, prefix: &str) -> &'a str {
    wrk.lines()
        .find(|l| l.trim_start().starts_with(prefix))
        .map(|l| l.trim_start()[prefix.len()..].trim())
        .unwrap_or("?")
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let deployments = env_number("STRATUS_BENCH_DEPLOYMENTS", 10_000);
    let seconds = env_number("STRATUS_BENCH_SECONDS", 10);
    let connections = env_number("STRATUS_BENCH_CONNECTIONS", 32);
    let work = tempfile::tempdir().expect("temp dir");

    let mut cold: Vec<Duration> = (0..5)
        .map(|i| {
            let dir = work.path().join(format!("cold-{i}"));
            let (server, elapsed) = start(&dir);
            drop(server);
            elapsed
        })
        .collect();
    cold.sort();

    let data = work.path().join("data");
    let (server, _) = start(&data);
    std::thread::sleep(Duration::from_millis(500));
    let idle_empty = rss_kib(server.child.id());
    upload(server.port, "bench", &blueprint_archive(work.path()));
    let populate_time = populate(server.port, deployments);
    drop(server);
    let (server, restart) = start(&data);
    std::thread::sleep(Duration::from_millis(500));
    let idle_full = rss_kib(server.child.id());
    let (status, body) =
        request(server.port, "GET", "/api/v3.1/deployments?_size=100", None).expect("list");
    assert_eq!(status, 200);
    let page_bytes = body.len();
    let report = wrk(
        server.port,
        "/api/v3.1/deployments?_size=100",
        seconds,
        connections,
    );
    let narrow_path =
        "/api/v3.1/deployments?_size=100&_include=id,blueprint_id,created_at,updated_at";
    let narrow = wrk(server.port, narrow_path, seconds, connections);
    let (_, narrow_body) = request(server.port, "GET", narrow_path, None).expect("narrow list");

    println!("stratus serve benchmark (release, SQLite, this machine)\n");
    println!("| measure | value | target |");
    println!("|---|---|---|");
    println!(
        "| cold start to ready, empty data dir (median of 5) | {:.1} ms | ≤ 100 ms |",
        cold[2].as_secs_f64() * 1e3
    );
    println!(
        "| idle RSS, empty | {:.1} MiB | ≤ 30 MiB |",
        idle_empty as f64 / 1024.0
    );
    println!(
        "| create {deployments} deployments (4 clients) | {:.1} s ({:.0}/s) | — |",
        populate_time.as_secs_f64(),
        deployments as f64 / populate_time.as_secs_f64()
    );
    println!(
        "| restart to ready with {deployments} deployments | {:.1} ms | — |",
        restart.as_secs_f64() * 1e3
    );
    println!(
        "| idle RSS with {deployments} deployments | {:.1} MiB | — |",
        idle_full as f64 / 1024.0
    );
    println!(
        "| GET /deployments?_size=100 page size | {} KiB | — |",
        page_bytes / 1024
    );
    println!(
        "| list throughput ({connections} connections, {seconds} s) | {} req/s | ≥ 20,000 |",
        field(&report, "Requests/sec:")
    );
    println!(
        "| list latency p50 / p99 | {} / {} | p99 ≤ 10 ms |",
        field(&report, "50%"),
        field(&report, "99%")
    );
    println!(
        "| list transfer | {} | — |",
        field(&report, "Transfer/sec:")
    );
    println!(
        "| same with _include=id,blueprint_id,created_at,updated_at ({} KiB/page) | {} req/s | — |",
        narrow_body.len() / 1024,
        field(&narrow, "Requests/sec:")
    );
    println!(
        "| its latency p50 / p99 | {} / {} | — |",
        field(&narrow, "50%"),
        field(&narrow, "99%")
    );
    println!("\nwrk output:\n{report}");
}
