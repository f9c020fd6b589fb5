//! The Consul KV calls against a loopback HTTP server (no Consul server is available on
//! these machines): the requests k8splugin's `python-consul` made, the answers Consul gives
//! (the JSON list with a base64 value, chunked or not), the error kinds, and the plugin
//! settings read from the `k8s-plugin` key over the defaults and a file.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use base64::Engine;
use serde_json::json;
use stratus_k8s::{Error, PluginSettings, SettingsSource};

type Answer = Arc<Mutex<Vec<u8>>>;

fn loopback(answer: &'static [u8]) -> (String, Arc<Mutex<Vec<String>>>) {
    let (address, seen, _) = loopback_changing(answer.to_vec());
    (address, seen)
}

/// A loopback server answering every request with the current content of the returned
/// `Answer` (which a test may change between requests).
fn loopback_changing(answer: Vec<u8>) -> (String, Arc<Mutex<Vec<String>>>, Answer) {
    let answer = Arc::new(Mutex::new(answer));
    let current = answer.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            // Read the head and the body announced by Content-Length.
            loop {
                let n = stream.read(&mut buffer).unwrap_or(0);
                request.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&request).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if body.len() >= length {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&request).into_owned());
            let reply = current.lock().unwrap().clone();
            let _ = stream.write_all(&reply);
        }
    });
    (address, seen, answer)
}

/// Consul's answer to `GET /v1/kv/KEY`: a JSON list of one entry, the value in base64.
fn kv_answer(key: &str, value: Option<&str>) -> Vec<u8> {
    let encoded = value.map(|v| base64::engine::general_purpose::STANDARD.encode(v));
    let body = json!([{"LockIndex": 0, "Key": key, "Flags": 0, "Value": encoded,
        "CreateIndex": 12, "ModifyIndex": 14}])
    .to_string();
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Consul-Index: 14\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

const NOT_FOUND: &[u8] =
    b"HTTP/1.1 404 Not Found\r\nX-Consul-Index: 14\r\nContent-Length: 0\r\n\r\n";

#[tokio::test]
async fn put_and_delete_reach_the_kv_endpoint() {
    let (address, seen) = loopback(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ntrue");
    stratus_k8s::consul::put(&address, "s1-comp", "{\"a\":1}")
        .await
        .unwrap();
    stratus_k8s::consul::delete(&address, "s1-comp")
        .await
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen[0].starts_with("PUT /v1/kv/s1-comp HTTP/1.1\r\n"),
        "{seen:?}"
    );
    assert!(seen[0].ends_with("\r\n\r\n{\"a\":1}"), "{seen:?}");
    assert!(
        seen[1].starts_with("DELETE /v1/kv/s1-comp HTTP/1.1\r\n"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn refusals_and_absence_are_told_apart() {
    let (address, _) = loopback(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfalse");
    let error = stratus_k8s::consul::put(&address, "k", "v")
        .await
        .unwrap_err();
    assert!(!error.recoverable(false), "{error}");
    assert!(
        error.to_string().contains("Failed to push configuration"),
        "{error}"
    );
    let (address, _) =
        loopback(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nno");
    let error = stratus_k8s::consul::put(&address, "k", "v")
        .await
        .unwrap_err();
    assert!(error.recoverable(false), "{error}");
    // Nothing listening: retryable, naming the address.
    let error = stratus_k8s::consul::put("127.0.0.1:1", "k", "v")
        .await
        .unwrap_err();
    assert!(
        error.recoverable(false) && error.to_string().contains("127.0.0.1:1"),
        "{error}"
    );
}

#[tokio::test]
async fn get_reads_the_listed_base64_value() {
    let (address, seen, answer) =
        loopback_changing(kv_answer("k8s-plugin", Some("{\"namespace\": \"onap\"}")));
    let value = stratus_k8s::consul::get(&address, "k8s-plugin")
        .await
        .unwrap();
    assert_eq!(value.as_deref(), Some(&b"{\"namespace\": \"onap\"}"[..]));
    // python-consul's kv.get: the JSON form, not `?raw`.
    assert!(
        seen.lock().unwrap()[0].starts_with("GET /v1/kv/k8s-plugin HTTP/1.1\r\n"),
        "{seen:?}"
    );
    // A key without a value, and no key at all.
    *answer.lock().unwrap() = kv_answer("k8s-plugin", None);
    let value = stratus_k8s::consul::get(&address, "k8s-plugin").await;
    assert_eq!(value.unwrap(), Some(vec![]));
    *answer.lock().unwrap() = NOT_FOUND.to_vec();
    let value = stratus_k8s::consul::get(&address, "k8s-plugin").await;
    assert_eq!(value.unwrap(), None);
    // A large value comes chunked from Consul's Go server.
    let big = format!("{{\"image_pull_secrets\": [\"{}\"]}}", "k".repeat(5000));
    let body = String::from_utf8(kv_answer("k8s-plugin", Some(&big))).unwrap();
    let body = body.split_once("\r\n\r\n").unwrap().1.to_string();
    let (first, second) = body.split_at(1000);
    let chunked = format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
        first.len(),
        second.len()
    );
    *answer.lock().unwrap() = chunked.into_bytes();
    let value = stratus_k8s::consul::get(&address, "k8s-plugin").await;
    assert_eq!(value.unwrap(), Some(big.into_bytes()));
    // Errors: 500 retryable, a garbled answer not.
    *answer.lock().unwrap() =
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nno".to_vec();
    let error = stratus_k8s::consul::get(&address, "k8s-plugin")
        .await
        .unwrap_err();
    assert!(error.recoverable(false), "{error}");
    *answer.lock().unwrap() = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{x}".to_vec();
    let error = stratus_k8s::consul::get(&address, "k8s-plugin")
        .await
        .unwrap_err();
    assert!(!error.recoverable(false), "{error}");
    assert!(error.to_string().contains("not JSON"), "{error}");
}

fn file_layer() -> PluginSettings {
    PluginSettings::from_value(json!({"namespace": "from-file", "poll_interval_ms": 50,
        "image_pull_secrets": ["file-secret"]}))
    .unwrap()
}

type Logged = Arc<Mutex<Vec<(String, String)>>>;

fn recorder() -> (Logged, impl Fn(&str, String) + Send + Sync) {
    let logged: Logged = Arc::new(Mutex::new(Vec::new()));
    let sink = logged.clone();
    (logged, move |level: &str, message: String| {
        sink.lock().unwrap().push((level.to_string(), message))
    })
}

#[tokio::test]
async fn settings_come_from_the_consul_key_over_the_file_and_defaults() {
    let value = r#"{"namespace": "onap", "filebeat": {"image": "filebeat:7"}}"#;
    let (address, seen, answer) = loopback_changing(kv_answer("k8s-plugin", Some(value)));
    let file = std::path::Path::new("/opt/onap/k8s-plugin.json");
    let source = SettingsSource::new(file_layer(), Some(file), Some(address.clone()));
    assert_eq!(
        source.describe(),
        format!("k8splugin defaults + file /opt/onap/k8s-plugin.json + Consul key 'k8s-plugin' at {address} (read at each operation)")
    );
    let (logged, log) = recorder();
    let settings = source.resolve(&log).await.unwrap();
    assert_eq!(settings.namespace, "onap");
    assert_eq!(settings.filebeat.image, "filebeat:7");
    assert_eq!(settings.filebeat.log_path, "/var/log/onap");
    assert_eq!(settings.image_pull_secrets, vec!["file-secret"]);
    assert_eq!(settings.poll_interval_ms, 50);
    assert_eq!(
        logged.lock().unwrap()[0],
        (
            "info".to_string(),
            format!("k8splugin settings: k8splugin defaults + file /opt/onap/k8s-plugin.json + Consul key 'k8s-plugin' at {address}")
        )
    );
    // Read at each operation: a changed key takes effect at once.
    *answer.lock().unwrap() = kv_answer("k8s-plugin", Some(r#"{"namespace": "dcae-2"}"#));
    assert_eq!(source.resolve(&log).await.unwrap().namespace, "dcae-2");
    assert_eq!(seen.lock().unwrap().len(), 2);
    // No key: the file and the defaults, as k8splugin used its defaults.
    *answer.lock().unwrap() = NOT_FOUND.to_vec();
    let settings = source.resolve(&log).await.unwrap();
    assert_eq!(settings.namespace, "from-file");
    let last = logged.lock().unwrap().last().unwrap().clone();
    assert!(
        last.1.contains("Consul key 'k8s-plugin' at") && last.1.ends_with("absent)"),
        "{last:?}"
    );
    // Without Consul: defaults and file only.
    let local = SettingsSource::new(file_layer(), None, None);
    assert_eq!(
        local.describe(),
        "k8splugin defaults (no Consul in config.txt)"
    );
    assert_eq!(local.resolve(&log).await.unwrap().namespace, "from-file");
}

#[tokio::test]
async fn bad_or_unreachable_consul_settings_fail_the_operation() {
    let (address, _, answer) = loopback_changing(kv_answer("k8s-plugin", Some("namespace: x")));
    let source = SettingsSource::new(file_layer(), None, Some(address.clone()));
    let (logged, log) = recorder();
    let error = source.resolve(&log).await.unwrap_err();
    assert!(matches!(error, Error::ConsulSettings { .. }), "{error:?}");
    assert!(!error.recoverable(false), "{error}");
    assert!(error.to_string().contains("not JSON"), "{error}");
    for (value, expected) in [
        (r#"["a"]"#, "must be a JSON mapping"),
        (r#"{"max_wait": "soon"}"#, "bad settings"),
    ] {
        *answer.lock().unwrap() = kv_answer("k8s-plugin", Some(value));
        let error = source.resolve(&log).await.unwrap_err();
        assert!(!error.recoverable(false), "{error}");
        assert!(error.to_string().contains(expected), "{error}");
    }
    // Unreachable: retryable, never a silent fallback, and a warning naming the address.
    let down = SettingsSource::new(file_layer(), None, Some("127.0.0.1:1".into()));
    let error = down.resolve(&log).await.unwrap_err();
    assert!(error.recoverable(false), "{error}");
    assert!(
        error
            .to_string()
            .starts_with("read k8splugin settings from Consul key 'k8s-plugin' at 127.0.0.1:1: "),
        "{error}"
    );
    let (level, message) = logged.lock().unwrap().last().unwrap().clone();
    assert_eq!(level, "warning");
    assert!(
        message.contains("127.0.0.1:1") && message.contains("does not run"),
        "{message}"
    );
}
