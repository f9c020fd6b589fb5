//! Finding Kubernetes credentials once, at start, in the original container's order:
//! explicit configuration, `/opt/onap/kube/kubeconfig`, `/etc/cloudify/.kube/config`,
//! `KUBECONFIG`, the in-cluster service account, and `/secret` (the copy of the service
//! account that `setup-secret.sh` linked in). The first source that exists and loads wins;
//! a source that exists but does not load is skipped and named in the error if none works.
//! Every path is a field of `Sources`, so tests can point them anywhere.

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::Error;

/// Where to look, in order.
#[derive(Debug, Clone)]
pub struct Sources {
    /// A kubeconfig given by the operator (Stratus configuration).
    pub explicit: Option<PathBuf>,
    pub onap_kubeconfig: PathBuf,
    pub cloudify_kubeconfig: PathBuf,
    /// The value of `KUBECONFIG` (a `:`-separated list).
    pub kubeconfig_env: Option<String>,
    /// A directory holding `token`, `ca.crt` and optionally `namespace`.
    pub service_account: PathBuf,
    pub secret: PathBuf,
    /// `KUBERNETES_SERVICE_HOST` / `_PORT`, for the two service-account sources.
    pub service_host: Option<String>,
    pub service_port: Option<String>,
}

impl Sources {
    /// The standard places, with `explicit` from the caller and the environment read now.
    pub fn standard(explicit: Option<PathBuf>) -> Sources {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Sources {
            explicit,
            onap_kubeconfig: "/opt/onap/kube/kubeconfig".into(),
            cloudify_kubeconfig: "/etc/cloudify/.kube/config".into(),
            kubeconfig_env: env("KUBECONFIG"),
            service_account: "/var/run/secrets/kubernetes.io/serviceaccount".into(),
            secret: "/secret".into(),
            service_host: env("KUBERNETES_SERVICE_HOST"),
            service_port: env("KUBERNETES_SERVICE_PORT"),
        }
    }

    /// Nothing anywhere (tests fill in what they need).
    pub fn none(root: &Path) -> Sources {
        Sources {
            explicit: None,
            onap_kubeconfig: root.join("onap/kubeconfig"),
            cloudify_kubeconfig: root.join("cloudify/config"),
            kubeconfig_env: None,
            service_account: root.join("serviceaccount"),
            secret: root.join("secret"),
            service_host: None,
            service_port: None,
        }
    }
}

/// The credentials in use and where they came from.
#[derive(Clone)]
pub struct Credentials {
    pub config: kube::Config,
    source: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("source", &self.source)
            .field("cluster_url", &self.config.cluster_url.to_string())
            .finish()
    }
}

impl Credentials {
    /// Where the credentials came from and which server they reach (never a secret).
    pub fn describe(&self) -> String {
        format!("{} (API server {})", self.source, self.config.cluster_url)
    }

    pub fn client(&self) -> Result<kube::Client, Error> {
        kube::Client::try_from(self.config.clone()).map_err(|e| Error::Unreachable {
            verb: "connect to".into(),
            object: "the Kubernetes API server".into(),
            message: e.to_string(),
        })
    }
}

async fn from_kubeconfig(kubeconfig: Kubeconfig) -> Result<kube::Config, String> {
    kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| e.to_string())
}

async fn kubeconfig_file(path: &Path) -> Result<kube::Config, String> {
    let kubeconfig = Kubeconfig::read_from(path).map_err(|e| e.to_string())?;
    from_kubeconfig(kubeconfig).await
}

async fn service_account(dir: &Path, sources: &Sources) -> Result<kube::Config, String> {
    let token = dir.join("token");
    let ca = dir.join("ca.crt");
    for file in [&token, &ca] {
        if !file.is_file() {
            return Err(format!("{} is missing", file.display()));
        }
    }
    let host = sources
        .service_host
        .clone()
        .unwrap_or_else(|| "kubernetes.default.svc".into());
    let port = sources.service_port.clone().unwrap_or_else(|| "443".into());
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    let namespace = std::fs::read_to_string(dir.join("namespace"))
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|_| "default".into());
    let kubeconfig = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "in-cluster", "cluster": {
            "server": format!("https://{host}:{port}"),
            "certificate-authority": ca.display().to_string()}}],
        "users": [{"name": "service-account", "user": {"tokenFile": token.display().to_string()}}],
        "contexts": [{"name": "in-cluster", "context": {
            "cluster": "in-cluster", "user": "service-account", "namespace": namespace}}],
        "current-context": "in-cluster"
    });
    let kubeconfig: Kubeconfig = serde_json::from_value(kubeconfig).map_err(|e| e.to_string())?;
    from_kubeconfig(kubeconfig).await
}

/// The first usable source, or `NoCredentials` naming everything that was tried.
pub async fn find(sources: &Sources) -> Result<Credentials, Error> {
    let mut looked = Vec::new();
    let found = |config: kube::Config, source: String| {
        let mut config = config;
        config.connect_timeout = Some(std::time::Duration::from_secs(5));
        config.read_timeout = Some(std::time::Duration::from_secs(30));
        Ok(Credentials { config, source })
    };
    let files = [
        ("explicit kubeconfig", sources.explicit.clone()),
        ("ONAP kubeconfig", Some(sources.onap_kubeconfig.clone())),
        (
            "Cloudify kubeconfig",
            Some(sources.cloudify_kubeconfig.clone()),
        ),
    ];
    for (what, path) in files {
        let Some(path) = path else {
            looked.push(format!("{what}: not configured"));
            continue;
        };
        if !path.is_file() {
            looked.push(format!("{what} {}: absent", path.display()));
            continue;
        }
        match kubeconfig_file(&path).await {
            Ok(config) => return found(config, format!("{what} {}", path.display())),
            Err(e) => looked.push(format!("{what} {}: unusable ({e})", path.display())),
        }
    }
    match &sources.kubeconfig_env {
        None => looked.push("KUBECONFIG: not set".into()),
        Some(list) => {
            let paths: Vec<&str> = list
                .split(':')
                .filter(|p| !p.is_empty() && Path::new(p).is_file())
                .collect();
            let mut merged: Option<Result<Kubeconfig, String>> = None;
            for path in &paths {
                let next = Kubeconfig::read_from(path).map_err(|e| format!("{path}: {e}"));
                merged = Some(match (merged, next) {
                    (None, next) => next,
                    (Some(Ok(base)), Ok(next)) => base.merge(next).map_err(|e| e.to_string()),
                    (Some(Err(e)), _) | (Some(Ok(_)), Err(e)) => Err(e),
                });
            }
            match merged {
                None => looked.push(format!("KUBECONFIG={list}: no such file")),
                Some(Err(e)) => looked.push(format!("KUBECONFIG={list}: unusable ({e})")),
                Some(Ok(kubeconfig)) => match from_kubeconfig(kubeconfig).await {
                    Ok(config) => return found(config, format!("KUBECONFIG {list}")),
                    Err(e) => looked.push(format!("KUBECONFIG={list}: unusable ({e})")),
                },
            }
        }
    }
    for (what, dir) in [
        ("in-cluster service account", &sources.service_account),
        ("service account copy", &sources.secret),
    ] {
        if !dir.is_dir() {
            looked.push(format!("{what} {}: absent", dir.display()));
            continue;
        }
        match service_account(dir, sources).await {
            Ok(config) => return found(config, format!("{what} {}", dir.display())),
            Err(e) => looked.push(format!("{what} {}: unusable ({e})", dir.display())),
        }
    }
    Err(Error::NoCredentials { looked })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://127.0.0.1:6443\", insecure-skip-tls-verify: true}\nusers:\n- name: u\n  user: {token: abc}\ncontexts:\n- name: x\n  context: {cluster: c, user: u, namespace: ns1}\ncurrent-context: x\n";

    #[tokio::test]
    async fn none_found_names_every_place() {
        let dir = tempfile::tempdir().unwrap();
        let error = find(&Sources::none(dir.path())).await.unwrap_err();
        let text = error.to_string();
        for expected in [
            "explicit kubeconfig: not configured",
            "onap/kubeconfig: absent",
            "cloudify/config: absent",
            "KUBECONFIG: not set",
            "serviceaccount: absent",
            "secret: absent",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
    }

    #[tokio::test]
    async fn order_is_explicit_onap_cloudify_env_serviceaccount_secret() {
        let dir = tempfile::tempdir().unwrap();
        let mut sources = Sources::none(dir.path());
        // The service-account copy at /secret, last in order.
        std::fs::create_dir_all(&sources.secret).unwrap();
        std::fs::write(sources.secret.join("ca.crt"), "x").unwrap();
        sources.service_host = Some("10.0.0.1".into());
        // Without a token the copy is unusable, and the error says so.
        let error = find(&sources).await.unwrap_err().to_string();
        assert!(error.contains("service account copy"), "{error}");
        assert!(error.contains("token is missing"), "{error}");
        // KUBECONFIG beats the service account.
        let env_file = dir.path().join("env-kubeconfig");
        std::fs::write(&env_file, KUBECONFIG).unwrap();
        sources.kubeconfig_env = Some(format!("/nonexistent:{}", env_file.display()));
        let found = find(&sources).await.unwrap();
        assert!(
            found.describe().starts_with("KUBECONFIG"),
            "{}",
            found.describe()
        );
        assert_eq!(found.config.default_namespace, "ns1");
        // The Cloudify path beats KUBECONFIG, the ONAP path beats that, explicit beats all.
        std::fs::create_dir_all(sources.cloudify_kubeconfig.parent().unwrap()).unwrap();
        std::fs::write(&sources.cloudify_kubeconfig, KUBECONFIG).unwrap();
        assert!(find(&sources)
            .await
            .unwrap()
            .describe()
            .starts_with("Cloudify kubeconfig"));
        std::fs::create_dir_all(sources.onap_kubeconfig.parent().unwrap()).unwrap();
        std::fs::write(&sources.onap_kubeconfig, "not: [a kubeconfig").unwrap();
        // Unusable ONAP file: skipped, the Cloudify one is used.
        assert!(find(&sources)
            .await
            .unwrap()
            .describe()
            .starts_with("Cloudify kubeconfig"));
        std::fs::write(&sources.onap_kubeconfig, KUBECONFIG).unwrap();
        assert!(find(&sources)
            .await
            .unwrap()
            .describe()
            .starts_with("ONAP kubeconfig"));
        let explicit = dir.path().join("explicit");
        std::fs::write(&explicit, KUBECONFIG).unwrap();
        sources.explicit = Some(explicit);
        let found = find(&sources).await.unwrap();
        assert!(found.describe().starts_with("explicit kubeconfig"));
        assert!(!found.describe().contains("abc"), "no token in describe()");
    }

    #[tokio::test]
    async fn service_account_directory_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let mut sources = Sources::none(dir.path());
        std::fs::create_dir_all(&sources.service_account).unwrap();
        std::fs::write(sources.service_account.join("token"), "t").unwrap();
        std::fs::write(sources.service_account.join("namespace"), "onap\n").unwrap();
        let Some(ca) = test_ca(dir.path()) else {
            eprintln!("SKIPPED: openssl is not available to make a test CA");
            return;
        };
        std::fs::write(sources.service_account.join("ca.crt"), ca).unwrap();
        sources.service_host = Some("10.96.0.1".into());
        sources.service_port = Some("8443".into());
        let found = find(&sources).await.unwrap();
        assert!(found.describe().starts_with("in-cluster service account"));
        assert_eq!(
            found.config.cluster_url.to_string(),
            "https://10.96.0.1:8443/"
        );
        assert_eq!(found.config.default_namespace, "onap");
    }

    /// A throwaway self-signed CA made with `openssl` (present wherever the test cluster is).
    fn test_ca(dir: &Path) -> Option<String> {
        let out = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args([
                "-nodes",
                "-subj",
                "/CN=stratus-test",
                "-days",
                "1",
                "-keyout",
            ])
            .arg(dir.join("ca.key"))
            .arg("-out")
            .arg(dir.join("ca.pem"))
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| std::fs::read_to_string(dir.join("ca.pem")).ok())?
    }
}
