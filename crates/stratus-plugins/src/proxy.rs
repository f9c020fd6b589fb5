//! The ctx proxy: one loopback HTTP listener for every running operation.
//!
//! The reference starts an HTTP server per operation on a fresh port; at hundreds of script
//! operations a second that is hundreds of listening sockets and threads. Here one listener
//! serves them all and tells operations apart by an unguessable token in the URL path
//! (`http://127.0.0.1:PORT/ctx/<token>`), so a script can only reach its own operation's
//! context, and a URL stops working as soon as the operation is finished. The wire protocol is
//! the reference's (`cloudify/proxy/server.py`): a POST of `{"args": [...]}` answered with
//! `{"type": "result"|"error"|"stop_operation", "payload": …}` and status 200.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::context::{OperationContext, OperationEffects};
use crate::request::{CtxError, LiveOperation, Reply};
use crate::LogSink;

/// The largest request body accepted (runtime property values can be sizeable documents).
const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// Why the proxy could not start or register an operation.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("bind the ctx proxy on 127.0.0.1: {0}")]
    Bind(#[source] std::io::Error),
    #[error("draw a random ctx token: {0}")]
    Random(String),
}

type Registry = Mutex<HashMap<String, Arc<Mutex<LiveOperation>>>>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The shared ctx proxy. Cheap to clone; the listener stops when the last clone is dropped.
#[derive(Clone)]
pub struct CtxProxy {
    inner: Arc<ProxyInner>,
}

struct ProxyInner {
    port: u16,
    registry: Arc<Registry>,
    _shutdown: watch::Sender<()>,
}

impl CtxProxy {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime.
    pub async fn start() -> Result<CtxProxy, ProxyError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(ProxyError::Bind)?;
        let port = listener.local_addr().map_err(ProxyError::Bind)?.port();
        let registry: Arc<Registry> = Arc::new(Mutex::new(HashMap::new()));
        let (shutdown, mut stopped) = watch::channel(());
        let serving = Arc::clone(&registry);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = stopped.changed() => break,
                    accepted = listener.accept() => accepted,
                };
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let registry = Arc::clone(&serving);
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(Arc::clone(&registry), request));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(CtxProxy {
            inner: Arc::new(ProxyInner {
                port,
                registry,
                _shutdown: shutdown,
            }),
        })
    }

    pub fn port(&self) -> u16 {
        self.inner.port
    }

    /// Registers an operation; the URL is valid until the handle is finished or dropped.
    pub fn register(&self, ctx: OperationContext) -> Result<(String, OperationHandle), ProxyError> {
        self.register_with(ctx, None, None)
    }

    /// As `register`, with `ctx logger` lines streamed to `sink` and relative download targets
    /// resolved against `cwd` (the script's working directory).
    pub fn register_with(
        &self,
        ctx: OperationContext,
        sink: Option<Arc<dyn LogSink>>,
        cwd: Option<PathBuf>,
    ) -> Result<(String, OperationHandle), ProxyError> {
        let token = secure_token()?;
        let live = Arc::new(Mutex::new(LiveOperation::new(ctx, sink, cwd)));
        lock(&self.inner.registry).insert(token.clone(), Arc::clone(&live));
        let url = format!("http://127.0.0.1:{}/ctx/{token}", self.inner.port);
        let handle = OperationHandle {
            token,
            url: url.clone(),
            registry: Arc::clone(&self.inner.registry),
            live,
            finished: false,
        };
        Ok((url, handle))
    }

    /// How many operations are registered (for tests and metrics).
    pub fn registered(&self) -> usize {
        lock(&self.inner.registry).len()
    }
}

/// A registered operation. Finishing (or dropping) it invalidates its URL.
pub struct OperationHandle {
    token: String,
    url: String,
    registry: Arc<Registry>,
    live: Arc<Mutex<LiveOperation>>,
    finished: bool,
}

impl OperationHandle {
    pub fn socket_url(&self) -> &str {
        &self.url
    }

    /// The context as the operation sees it now (runtime properties include its own changes).
    pub fn context(&self) -> OperationContext {
        lock(&self.live).ctx.clone()
    }

    /// What the operation has recorded so far.
    pub fn effects(&self) -> OperationEffects {
        lock(&self.live).effects.clone()
    }

    /// Unregisters the operation and returns everything it recorded. Files downloaded without
    /// a target path are removed.
    pub fn finish(mut self) -> OperationEffects {
        self.unregister();
        let mut live = lock(&self.live);
        if let Some(directory) = live.download_dir.take() {
            let _ = std::fs::remove_dir_all(directory);
        }
        std::mem::take(&mut live.effects)
    }

    fn unregister(&mut self) {
        if !self.finished {
            self.finished = true;
            lock(&self.registry).remove(&self.token);
        }
    }
}

impl Drop for OperationHandle {
    fn drop(&mut self) {
        self.unregister();
        if let Some(directory) = lock(&self.live).download_dir.take() {
            let _ = std::fs::remove_dir_all(directory);
        }
    }
}

async fn handle(
    registry: Arc<Registry>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let token = request
        .uri()
        .path()
        .strip_prefix("/ctx/")
        .map(str::to_owned);
    let live = token.and_then(|token| lock(&registry).get(&token).cloned());
    let Some(live) = live else {
        return Ok(respond(
            StatusCode::NOT_FOUND,
            error_body(&CtxError::new(
                "RuntimeError",
                "no running operation at this ctx URL (unknown or finished)",
            )),
        ));
    };
    if request.method() != Method::POST {
        return Ok(respond(
            StatusCode::METHOD_NOT_ALLOWED,
            error_body(&CtxError::new(
                "RuntimeError",
                "the ctx proxy accepts POST only",
            )),
        ));
    }
    let body = match Limited::new(request.into_body(), MAX_REQUEST_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            return Ok(respond(
                StatusCode::PAYLOAD_TOO_LARGE,
                error_body(&CtxError::new(
                    "RuntimeError",
                    format!("cannot read the request: {error}"),
                )),
            ))
        }
    };
    let args = match parse_request(&body) {
        Ok(args) => args,
        Err(error) => return Ok(respond(StatusCode::OK, error_body(&error))),
    };
    // File I/O (download-resource) runs off the async workers; everything else is in memory.
    let touches_files = args.iter().any(|arg| {
        arg.as_str()
            .is_some_and(|text| text.starts_with("download"))
    });
    let reply = if touches_files {
        tokio::task::spawn_blocking(move || lock(&live).process(&args))
            .await
            .unwrap_or_else(|error| {
                Err(CtxError::new(
                    "RuntimeError",
                    format!("ctx request failed: {error}"),
                ))
            })
    } else {
        lock(&live).process(&args)
    };
    let body = match reply {
        Ok(Reply::Result(payload)) => json!({"type": "result", "payload": payload}),
        Ok(Reply::Stop(message)) => {
            json!({"type": "stop_operation", "payload": {"message": message}})
        }
        Err(error) => error_body(&error),
    };
    Ok(respond(StatusCode::OK, body))
}

/// `json.loads(request)['args']`, failing as the reference does.
fn parse_request(body: &[u8]) -> Result<Vec<Value>, CtxError> {
    let request: Value = serde_json::from_slice(body)
        .map_err(|error| CtxError::new("JSONDecodeError", error.to_string()))?;
    match request {
        Value::Object(mut map) => match map.remove("args") {
            Some(Value::Array(args)) => Ok(args),
            Some(other) => Err(CtxError::new(
                "TypeError",
                format!(
                    "args must be a list, not {}",
                    crate::context::type_name(&other)
                ),
            )),
            None => Err(CtxError::new("KeyError", "'args'")),
        },
        other => Err(CtxError::new(
            "TypeError",
            format!(
                "{} indices must be integers",
                crate::context::type_name(&other)
            ),
        )),
    }
}

fn error_body(error: &CtxError) -> Value {
    json!({
        "type": "error",
        "payload": {
            "type": error.kind,
            "message": error.message,
            "traceback": format!("Traceback (most recent call last):\n  File \"<stratus ctx proxy>\"\n{}: {}\n", error.kind, error.message),
        }
    })
}

fn respond(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// 128 bits from the operating system's generator, hex-encoded.
fn secure_token() -> Result<String, ProxyError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|error| ProxyError::Random(error.to_string()))?;
    Ok(hex(&bytes))
}

/// A random name component that need not be secret (falls back to a counter).
pub(crate) fn random_token(length: usize) -> String {
    let mut bytes = vec![0u8; length];
    if getrandom::fill(&mut bytes).is_err() {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let count = COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes();
        for (byte, source) in bytes.iter_mut().rev().zip(count.iter().rev()) {
            *byte = *source;
        }
    }
    hex(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
