//! The two Consul KV calls k8splugin made (`PUT` and `DELETE /v1/kv/<key>`), over plain
//! HTTP/1.1 on a TCP connection: no HTTP client library for two requests. A connection
//! failure is retryable (k8splugin raised `RecoverableError` for it); an HTTP error is not.

use std::time::Duration;

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

async fn call(address: &str, method: &str, key: &str, body: &[u8]) -> Result<String, Error> {
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
        Ok::<_, Error>(String::from_utf8_lossy(&response).into_owned())
    };
    let response = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| failed("timed out".into(), true))??;
    let status: u16 = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| failed("malformed HTTP response".into(), true))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.trim().to_string())
        .unwrap_or_default();
    if status == 200 {
        Ok(body)
    } else {
        Err(failed(format!("HTTP {status}: {body}"), status >= 500))
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
}
