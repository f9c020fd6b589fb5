//! The script's output: read line by line, streamed to the `LogSink`, its tail kept for the
//! failure message.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::{LogLevel, LogLine, LogSink, LogSource};

/// Output kept per stream for the failure message.
const TAIL_BYTES: usize = 4096;

/// A line longer than this is logged in pieces.
const MAX_LINE_BYTES: usize = 64 * 1024;

/// Output of one stream: streamed to the sink, tail kept.
#[derive(Default)]
pub(super) struct Tail {
    bytes: Vec<u8>,
}

impl Tail {
    fn push(&mut self, line: &[u8]) {
        self.bytes.extend_from_slice(line);
        if self.bytes.len() > TAIL_BYTES * 2 {
            let cut = self.bytes.len() - TAIL_BYTES;
            self.bytes.drain(..cut);
        }
    }

    pub(super) fn text(&self) -> String {
        let start = self.bytes.len().saturating_sub(TAIL_BYTES);
        String::from_utf8_lossy(&self.bytes[start..]).into_owned()
    }
}

pub(super) async fn pump(
    mut reader: impl AsyncRead + Unpin,
    source: LogSource,
    sink: Arc<dyn LogSink>,
    tail: Arc<Mutex<Tail>>,
) {
    let mut buffer = vec![0u8; 8192];
    let mut pending: Vec<u8> = Vec::new();
    let emit = |line: &[u8]| {
        let text = String::from_utf8_lossy(line);
        sink.log(LogLine {
            source,
            level: LogLevel::Info,
            message: text.trim_end_matches(['\r', '\n']).to_owned(),
        });
        if let Ok(mut tail) = tail.lock() {
            tail.push(line);
        }
    };
    loop {
        let read = match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        pending.extend_from_slice(&buffer[..read]);
        while let Some(end) = pending.iter().position(|byte| *byte == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            emit(&line);
        }
        if pending.len() > MAX_LINE_BYTES {
            let line = std::mem::take(&mut pending);
            emit(&line);
        }
    }
    if !pending.is_empty() {
        emit(&pending);
    }
}
