//! `stratus serve` as a process: where the admin password comes from, config file and
//! environment precedence, one server per data directory, and a clean stop on SIGTERM.

mod process;

use std::process::{Command, Stdio};
use std::time::Duration;

use process::{command, get, send, serve};

#[test]
fn without_a_password_one_is_generated_stored_privately_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(command(dir.path()));
    let file = dir.path().join("admin-password");
    assert!(
        server
            .log
            .iter()
            .any(|l| l.contains(&*file.to_string_lossy())),
        "{:?}",
        server.log
    );
    let password = std::fs::read_to_string(&file).unwrap().trim().to_string();
    assert!(password.len() >= 16);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        get(
            server.port,
            "/api/v3.1/status",
            &format!("admin:{password}")
        ),
        200
    );
    assert_eq!(get(server.port, "/api/v3.1/status", "admin:guess"), 401);
    assert_eq!(get(server.port, "/api/v3.1/status", ""), 401);
    assert_eq!(get(server.port, "/healthz", ""), 200);
    drop(server);
    let server = serve(command(dir.path()));
    assert_eq!(
        get(
            server.port,
            "/api/v3.1/status",
            &format!("admin:{password}")
        ),
        200,
        "kept across restarts"
    );
}

#[test]
fn the_password_comes_from_flag_env_cmpass_and_config_in_that_order() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("stratus.yaml");
    std::fs::write(
        &config,
        "admin_password: from-config\nmax_body_bytes: 1000\n",
    )
    .unwrap();
    let with_config = |extra: &dyn Fn(&mut Command)| {
        let mut c = command(&dir.path().join("data"));
        c.arg("--config").arg(&config);
        extra(&mut c);
        serve(c)
    };
    let server = with_config(&|_| {});
    assert_eq!(
        get(server.port, "/api/v3.1/status", "admin:from-config"),
        200
    );
    drop(server);
    let server = with_config(&|c| {
        c.env("CMPASS", "from-cmpass");
    });
    assert_eq!(
        get(server.port, "/api/v3.1/status", "admin:from-config"),
        200,
        "config beats CMPASS"
    );
    drop(server);
    let server = with_config(&|c| {
        c.env("STRATUS_ADMIN_PASSWORD", "from-env");
    });
    assert_eq!(
        get(server.port, "/api/v3.1/status", "admin:from-env"),
        200,
        "env beats config"
    );
    assert_eq!(
        get(server.port, "/api/v3.1/status", "admin:from-config"),
        401
    );
    drop(server);
    let mut c = command(&dir.path().join("data"));
    c.env("CMPASS", "from-cmpass");
    let server = serve(c);
    assert_eq!(
        get(server.port, "/api/v3.1/status", "admin:from-cmpass"),
        200,
        "CMPASS without config"
    );
}

#[test]
fn a_second_server_on_the_same_data_dir_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = command(dir.path());
    first.arg("--admin-password").arg("pw");
    let _server = serve(first);
    let mut second = command(dir.path());
    second.arg("--admin-password").arg("pw");
    let output = second.stderr(Stdio::piped()).output().unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("in use by another Stratus"), "{text}");
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = command(dir.path());
    c.arg("--admin-password").arg("pw");
    let mut server = serve(c);
    assert_eq!(get(server.port, "/readyz", ""), 200);
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
    // The reader thread ends when the pipe closes; take everything it still has.
    let rest: Vec<String> =
        std::iter::from_fn(|| server.lines.recv_timeout(Duration::from_secs(5)).ok()).collect();
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
}

#[test]
fn https_is_served_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl (Debian's openssl package) makes the test certificate");
    assert!(made.success());
    let mut c = command(&dir.path().join("data"));
    c.args([
        "--admin-password",
        "pw",
        "--tls-listen",
        "127.0.0.1:0",
        "--tls-cert",
    ])
    .arg(&cert)
    .arg("--tls-key")
    .arg(&key);
    let server = serve(c);
    // The HTTPS line (others may name https URLs too, e.g. the Kubernetes API server's).
    let https = server
        .log
        .iter()
        .filter(|l| l.contains("serving HTTPS"))
        .find_map(|l| {
            l.split_once("https://")
                .map(|(_, r)| r.split('/').next().unwrap_or("").to_string())
        });
    let https = https.unwrap_or_else(|| panic!("no HTTPS line: {:?}", server.log));
    let output = Command::new("curl")
        .args([
            "-sk",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-u",
            "admin:pw",
        ])
        .arg(format!("https://{https}/api/v3.1/status"))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "200");
    assert_eq!(
        get(server.port, "/api/v3.1/status", "admin:pw"),
        200,
        "plain HTTP keeps working"
    );

    let mut bad = command(&dir.path().join("data2"));
    bad.args([
        "--admin-password",
        "pw",
        "--tls-listen",
        "127.0.0.1:0",
        "--tls-cert",
    ])
    .arg(&key)
    .arg("--tls-key")
    .arg(&key);
    let output = bad.output().unwrap();
    assert!(
        !output.status.success(),
        "a key given as the certificate must stop the start"
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("HTTPS"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn snapshot_create_and_restore_move_a_stopped_manager_into_a_fresh_one() {
    let dir = tempfile::tempdir().unwrap();
    let (source, fresh) = (dir.path().join("source"), dir.path().join("fresh"));
    let blueprint = dir.path().join("bp/app");
    std::fs::create_dir_all(&blueprint).unwrap();
    std::fs::write(
        blueprint.join("blueprint.yaml"),
        "tosca_definitions_version: cloudify_dsl_1_3\nimports: [http://www.getcloudify.org/spec/cloudify/4.5.5/types.yaml]\nnode_templates:\n  web: {type: cloudify.nodes.Root}\n",
    )
    .unwrap();
    let archive = Command::new("tar")
        .arg("-C")
        .arg(dir.path().join("bp"))
        .args(["-czf", "-", "app"])
        .output()
        .unwrap()
        .stdout;
    let mut c = command(&source);
    c.args(["--admin-password", "pw"]);
    let server = serve(c);
    assert_eq!(
        send(
            server.port,
            "PUT",
            "/api/v3.1/blueprints/bp",
            "application/octet-stream",
            &archive
        )
        .0,
        201
    );
    assert_eq!(
        send(
            server.port,
            "PUT",
            "/api/v3.1/deployments/dep",
            "application/json",
            br#"{"blueprint_id": "bp"}"#
        )
        .0,
        201
    );
    assert_eq!(
        send(
            server.port,
            "PUT",
            "/api/v3.1/secrets/k",
            "application/json",
            br#"{"value": "v1"}"#
        )
        .0,
        200
    );

    let file = dir.path().join("state.snapshot");
    let snapshot = |args: &[&str], data: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_stratus"))
            .args(["snapshot"])
            .args(args)
            .arg("--data-dir")
            .arg(data)
            .env_remove("STRATUS_DATABASE_URL")
            .output()
            .unwrap()
    };
    let refused = snapshot(&["create", file.to_str().unwrap()], &source);
    assert!(
        !refused.status.success(),
        "a running manager's directory is locked"
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("in use"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    drop(server);

    let created = snapshot(&["create", file.to_str().unwrap()], &source);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let restored = snapshot(&["restore", file.to_str().unwrap()], &fresh);
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );

    let mut c = command(&fresh);
    c.args(["--admin-password", "pw"]);
    let server = serve(c);
    let (status, body) = send(
        server.port,
        "GET",
        "/api/v3.1/deployments/dep",
        "application/json",
        b"",
    );
    assert_eq!(status, 200, "{body}");
    let (_, secret) = send(
        server.port,
        "GET",
        "/api/v3.1/secrets/k",
        "application/json",
        b"",
    );
    assert!(secret.contains("\"value\":\"v1\""), "{secret}");
    assert_eq!(
        send(
            server.port,
            "PUT",
            "/api/v3.1/deployments/dep2",
            "application/json",
            br#"{"blueprint_id": "bp"}"#
        )
        .0,
        201
    );
}
