//! How the script file is started: interpreter from the shebang or extension, command
//! prefix and arguments through `/bin/sh -c`, `script_source` written to a private file.

use std::path::{Path, PathBuf};

use super::{ProcessConfig, ScriptError};

/// How the script file is started.
pub(super) enum Invocation {
    /// argv, run directly.
    Direct(Vec<String>),
    /// A `/bin/sh -c` command line.
    Shell(String),
}

fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@%".contains(&b))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The interpreter line of a script: `#!/usr/bin/env bash` → `["/usr/bin/env", "bash"]`
/// (Linux passes the rest of the line as one argument).
fn shebang(path: &Path) -> Option<Vec<String>> {
    let mut head = [0u8; 256];
    let mut file = std::fs::File::open(path).ok()?;
    let read = std::io::Read::read(&mut file, &mut head).ok()?;
    let head = &head[..read];
    let line = head.strip_prefix(b"#!")?;
    let end = line
        .iter()
        .position(|byte| *byte == b'\n')
        .unwrap_or(line.len());
    let line = String::from_utf8_lossy(&line[..end]).trim().to_owned();
    let mut parts = line.splitn(2, [' ', '\t']);
    let interpreter = parts.next().filter(|part| !part.is_empty())?.to_owned();
    let mut argv = vec![interpreter];
    if let Some(argument) = parts.next().map(str::trim).filter(|part| !part.is_empty()) {
        argv.push(argument.to_owned());
    }
    Some(argv)
}

pub(super) fn invocation(path: &Path, process: &ProcessConfig) -> Result<Invocation, ScriptError> {
    let display = path.display().to_string();
    let extension = path
        .extension()
        .map(|ext| ext.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if process.eval_python == Some(true)
        || (extension == "py" && process.eval_python != Some(false))
    {
        // The reference evaluates Python scripts in its own interpreter, with `ctx` an object;
        // here they run under python3 and reach ctx through the ctx command.
        return Ok(Invocation::Direct(vec!["python3".to_owned(), display]));
    }
    if extension == "ps1" && process.command_prefix.is_none() {
        return Err(ScriptError::Unsupported {
            path: display,
            reason: "PowerShell scripts are not supported".to_owned(),
        });
    }
    let mut words = match &process.command_prefix {
        Some(prefix) => {
            return Ok(Invocation::Shell(join_shell(
                prefix.clone(),
                path,
                &process.args,
            )))
        }
        None => match shebang(path) {
            Some(argv) => argv,
            None => vec!["bash".to_owned()],
        },
    };
    if process.args.is_empty() {
        words.push(display);
        return Ok(Invocation::Direct(words));
    }
    let quoted: Vec<String> = words.iter().map(|word| shell_quote(word)).collect();
    Ok(Invocation::Shell(join_shell(
        quoted.join(" "),
        path,
        &process.args,
    )))
}

fn join_shell(prefix: String, path: &Path, args: &[String]) -> String {
    let mut command = format!("{prefix} {}", shell_quote(&path.to_string_lossy()));
    for arg in args {
        command.push(' ');
        command.push_str(arg);
    }
    command
}

/// Writes `script_source` to a private file: Python when `eval_python` says so, else a shell
/// script (the reference guesses with Python's parser; Stratus does not).
pub(super) fn source_to_file(
    source: &str,
    process: &ProcessConfig,
) -> Result<(PathBuf, PathBuf), ScriptError> {
    let directory =
        std::env::temp_dir().join(format!("stratus-script-{}", crate::proxy::random_token(8)));
    let name = if process.eval_python == Some(true) {
        "script.py"
    } else {
        "script.sh"
    };
    let failed = |error: std::io::Error| ScriptError::NotFound {
        path: name.to_owned(),
        reason: format!("cannot write script_source: {error}"),
    };
    std::fs::create_dir_all(&directory).map_err(failed)?;
    let path = directory.join(name);
    std::fs::write(&path, dedent(source)).map_err(failed)?;
    Ok((directory, path))
}

/// `textwrap.dedent` for the common case: the smallest leading whitespace of non-blank lines.
fn dedent(source: &str) -> String {
    let indent = source
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    source
        .lines()
        .map(|line| {
            if line.trim().is_empty() {
                ""
            } else {
                &line[indent.min(line.len())..]
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + if source.ends_with('\n') { "\n" } else { "" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedent_strips_the_common_indent() {
        assert_eq!(dedent("  a\n    b\n\n  c\n"), "a\n  b\n\nc\n");
    }
}
