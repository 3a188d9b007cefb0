//! Service configuration from flags and environment variables, validated before any port
//! is bound.

/// `rater serve` settings.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The port to listen on.
    #[arg(long, env = "SMP_PORT", default_value_t = 10101)]
    pub port: u16,
}
