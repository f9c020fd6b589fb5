//! Stand-ins for what these machines lack: a TCP relay that can switch the API server "off",
//! and Consul (its KV answers, on loopback).

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::process::base64_free;

/// A stand-in for Consul on loopback: `GET /v1/kv/k8s-plugin` answers `settings` in Consul's
/// form (a JSON list, the value in base64), other keys 404; `PUT` and `DELETE` answer `true`.
/// Returns its address and the request lines seen.
pub fn fake_consul(settings: Value) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let mut request = Vec::new();
            let mut buffer = [0u8; 8192];
            loop {
                let n = std::io::Read::read(&mut stream, &mut buffer).unwrap_or(0);
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
            let text = String::from_utf8_lossy(&request).into_owned();
            let line = text.lines().next().unwrap_or("").to_string();
            let (status, body) = if line.starts_with("GET /v1/kv/k8s-plugin ") {
                let value = base64_free::encode(&settings.to_string());
                let body = json!([{"Key": "k8s-plugin", "Flags": 0, "Value": value,
                    "LockIndex": 0, "CreateIndex": 5, "ModifyIndex": 5}]);
                ("200 OK", body.to_string())
            } else if line.starts_with("GET ") {
                ("404 Not Found", String::new())
            } else {
                ("200 OK", "true".to_string())
            };
            log.lock().unwrap().push(line);
            let answer = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = std::io::Write::write_all(&mut stream, answer.as_bytes());
        }
    });
    (address, seen)
}

/// A TCP relay to the API server that can be switched off and on (the API server "down").
pub struct Relay {
    pub port: u16,
    pub up: Arc<AtomicBool>,
}

pub fn relay(target: &str) -> Relay {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let up = Arc::new(AtomicBool::new(true));
    let (target, flag) = (target.to_string(), up.clone());
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            if !flag.load(Ordering::SeqCst) {
                drop(client);
                continue;
            }
            let Ok(server) = TcpStream::connect(&target) else {
                continue;
            };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut client, mut server) = (client, server);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c2, &mut server);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut client);
            });
        }
    });
    Relay { port, up }
}
