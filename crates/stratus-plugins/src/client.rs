//! The `ctx` command: `cloudify/proxy/client.py` in Rust.
//!
//! Scripts call `ctx` dozens of times each, so it must start fast and stay small: blocking
//! std I/O, one HTTP/1.1 request over a `TcpStream`, no runtime. It reproduces the reference's
//! observable behaviour — argparse's option rules (including its refusal of positionals after
//! an option), `@`-prefixed JSON arguments, output as Python's `str()` of the payload with no
//! trailing newline, exit status 1 for errors and for `stop_operation` (Python's
//! `SystemExit(message)`), 2 for usage errors.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::pyfmt::{json_dumps, py_str, py_truthy, str_repr};

const USAGE: &str = "usage: ctx [-h] [-t TIMEOUT] [--socket-url SOCKET_URL]\n           [--json-arg-prefix JSON_ARG_PREFIX] [-j]\n           [args ...]\n";

const HELP: &str = "\npositional arguments:\n  args\n\noptions:\n  -h, --help            show this help message and exit\n  -t TIMEOUT, --timeout TIMEOUT\n  --socket-url SOCKET_URL\n  --json-arg-prefix JSON_ARG_PREFIX\n  -j, --json-output\n";

/// The parsed command line (`parse_args`).
#[derive(Debug, PartialEq)]
struct Options {
    timeout: u64,
    socket_url: Option<String>,
    json_arg_prefix: String,
    json_output: bool,
    args: Vec<String>,
}

#[derive(Debug, PartialEq)]
enum Parsed {
    Run(Options),
    Help,
    /// argparse's error message (printed after the usage, exit status 2).
    Usage(String),
}

/// Runs the `ctx` command. `args` are the arguments after the program name.
pub fn ctx_main(args: Vec<String>) -> ExitCode {
    let options = match parse_args(&args, std::env::var("CTX_SOCKET_URL").ok()) {
        Parsed::Run(options) => options,
        Parsed::Help => {
            print!("{USAGE}{HELP}");
            return ExitCode::SUCCESS;
        }
        Parsed::Usage(message) => {
            eprintln!("{USAGE}ctx: error: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(output) => {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(output.as_bytes());
            let _ = stdout.flush();
            ExitCode::SUCCESS
        }
        Err(Failure::Stop(message)) => {
            eprintln!("{message}");
            ExitCode::from(1)
        }
        Err(Failure::Exception(line)) => {
            eprintln!(
                "Traceback (most recent call last):\n  File \"ctx\", line 1, in <module>\n{line}"
            );
            ExitCode::from(1)
        }
    }
}

enum Failure {
    /// `SystemExit(message)`.
    Stop(String),
    /// An uncaught Python exception: its last traceback line.
    Exception(String),
}

fn run(options: &Options) -> Result<String, Failure> {
    let Some(socket_url) = &options.socket_url else {
        return Err(Failure::Exception(
            "RuntimeError: Missing CTX_SOCKET_URL environment variable or socket_url command line argument".to_owned(),
        ));
    };
    let args = process_args(&options.json_arg_prefix, &options.args)?;
    let response = client_req(socket_url, args, options.timeout)?;
    if options.json_output {
        Ok(json_dumps(&response))
    } else if py_truthy(&response) {
        Ok(py_str(&response))
    } else {
        Ok(String::new())
    }
}

/// argparse's behaviour for this parser, including its quirks: long options may be
/// abbreviated, negative numbers and strings with spaces are positionals, and positionals
/// must form one run (`ctx a -j b` is an error).
fn parse_args(argv: &[String], env_socket_url: Option<String>) -> Parsed {
    let mut options = Options {
        timeout: 30,
        socket_url: env_socket_url,
        json_arg_prefix: "@".to_owned(),
        json_output: false,
        args: Vec::new(),
    };
    let mut positional_runs = 0;
    let mut in_run = false;
    let mut extras: Vec<String> = Vec::new();
    let mut index = 0;
    let mut only_positionals = false;
    let push_positional = |value: &str,
                           in_run: &mut bool,
                           runs: &mut usize,
                           options: &mut Options,
                           extras: &mut Vec<String>| {
        if !*in_run {
            *in_run = true;
            *runs += 1;
        }
        if *runs == 1 {
            options.args.push(value.to_owned());
        } else {
            extras.push(value.to_owned());
        }
    };
    while index < argv.len() {
        let arg = &argv[index];
        index += 1;
        if only_positionals {
            push_positional(
                arg,
                &mut in_run,
                &mut positional_runs,
                &mut options,
                &mut extras,
            );
            continue;
        }
        if arg == "--" {
            only_positionals = true;
            continue;
        }
        if !looks_like_option(arg) {
            push_positional(
                arg,
                &mut in_run,
                &mut positional_runs,
                &mut options,
                &mut extras,
            );
            continue;
        }
        in_run = false;
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if arg.starts_with("--") => {
                (name.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let (option, inline) = if name.starts_with("--") {
            let candidates: Vec<&str> = [
                "--help",
                "--timeout",
                "--socket-url",
                "--json-arg-prefix",
                "--json-output",
            ]
            .into_iter()
            .filter(|candidate| candidate.starts_with(name.as_str()))
            .collect();
            match candidates.as_slice() {
                [one] => ((*one).to_owned(), inline),
                [] => {
                    extras.push(arg.clone());
                    continue;
                }
                many => {
                    if let Some(exact) = many.iter().find(|candidate| **candidate == name) {
                        ((*exact).to_owned(), inline)
                    } else {
                        return Parsed::Usage(format!(
                            "ambiguous option: {name} could match {}",
                            many.join(", ")
                        ));
                    }
                }
            }
        } else {
            match (&arg[..2], &arg[2..]) {
                ("-h", "") => ("--help".to_owned(), None),
                ("-j", "") => ("--json-output".to_owned(), None),
                ("-t", "") => ("--timeout".to_owned(), None),
                ("-t", rest) => ("--timeout".to_owned(), Some(rest.to_owned())),
                _ => {
                    extras.push(arg.clone());
                    continue;
                }
            }
        };
        let label = match option.as_str() {
            "--timeout" => "-t/--timeout",
            other => other,
        };
        match option.as_str() {
            "--help" => return Parsed::Help,
            "--json-output" => {
                if inline.is_some() {
                    return Parsed::Usage(format!(
                        "argument -j/--json-output: ignored explicit argument '{}'",
                        inline.unwrap_or_default()
                    ));
                }
                options.json_output = true;
            }
            _ => {
                let value = match inline {
                    Some(value) => value,
                    None => match argv.get(index) {
                        Some(next) if !looks_like_option(next) && next != "--" => {
                            index += 1;
                            next.clone()
                        }
                        _ => {
                            return Parsed::Usage(format!(
                                "argument {label}: expected one argument"
                            ))
                        }
                    },
                };
                match option.as_str() {
                    "--timeout" => match value.trim().parse::<i64>() {
                        Ok(seconds) => options.timeout = u64::try_from(seconds).unwrap_or(0),
                        Err(_) => {
                            return Parsed::Usage(format!(
                                "argument -t/--timeout: invalid int value: {}",
                                str_repr(&value)
                            ))
                        }
                    },
                    "--socket-url" => options.socket_url = Some(value),
                    _ => options.json_arg_prefix = value,
                }
            }
        }
    }
    if !extras.is_empty() {
        return Parsed::Usage(format!("unrecognized arguments: {}", extras.join(" ")));
    }
    Parsed::Run(options)
}

/// argparse's `_parse_optional`: a known option (or a prefix of one) is an option; otherwise a
/// negative number, a lone `-` or a string with a space is a positional; anything else
/// starting with `-` is an (unknown) option.
fn looks_like_option(arg: &str) -> bool {
    if !arg.starts_with('-') || arg.len() == 1 {
        return false;
    }
    let known = if arg.starts_with("--") {
        let name = arg.split_once('=').map_or(arg, |(name, _)| name);
        name.len() > 2
            && [
                "--help",
                "--timeout",
                "--socket-url",
                "--json-arg-prefix",
                "--json-output",
            ]
            .iter()
            .any(|option| option.starts_with(name))
    } else {
        matches!(arg.get(..2), Some("-h" | "-j" | "-t"))
    };
    if known {
        return true;
    }
    let rest = &arg[1..];
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    let negative_number = match rest.split_once('.') {
        Some((whole, fraction)) => (whole.is_empty() || digits(whole)) && digits(fraction),
        None => digits(rest),
    };
    !(negative_number || arg.contains(' '))
}

/// `process_args`: arguments starting with the prefix are JSON after their first character.
fn process_args(prefix: &str, args: &[String]) -> Result<Vec<Value>, Failure> {
    args.iter()
        .map(|arg| {
            if arg.starts_with(prefix) {
                let mut chars = arg.chars();
                chars.next();
                let value: Value = serde_json::from_str(chars.as_str()).map_err(|error| {
                    Failure::Exception(format!("json.decoder.JSONDecodeError: {error}"))
                })?;
                Ok(catch_non_serializable(value))
            } else {
                Ok(Value::String(arg.clone()))
            }
        })
        .collect()
}

/// The reference's `object_hook`: a dictionary with `__non_json_serializable_repr__` stands for
/// that value.
fn catch_non_serializable(value: Value) -> Value {
    match value {
        Value::Array(items) => {
            Value::Array(items.into_iter().map(catch_non_serializable).collect())
        }
        Value::Object(map) => {
            let mut map: Map<String, Value> = map
                .into_iter()
                .map(|(key, value)| (key, catch_non_serializable(value)))
                .collect();
            match map.remove("__non_json_serializable_repr__") {
                Some(replacement) => replacement,
                None => Value::Object(map),
            }
        }
        other => other,
    }
}

fn client_req(socket_url: &str, args: Vec<Value>, timeout: u64) -> Result<Value, Failure> {
    let parts: Vec<&str> = socket_url.split("://").collect();
    let (scheme, rest) = match parts.as_slice() {
        [scheme, rest] => (*scheme, *rest),
        [_] => {
            return Err(Failure::Exception(
                "ValueError: not enough values to unpack (expected 2, got 1)".to_owned(),
            ))
        }
        many => {
            return Err(Failure::Exception(format!(
                "ValueError: too many values to unpack (expected 2, got {})",
                many.len()
            )))
        }
    };
    if scheme != "http" {
        return Err(Failure::Exception(format!(
            "RuntimeError: Unsupported protocol: {scheme}"
        )));
    }
    let body = json_dumps(&serde_json::json!({ "args": args }));
    let (status, reason, response) =
        http_post(rest, body.as_bytes(), timeout).map_err(|error| {
            Failure::Exception(format!("urllib.error.URLError: <urlopen error {error}>"))
        })?;
    let response: Result<Value, _> = serde_json::from_slice(&response);
    if status != 200 {
        // urlopen raises HTTPError; show the proxy's own explanation when it sent one.
        let explanation = response.ok().and_then(|value| {
            value
                .get("payload")
                .and_then(|payload| payload.get("message"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        let mut line = format!("urllib.error.HTTPError: HTTP Error {status}: {reason}");
        if let Some(explanation) = explanation {
            line.push_str(&format!(" ({explanation})"));
        }
        return Err(Failure::Exception(line));
    }
    let response = response
        .map_err(|error| Failure::Exception(format!("json.decoder.JSONDecodeError: {error}")))?;
    let Some(payload) = response.get("payload").cloned() else {
        return Err(Failure::Exception("KeyError: 'payload'".to_owned()));
    };
    match response.get("type").and_then(Value::as_str) {
        Some("error") => {
            let field = |name: &str| payload.get(name).map(py_str).unwrap_or_default();
            let message = format!("{}: {}", field("type"), field("message"));
            Err(Failure::Exception(format!(
                "cloudify.proxy.client.RequestError: (RequestError(...), {})",
                str_repr(&message)
            )))
        }
        Some("stop_operation") => Err(Failure::Stop(
            payload
                .get("message")
                .map(py_str)
                .unwrap_or_else(|| "None".to_owned()),
        )),
        _ => Ok(payload),
    }
}

/// One HTTP/1.1 POST; returns status, reason and body.
fn http_post(
    authority_and_path: &str,
    body: &[u8],
    timeout: u64,
) -> std::io::Result<(u16, String, Vec<u8>)> {
    let invalid =
        |message: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, message.to_owned());
    let (authority, path) = match authority_and_path.find('/') {
        Some(slash) => (&authority_and_path[..slash], &authority_and_path[slash..]),
        None => (authority_and_path, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse::<u16>()
                .map_err(|_| invalid("bad port in the socket URL"))?,
        ),
        None => (authority, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let timeout = Duration::from_secs(timeout.max(1));
    let mut last_error = invalid("the socket URL's host has no address");
    let mut stream = None;
    for address in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(connected) => {
                stream = Some(connected);
                break;
            }
            Err(error) => last_error = error,
        }
    }
    let mut stream = stream.ok_or(last_error)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let _ = stream.set_nodelay(true);
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    stream.write_all(&request)?;
    let mut response = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    let mut expected: Option<usize> = None;
    loop {
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        response.extend_from_slice(&buffer[..read]);
        if expected.is_none() {
            if let Some(end) = find(&response, b"\r\n\r\n") {
                expected = content_length(&response[..end]).map(|length| end + 4 + length);
            }
        }
        if expected.is_some_and(|total| response.len() >= total) {
            break;
        }
    }
    let end = find(&response, b"\r\n\r\n").ok_or_else(|| invalid("malformed HTTP response"))?;
    let head = String::from_utf8_lossy(&response[..end]).into_owned();
    let mut status_line = head.lines().next().unwrap_or_default().splitn(3, ' ');
    status_line.next();
    let status = status_line
        .next()
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| invalid("malformed HTTP status line"))?;
    let reason = status_line.next().unwrap_or_default().to_owned();
    let mut payload = response[end + 4..].to_vec();
    if let Some(length) = content_length(&response[..end]) {
        payload.truncate(length);
    } else if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        payload = dechunk(&payload).ok_or_else(|| invalid("malformed chunked body"))?;
    }
    Ok((status, reason, payload))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn content_length(head: &[u8]) -> Option<usize> {
    String::from_utf8_lossy(head).lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = find(body, b"\r\n")?;
        let size_text = String::from_utf8_lossy(&body[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Parsed {
        parse_args(
            &args.iter().map(|arg| (*arg).to_owned()).collect::<Vec<_>>(),
            Some("http://x".to_owned()),
        )
    }

    #[test]
    fn argparse_rules() {
        let Parsed::Run(options) = parse(&["-j", "--time=5", "node", "-1", "a b"]) else {
            panic!("parse failed")
        };
        assert!(options.json_output);
        assert_eq!(options.timeout, 5);
        assert_eq!(options.args, ["node", "-1", "a b"]);
        assert_eq!(
            parse(&["a", "-j", "b"]),
            Parsed::Usage("unrecognized arguments: b".to_owned())
        );
        assert_eq!(
            parse(&["a", "-x"]),
            Parsed::Usage("unrecognized arguments: -x".to_owned())
        );
        assert!(
            matches!(parse(&["--json", "x"]), Parsed::Usage(message) if message.starts_with("ambiguous option"))
        );
        let Parsed::Run(options) = parse(&["--", "-x", "y"]) else {
            panic!("parse failed")
        };
        assert_eq!(options.args, ["-x", "y"]);
    }

    #[test]
    fn json_arguments() {
        let Ok(values) = process_args(
            "@",
            &[
                "@{\"a\": {\"__non_json_serializable_repr__\": \"r\"}}".to_owned(),
                "plain".to_owned(),
            ],
        ) else {
            panic!("json arguments");
        };
        assert_eq!(
            values,
            vec![
                serde_json::json!({"a": "r"}),
                Value::String("plain".to_owned())
            ]
        );
    }
}
