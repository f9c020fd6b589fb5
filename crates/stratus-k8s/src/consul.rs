//! The Consul KV calls k8splugin made (`PUT` and `DELETE /v1/kv/<key>` for a component's
//! configuration, `GET /v1/kv/k8s-plugin` for its own settings), over plain HTTP/1.1 on a TCP
//! connection: no HTTP client library for three requests. A connection failure is retryable
//! (k8splugin raised `RecoverableError` for it); an HTTP error is not, except 5xx.
//!
//! `get` reads a key as python-consul's `kv.get` did: the JSON list Consul answers (not the
//! `?raw` form), whose one entry holds the value in base64; 404 is "no such key".

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Error;

const TIMEOUT: Duration = Duration::from_secs(10);

fn host_port(address: &str) -> String {
    let address = address.trim_start_matches("http://").trim_end_matches('/');
    if address
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        address.to_string()
    } else {
        format!("{address}:8500")
    }
}

fn encode_key(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b':' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The body of an HTTP/1.1 response, de-chunked when `Transfer-Encoding: chunked` (Consul's
/// Go server chunks bodies over 2 KiB written at once).
fn response_body(head: &str, body: &[u8]) -> Result<Vec<u8>, String> {
    let chunked = head.lines().any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("transfer-encoding")
                && value.to_ascii_lowercase().contains("chunked")
        })
    });
    if !chunked {
        return Ok(body.to_vec());
    }
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunked body")?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size '{size_text}'"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if rest.len() < size {
            return Err("truncated chunked body".into());
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
}

/// One request; the status and body of the answer, whatever the status.
async fn exchange(
    address: &str,
    method: &str,
    key: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>), Error> {
    let target = host_port(address);
    let failed = |message: String, recoverable: bool| Error::Consul {
        verb: method.into(),
        key: key.into(),
        address: target.clone(),
        message,
        recoverable,
    };
    let exchange = async {
        let mut stream = TcpStream::connect(&target)
            .await
            .map_err(|e| failed(format!("connect: {e}"), true))?;
        let head = format!(
            "{method} /v1/kv/{} HTTP/1.1\r\nHost: {target}\r\nContent-Length: {}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
            encode_key(key),
            body.len()
        );
        stream
            .write_all(head.as_bytes())
            .await
            .map_err(|e| failed(e.to_string(), true))?;
        stream
            .write_all(body)
            .await
            .map_err(|e| failed(e.to_string(), true))?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .await
            .map_err(|e| failed(e.to_string(), true))?;
        Ok::<_, Error>(response)
    };
    let response = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| failed("timed out".into(), true))??;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| failed("malformed HTTP response (no end of head)".into(), true))?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| failed("malformed HTTP response".into(), true))?;
    let body = response_body(&head, &response[split + 4..])
        .map_err(|e| failed(format!("malformed HTTP response: {e}"), true))?;
    Ok((status, body))
}

/// One request that must answer 200; its body as text.
async fn call(address: &str, method: &str, key: &str, body: &[u8]) -> Result<String, Error> {
    let (status, body) = exchange(address, method, key, body).await?;
    let body = String::from_utf8_lossy(&body).trim().to_string();
    if status == 200 {
        Ok(body)
    } else {
        Err(Error::Consul {
            verb: method.into(),
            key: key.into(),
            address: host_port(address),
            message: format!("HTTP {status}: {body}"),
            recoverable: status >= 500,
        })
    }
}

/// The value stored under `key` (decoded from base64; empty when the key holds no value), or
/// `None` when there is no such key.
pub async fn get(address: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
    let (status, body) = exchange(address, "GET", key, b"").await?;
    let failed = |message: String, recoverable: bool| Error::Consul {
        verb: "GET".into(),
        key: key.into(),
        address: host_port(address),
        message,
        recoverable,
    };
    match status {
        404 => return Ok(None),
        200 => {}
        other => {
            let text = String::from_utf8_lossy(&body);
            return Err(failed(
                format!("HTTP {other}: {}", text.trim()),
                other >= 500,
            ));
        }
    }
    let entries: Value = serde_json::from_slice(&body)
        .map_err(|e| failed(format!("the answer is not JSON: {e}"), false))?;
    let entry = entries
        .as_array()
        .and_then(|list| {
            list.iter()
                .find(|e| e.get("Key").and_then(Value::as_str) == Some(key))
                .or(list.first())
        })
        .ok_or_else(|| {
            failed(
                format!("the answer is not a list of entries: {entries}"),
                false,
            )
        })?;
    match entry.get("Value") {
        None | Some(Value::Null) => Ok(Some(Vec::new())),
        Some(Value::String(encoded)) => STANDARD
            .decode(encoded.trim())
            .map(Some)
            .map_err(|e| failed(format!("the value is not base64: {e}"), false)),
        Some(other) => Err(failed(format!("the value is not a string: {other}"), false)),
    }
}

/// Stores a component's configuration (JSON text) under `key`.
pub async fn put(address: &str, key: &str, value: &str) -> Result<(), Error> {
    let body = call(address, "PUT", key, value.as_bytes()).await?;
    if body.contains("true") {
        Ok(())
    } else {
        Err(Error::Consul {
            verb: "PUT".into(),
            key: key.into(),
            address: host_port(address),
            message: format!("Failed to push configuration (answer: {body})"),
            recoverable: false,
        })
    }
}

pub async fn delete(address: &str, key: &str) -> Result<(), Error> {
    call(address, "DELETE", key, b"").await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_keys() {
        assert_eq!(host_port("consul:8500"), "consul:8500");
        assert_eq!(host_port("consul"), "consul:8500");
        assert_eq!(host_port("http://10.0.0.1:8501/"), "10.0.0.1:8501");
        assert_eq!(encode_key("s1-x:rel a"), "s1-x:rel%20a");
    }

    #[test]
    fn chunked_bodies_are_joined() {
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked";
        assert_eq!(
            response_body(head, b"4\r\nab\r\n\r\n3;x=y\r\ncde\r\n0\r\n\r\n").unwrap(),
            b"ab\r\ncde"
        );
        assert!(response_body(head, b"9\r\nab").is_err());
        assert!(response_body(head, b"zz\r\n").is_err());
        assert_eq!(
            response_body("HTTP/1.1 200 OK", b"4\r\nab").unwrap(),
            b"4\r\nab"
        );
    }
}
