//! `policy_update`'s notification, as k8splugin did it: the script named by
//! `docker_config.policy.script_path` runs as `SCRIPT policies JSON` in the main container
//! (the first) of every *running* pod of the component's Deployment, found by the
//! `k8sdeployment` label, through Kubernetes exec (WebSocket). Each pod's stdout and stderr
//! come back as `{"pod", "output"}`. A pod that disappeared between listing and exec is not an
//! error (its output is "Pod not found", as in k8splugin); any other failure is.
//!
//! Pods are listed once: a pod started later reads the new configuration when it starts.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, ListParams};
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;

use crate::Error;

/// Runs `command` in every running pod of `deployment` in `namespace`; returns what each said.
pub(crate) async fn notify(
    client: &kube::Client,
    namespace: &str,
    deployment: &str,
    command: &[String],
) -> Result<Vec<Value>, Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let selector = format!("k8sdeployment={deployment}");
    let listed = pods
        .list(
            &ListParams::default()
                .labels(&selector)
                .fields("status.phase=Running"),
        )
        .await
        .map_err(|e| Error::from_kube("list", &format!("pods {namespace}/{selector}"), e))?;
    let mut results = Vec::new();
    for pod in listed.items {
        let Some(name) = pod.metadata.name.clone() else {
            continue;
        };
        let container = pod
            .spec
            .as_ref()
            .and_then(|spec| spec.containers.first())
            .map(|c| c.name.clone());
        let output = run_in_pod(&pods, namespace, &name, container, command).await?;
        results.push(json!({"pod": name, "output": output}));
    }
    Ok(results)
}

async fn run_in_pod(
    pods: &Api<Pod>,
    namespace: &str,
    pod: &str,
    container: Option<String>,
    command: &[String],
) -> Result<String, Error> {
    let object = format!("pod {namespace}/{pod}");
    let mut params = AttachParams::default()
        .stdin(false)
        .stdout(true)
        .stderr(true);
    if let Some(container) = container {
        params = params.container(container);
    }
    let mut process = match pods.exec(pod, command.to_vec(), &params).await {
        Ok(process) => process,
        Err(error) if gone(&error) => return Ok("Pod not found".into()),
        Err(error) => return Err(exec_error(&object, error)),
    };
    // Both streams at once: a command that fills one while the other is read must not stall.
    let (out, err) = tokio::join!(read_all(process.stdout()), read_all(process.stderr()));
    let status = match process.take_status() {
        Some(status) => status.await,
        None => None,
    };
    process
        .join()
        .await
        .map_err(|e| Error::Input(format!("exec in {object}: {e}")))?;
    let mut output = String::from_utf8_lossy(&out).into_owned();
    output.push_str(&String::from_utf8_lossy(&err));
    // k8splugin could not see the command's exit status (its client library hid it); the
    // output is what it logged. A failed command is reported in the output the same way.
    if let Some(status) = status.filter(|s| s.status.as_deref() == Some("Failure")) {
        let message = status.message.unwrap_or_default();
        output.push_str(&format!("\n(exit: {message})"));
    }
    Ok(output)
}

/// Everything `stream` gives, or nothing if reading it fails part way.
async fn read_all(stream: Option<impl tokio::io::AsyncRead + Unpin>) -> Vec<u8> {
    let mut text = Vec::new();
    if let Some(mut stream) = stream {
        if stream.read_to_end(&mut text).await.is_err() {
            text.clear();
        }
    }
    text
}

fn refused_upgrade(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::UpgradeConnection(kube::client::UpgradeConnectionError::ProtocolSwitch(
            code,
        )) => Some(code.as_u16()),
        _ => None,
    }
}

/// The pod went away after it was listed.
fn gone(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => status.code == 404,
        other => refused_upgrade(other) == Some(404),
    }
}

/// A refused upgrade carries only its HTTP status (the API server's reason, for example "pod
/// does not have a host assigned", is in a body the WebSocket client does not read); it is
/// retried as any API refusal with that status would be.
fn exec_error(object: &str, error: kube::Error) -> Error {
    match refused_upgrade(&error) {
        Some(code) => Error::Api {
            verb: "exec in".into(),
            object: object.to_string(),
            status: code,
            reason: http_reason(code).into(),
            message: "the API server refused to open the exec stream".into(),
        },
        None => Error::from_kube("exec in", object, error),
    }
}

fn http_reason(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        500 => "InternalError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        _ => "Refused",
    }
}
