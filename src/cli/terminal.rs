//! What a command says to the person at the terminal: its error ([`CliError`], printed by
//! the binary), and log lines for the commands that run a service.
//!
//! Layer: cli. Every command module uses it; it uses nothing of the crate.

/// A command failed; the text is for the person at the terminal.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

pub(crate) fn fail<E: std::fmt::Display>(context: &str) -> impl Fn(E) -> CliError + '_ {
    move |e| CliError(format!("{context}: {e}"))
}

/// Log lines to stdout at `filter` (a `tracing` filter; `info` when it does not parse).
pub(crate) fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal, so logs written to files and pipes stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        .try_init();
}
