//! A Node whose "kubelet" answers exec (`kubelet_exec.py`), and running pods on it: what
//! `policy_update` needs to notify a component through the real kube-apiserver.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use super::{unique, Cluster};

pub struct ExecNode<'c> {
    cluster: &'c Cluster,
    pub name: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl<'c> ExecNode<'c> {
    /// Starts the stand-in kubelet and registers a Node pointing at it.
    pub fn start(cluster: &'c Cluster) -> ExecNode<'c> {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let made = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=127.0.0.1", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status()
            .expect("run openssl");
        assert!(made.success(), "openssl req failed");
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/k8s_support/kubelet_exec.py"
        );
        let mut child = Command::new("python3")
            .arg(script)
            .arg(&cert)
            .arg(&key)
            .arg(dir.path().join("exec.log"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("start kubelet_exec.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().parse().expect("kubelet_exec.py port");
        let name = unique("exec-node");
        let (status, body) = cluster.request(
            "POST",
            "/api/v1/nodes",
            Some((
                "application/json",
                &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}),
            )),
        );
        assert_eq!(status, 201, "create node: {body}");
        let (status, body) = cluster.request(
            "PATCH",
            &format!("/api/v1/nodes/{name}/status"),
            Some((
                "application/merge-patch+json",
                &json!({"status": {
                    "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}}),
            )),
        );
        assert_eq!(status, 200, "node status: {body}");
        ExecNode {
            cluster,
            name,
            child,
            dir,
        }
    }

    /// Creates pod `name` on this node with `labels` and two containers (the component first,
    /// a `filebeat` sidecar second), and sets its phase.
    pub fn pod(&self, namespace: &str, name: &str, labels: Value, phase: &str) {
        // No controller-manager: the ServiceAccount admission needs `default` to exist.
        self.cluster.request(
            "POST",
            &format!("/api/v1/namespaces/{namespace}/serviceaccounts"),
            Some((
                "application/json",
                &json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}),
            )),
        );
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels},
            "spec": {"nodeName": self.name, "automountServiceAccountToken": false,
                "containers": [{"name": "main", "image": "nginx:1.19"},
                               {"name": "filebeat", "image": "filebeat:5"}]}});
        let (status, body) = self.cluster.request(
            "POST",
            &format!("/api/v1/namespaces/{namespace}/pods"),
            Some(("application/json", &pod)),
        );
        assert_eq!(status, 201, "create pod {name}: {body}");
        let (status, body) = self.cluster.request(
            "PATCH",
            &format!("/api/v1/namespaces/{namespace}/pods/{name}/status"),
            Some((
                "application/merge-patch+json",
                &json!({"status": {"phase": phase}}),
            )),
        );
        assert_eq!(status, 200, "pod {name} phase: {body}");
    }

    /// The exec requests the stand-in kubelet received.
    pub fn execs(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("exec.log"))
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

impl Drop for ExecNode<'_> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.cluster
            .request("DELETE", &format!("/api/v1/nodes/{}", self.name), None);
    }
}
