//! The Consul KV calls against a loopback HTTP server (no Consul server is available on
//! these machines): the requests k8splugin's `python-consul` made, and the error kinds.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

fn loopback(answer: &'static [u8]) -> (String, Arc<Mutex<Vec<String>>>) {
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
            let _ = stream.write_all(answer);
        }
    });
    (address, seen)
}

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
