//! An in-process server over a SQLite store in a temp dir, and request helpers.
#![allow(dead_code)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::Value;
use stratus_server::{App, Settings};
use tower::ServiceExt;

pub const PASSWORD: &str = "test-admin-pw";

pub struct Server {
    pub app: App,
    pub dir: tempfile::TempDir,
}

pub fn settings(dir: &std::path::Path, max_body_bytes: usize) -> Settings {
    // The sealing key differs per data directory, as it does between real instances.
    let mut secret_key = [42u8; 32];
    for (i, byte) in dir.to_string_lossy().bytes().enumerate() {
        secret_key[i % 32] ^= byte;
    }
    Settings {
        data_dir: dir.to_path_buf(),
        resolver: Default::default(),
        secret_key,
        max_body_bytes,
        status_notes: Vec::new(),
        executors: stratus_server::runner::Executors::with_builtins(),
        engine: stratus_engine::Settings {
            max_in_flight: 32,
            ..Default::default()
        },
    }
}

impl Server {
    pub async fn start() -> Server {
        Server::with_limit(64 * 1024 * 1024).await
    }

    pub async fn with_limit(max_body_bytes: usize) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let app = Server::open_app(dir.path(), max_body_bytes).await;
        Server { app, dir }
    }

    pub async fn open_app(dir: &std::path::Path, max_body_bytes: usize) -> App {
        let store = stratus_store::SqliteStore::open(&dir.join("stratus.db")).expect("open store");
        let app =
            stratus_server::open(Arc::new(store), settings(dir, max_body_bytes)).expect("load");
        stratus_server::bootstrap(
            &app,
            stratus_server::AdminPassword::Given {
                password: PASSWORD.into(),
                source: "test".into(),
            },
            dir,
        )
        .await
        .expect("bootstrap");
        app
    }

    /// Drops the app (closing the store) and opens a new one on the same data dir.
    pub async fn restart(self) -> Server {
        let Server { app, dir } = self;
        let limit = app.settings.max_body_bytes;
        drop(app);
        let app = Server::open_app(dir.path(), limit).await;
        Server { app, dir }
    }

    pub async fn request(&self, request: Request<Body>) -> (StatusCode, Value, Vec<u8>) {
        let router = stratus_server::app::router(self.app.clone());
        let response = router.oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, json, bytes)
    }

    pub async fn call_as(
        &self,
        (user, password, tenant): (&str, &str, &str),
        method: Method,
        uri: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Basic {auth}"))
            .header("tenant", tenant)
            .header("content-type", content_type)
            .body(Body::from(body))
            .expect("request");
        let (status, json, _) = self.request(request).await;
        (status, json)
    }

    pub async fn call(&self, method: Method, uri: &str, body: Value) -> (StatusCode, Value) {
        let bytes = if body.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(&body).expect("json")
        };
        self.call_as(
            ("admin", PASSWORD, "default_tenant"),
            method,
            uri,
            "application/json",
            bytes,
        )
        .await
    }

    pub async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.call(Method::GET, uri, Value::Null).await
    }

    /// Uploads `yaml` as blueprint `blueprint` and creates `deployment` from it; both must
    /// succeed.
    pub async fn deploy(&self, blueprint: &str, yaml: &str, deployment: &str, inputs: Value) {
        let (status, body) = self.upload(blueprint, blueprint_archive(yaml, &[])).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let uri = format!("/api/v3.1/deployments/{deployment}");
        let request = serde_json::json!({"blueprint_id": blueprint, "inputs": inputs});
        let (status, body) = self.call(Method::PUT, &uri, request).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    pub async fn upload(&self, id: &str, archive: Vec<u8>) -> (StatusCode, Value) {
        self.call_as(
            ("admin", PASSWORD, "default_tenant"),
            Method::PUT,
            &format!("/api/v3.1/blueprints/{id}"),
            "application/octet-stream",
            archive,
        )
        .await
    }
}

/// A raw ustar header (the `tar` crate refuses the hostile names tests need).
pub fn tar_header(name: &str, kind: u8, link: &str, size: usize) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

/// A tar of `(name, kind, link target, data)` entries.
pub fn tar(entries: &[(&str, u8, &str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, link, data) in entries {
        out.extend_from_slice(&tar_header(name, *kind, link, data.len()));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

/// A blueprint archive `app/blueprint.yaml` (+ extra files).
pub fn blueprint_archive(yaml: &str, extra: &[(&str, &[u8])]) -> Vec<u8> {
    let mut entries: Vec<(String, u8, &str, &[u8])> =
        vec![("app/blueprint.yaml".into(), b'0', "", yaml.as_bytes())];
    for (name, data) in extra {
        entries.push((format!("app/{name}"), b'0', "", data));
    }
    let refs: Vec<(&str, u8, &str, &[u8])> = entries
        .iter()
        .map(|(n, k, l, d)| (n.as_str(), *k, *l, *d))
        .collect();
    gzip(&tar(&refs))
}

pub const SIMPLE: &str = r#"
tosca_definitions_version: cloudify_dsl_1_3
imports:
  - http://www.getcloudify.org/spec/cloudify/4.5.5/types.yaml
inputs:
  size:
    type: integer
  name:
    default: web
node_types:
  test.Server:
    derived_from: cloudify.nodes.Root
    properties:
      size: { type: integer }
  test.Database:
    derived_from: cloudify.nodes.Root
    properties:
      port: { type: integer, default: 1 }
node_templates:
  server:
    type: test.Server
    properties:
      size: { get_input: size }
    instances:
      deploy: 2
  db:
    type: test.Database
    properties:
      port: 5432
  app:
    type: cloudify.nodes.Root
    relationships:
      - type: cloudify.relationships.contained_in
        target: server
outputs:
  greeting:
    value: { concat: [ "hello ", { get_input: name } ] }
  size:
    value: { get_attribute: [ db, port ] }
"#;
