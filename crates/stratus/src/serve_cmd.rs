//! `stratus serve`: opens the store, bootstraps the admin user, and serves the REST API until
//! SIGTERM or Ctrl-C, then drains requests and exits. Every option comes from a flag, a
//! `STRATUS_*` environment variable or the config file, in that order of precedence.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use clap::Args;
use stratus_server::bootstrap::AdminOutcome;
use stratus_server::{AdminPassword, Settings};
use stratus_store::Store;

use crate::config::Config;

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Where state lives (SQLite database, unpacked blueprints, keys).
    #[arg(long, env = "STRATUS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "STRATUS_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// `postgres://user@host:port/db` to keep state in PostgreSQL instead of SQLite.
    #[arg(long, env = "STRATUS_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The admin user's password (else CMPASS, else /opt/onap/cm-secrets/password, else generated).
    #[arg(long, env = "STRATUS_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Largest request body, in bytes.
    #[arg(long, env = "STRATUS_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Also serve HTTPS on this address, with --tls-cert/--tls-key or the certificates in
    /// /opt/onap/certs (cert.pem + key.pem, or tls.crt + tls.key); without certificates there,
    /// HTTPS stays off.
    #[arg(long, env = "STRATUS_TLS_LISTEN")]
    pub tls_listen: Option<SocketAddr>,
    /// PEM certificate chain for HTTPS.
    #[arg(long, env = "STRATUS_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    #[arg(long, env = "STRATUS_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Operations an execution runs at once (0: no limit).
    #[arg(long, env = "STRATUS_MAX_IN_FLIGHT", default_value_t = 32)]
    pub max_in_flight: usize,
    /// Retries of an operation that sets no `max_retries` (-1: forever; Cloudify's default 60).
    #[arg(
        long,
        env = "STRATUS_TASK_RETRIES",
        default_value_t = 60,
        allow_negative_numbers = true
    )]
    pub task_retries: i64,
    /// Seconds between retries of an operation that sets no `retry_interval` (default 15).
    #[arg(long, env = "STRATUS_TASK_RETRY_INTERVAL", default_value_t = 15.0)]
    pub task_retry_interval: f64,
    /// Where ONAP's pgaas plugin keeps its cluster information files (default DATA_DIR/pgaas;
    /// the original manager's /opt/manager/resources/pgaas).
    #[arg(long, env = "STRATUS_PGAAS_DIR")]
    pub pgaas_dir: Option<PathBuf>,
}

/// Where the original container's operators put certificates.
const ONAP_CERTS: &str = "/opt/onap/certs";

/// The certificate and key to serve HTTPS with, if any.
fn tls_files(args_cert: Option<PathBuf>, args_key: Option<PathBuf>) -> Option<(PathBuf, PathBuf)> {
    if let (Some(cert), Some(key)) = (args_cert, args_key) {
        return Some((cert, key));
    }
    let dir = Path::new(ONAP_CERTS);
    [("cert.pem", "key.pem"), ("tls.crt", "tls.key")]
        .into_iter()
        .map(|(cert, key)| (dir.join(cert), dir.join(key)))
        .find(|(cert, key)| cert.is_file() && key.is_file())
}

/// The options after merging flags, environment and the config file.
pub struct Resolved {
    pub engine: stratus_engine::Settings,
    pub tls: Option<(SocketAddr, PathBuf, PathBuf)>,
    /// `None`: chosen by `data_dir::choose` (the `/cfy-persist` volume or `./stratus-data`).
    pub data_dir: Option<PathBuf>,
    pub listen: SocketAddr,
    pub database_url: Option<String>,
    pub admin_password: AdminPassword,
    pub max_body_bytes: usize,
    /// `None`: `DATA_DIR/pgaas`.
    pub pgaas_dir: Option<PathBuf>,
}

const ONAP_PASSWORD_FILE: &str = "/opt/onap/cm-secrets/password";

pub fn resolve(args: ServeArgs, config: &Config) -> Result<Resolved> {
    let server = &config.server;
    let data_dir = args.data_dir.or_else(|| server.data_dir.clone());
    let listen = match args.listen {
        Some(listen) => listen,
        None => server
            .listen
            .as_deref()
            .unwrap_or("127.0.0.1:8100")
            .parse()
            .context("config `listen` must be ADDRESS:PORT")?,
    };
    let admin_password = if let Some(password) = args
        .admin_password
        .or_else(|| server.admin_password.clone())
    {
        AdminPassword::Given {
            password,
            source: "--admin-password / STRATUS_ADMIN_PASSWORD / config".into(),
        }
    } else if let Some(password) = std::env::var("CMPASS").ok().filter(|p| !p.is_empty()) {
        AdminPassword::Given {
            password,
            source: "CMPASS".into(),
        }
    } else if let Ok(text) = std::fs::read_to_string(ONAP_PASSWORD_FILE) {
        AdminPassword::Given {
            password: text.trim_end_matches(['\n', '\r']).to_string(),
            source: ONAP_PASSWORD_FILE.into(),
        }
    } else {
        AdminPassword::None
    };
    let tls_listen = match args.tls_listen {
        Some(listen) => Some(listen),
        None => server
            .tls_listen
            .as_deref()
            .map(str::parse)
            .transpose()
            .context("config `tls_listen` must be ADDRESS:PORT")?,
    };
    let tls = match tls_listen {
        None => None,
        Some(listen) => {
            let cert = args.tls_cert.or_else(|| server.tls_cert.clone());
            let key = args.tls_key.or_else(|| server.tls_key.clone());
            if cert.is_some() != key.is_some() {
                bail!("HTTPS needs both a certificate (tls_cert) and a key (tls_key)");
            }
            match tls_files(cert, key) {
                Some((cert, key)) => Some((listen, cert, key)),
                None => {
                    eprintln!("stratus: no certificates given or found in {ONAP_CERTS} (cert.pem + key.pem): HTTPS is off");
                    None
                }
            }
        }
    };
    let engine = stratus_engine::Settings {
        max_in_flight: args.max_in_flight,
        default_max_retries: args.task_retries,
        default_retry_interval_ms: (args.task_retry_interval.max(0.0) * 1000.0) as u64,
        ..Default::default()
    };
    Ok(Resolved {
        engine,
        tls,
        data_dir,
        listen,
        database_url: args.database_url.or_else(|| server.database_url.clone()),
        admin_password,
        max_body_bytes: args
            .max_body_bytes
            .or(server.max_body_bytes)
            .unwrap_or(512 * 1024 * 1024),
        pgaas_dir: args.pgaas_dir.or_else(|| server.pgaas_dir.clone()),
    })
}

/// The 32-byte key that seals secrets: `DATA_DIR/secret.key`, created on first start.
pub fn secret_key(data_dir: &Path) -> Result<[u8; 32]> {
    let path = data_dir.join("secret.key");
    match std::fs::read(&path) {
        Ok(bytes) => bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("{} must hold exactly 32 bytes", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = stratus_server::crypto::random_bytes::<32>();
            stratus_server::files::write_atomic(&path, &key, true)
                .with_context(|| format!("create {}", path.display()))?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
    }
}

pub fn open_store(database_url: Option<&str>, data_dir: &Path) -> Result<Arc<dyn Store>> {
    match database_url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(stratus_store::PostgresStore::connect(url)?))
        }
        Some(_) => bail!("--database-url must start with postgres:// or postgresql://"),
        None => {
            let path = data_dir.join("stratus.db");
            Ok(Arc::new(stratus_store::SqliteStore::open(&path)?))
        }
    }
}

/// What runs operations: the built-ins, the script plugin (its `ctx` is this binary),
/// k8splugin, pgaas (cluster files in `pgaas_dir`) and sshkeyshare.
async fn executors(
    status_notes: &mut Vec<(String, String)>,
    pgaas_dir: PathBuf,
) -> Result<stratus_server::runner::Executors> {
    let mut executors = stratus_server::runner::Executors::with_builtins();
    let me = std::env::current_exe().context("find this executable (it serves as `ctx`)")?;
    let script = std::sync::Arc::new(
        stratus_server::runner::ScriptExecutor::start(&me)
            .await
            .map_err(anyhow::Error::msg)?,
    );
    executors.register("script", script.clone());
    executors.register("cloudify-script-plugin", script);
    let kubernetes = stratus_server::runner::kubernetes::KubernetesExecutor::discover().await;
    eprintln!("stratus: k8splugin: {}", kubernetes.describe());
    status_notes.push(("kubernetes".into(), kubernetes.describe()));
    executors.register(
        stratus_server::runner::kubernetes::PACKAGE,
        std::sync::Arc::new(kubernetes),
    );
    use stratus_server::runner::pgaas;
    let pgaas_executor = pgaas::PgaasExecutor::new(pgaas_dir);
    status_notes.push(("pgaas".into(), pgaas_executor.describe()));
    executors.register(pgaas::PACKAGE, std::sync::Arc::new(pgaas_executor));
    executors.register(
        pgaas::KEYSHARE_PACKAGE,
        std::sync::Arc::new(pgaas::KeyshareExecutor),
    );
    Ok(executors)
}

pub fn run(args: ServeArgs, config: &Config) -> Result<std::process::ExitCode> {
    let started = std::time::Instant::now();
    let resolved = resolve(args, config)?;
    let (path, origin) = crate::data_dir::choose(resolved.data_dir.clone());
    if let Some(warning) = crate::data_dir::ephemeral_warning(origin) {
        eprintln!("stratus: {warning}");
    }
    let data_dir = crate::data_dir::adopt(path, origin)?;
    eprintln!(
        "stratus: {} data directory {} ({})",
        if data_dir.initialized {
            "initialized"
        } else {
            "using"
        },
        data_dir.path.display(),
        match data_dir.origin {
            crate::data_dir::Origin::Explicit => "as configured",
            crate::data_dir::Origin::PersistVolume => "the volume mounted at /cfy-persist",
            crate::data_dir::Origin::Default => "the default",
        }
    );
    let store = open_store(resolved.database_url.as_deref(), &data_dir.path)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let secret_key = secret_key(&data_dir.path)?;
    runtime.block_on(async move {
        let mut status_notes = Vec::new();
        let pgaas_dir = resolved
            .pgaas_dir
            .clone()
            .unwrap_or_else(|| data_dir.path.join("pgaas"));
        let executors = executors(&mut status_notes, pgaas_dir).await?;
        let settings = Settings {
            data_dir: data_dir.path.clone(),
            resolver: config.resolver.clone(),
            secret_key,
            max_body_bytes: resolved.max_body_bytes,
            status_notes,
            executors,
            engine: resolved.engine.clone(),
        };
        let app = stratus_server::open(store.clone(), settings)?;
        let outcome = stratus_server::bootstrap(&app, resolved.admin_password.clone(), &data_dir.path)
            .await
            .map_err(|e| anyhow::anyhow!("bootstrap: {}", e.message))?;
        match outcome {
            AdminOutcome::Kept => {}
            AdminOutcome::SetFrom(source) => eprintln!("stratus: admin password set from {source}"),
            AdminOutcome::Generated(path) => eprintln!(
                "stratus: no admin password was given; generated one and stored it in {}",
                path.display()
            ),
        }
        let resumed = stratus_server::runner::resume_all(&app);
        if resumed > 0 {
            eprintln!("stratus: resuming {resumed} interrupted execution(s)");
        }
        crate::release_free_memory();
        let listener = tokio::net::TcpListener::bind(resolved.listen)
            .await
            .with_context(|| format!("listen on {}", resolved.listen))?;
        let address = listener.local_addr()?;
        let https = match &resolved.tls {
            None => None,
            Some((listen, cert, key)) => {
                let acceptor = stratus_server::tls::acceptor(cert, key).map_err(|e| anyhow::anyhow!("HTTPS: {e}"))?;
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("listen on {listen}"))?;
                eprintln!("stratus: serving HTTPS on https://{}/api/v3.1 with {}", listener.local_addr()?, cert.display());
                Some((listener, acceptor))
            }
        };
        eprintln!(
            "stratus: serving the Cloudify REST API on http://{address}/api/v3.1 (state: {}; ready in {} ms)",
            store.describe(),
            started.elapsed().as_millis()
        );
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let when_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        };
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        });
        let plain = stratus_server::serve(listener, app.clone(), when_stopped());
        let secure = async {
            match https {
                Some((listener, acceptor)) => stratus_server::tls::serve_tls(listener, acceptor, app.clone(), when_stopped()).await,
                None => Ok(()),
            }
        };
        tokio::try_join!(plain, secure)?;
        eprintln!("stratus: stopped");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}
