//! The HTTP service.

use std::process::ExitCode;

use crate::config::ServeArgs;

/// Runs the service until shutdown.
pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let _ = args;
    anyhow::bail!("not built yet")
}
