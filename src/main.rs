//! The `ok2cry` binary: parses the command line and hands over to the library.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = ok2cry::cli::Cli::parse();
    match ok2cry::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ok2cry: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
