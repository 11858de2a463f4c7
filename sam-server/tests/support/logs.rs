//! The tracing subscriber of the test binaries: events go to the test
//! output, filtered by `RUST_LOG` (`warn` when unset), and the events of
//! `sam_core::limits` at `info` and above are also kept in memory for
//! tests to read.

use std::io::Write;
use std::sync::{Mutex, PoisonError};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The formatted events of `sam_core::limits` of every test in the binary.
static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// A writer that appends to [`CAPTURED`].
struct Capture;

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut captured = CAPTURED.lock().unwrap_or_else(PoisonError::into_inner);
        captured.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        Capture
    }
}

/// Installs the subscriber unless one is installed already.
pub fn install_logging() {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned());
    let output = tracing_subscriber::fmt::layer()
        .with_test_writer()
        .with_filter(EnvFilter::new(filter));
    let capture = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(Capture)
        .with_filter(EnvFilter::new("sam_core::limits=info"));
    // Every test server calls this, and only the first call installs.
    let _ = tracing_subscriber::registry()
        .with(output)
        .with(capture)
        .try_init();
}

/// Returns the captured lines that contain `text`. Tests of one binary run
/// in parallel, so `text` should be unique to the test, such as its key
/// prefix.
pub fn captured_logs(text: &str) -> Vec<String> {
    let captured = CAPTURED.lock().unwrap_or_else(PoisonError::into_inner);
    String::from_utf8_lossy(&captured)
        .lines()
        .filter(|line| line.contains(text))
        .map(str::to_owned)
        .collect()
}
