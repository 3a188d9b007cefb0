//! Shutdown: the process signal that starts it, and the broadcast that tells every open
//! connection to finish its current request and close.
//!
//! The sequence itself (grace, stop accepting, drain) is in [`super::server::run`].

use tokio::sync::watch;

/// Resolves on SIGTERM (what the container runtime sends) or Ctrl-C (a terminal).
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C received"),
                }
                return;
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C only"),
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("Ctrl-C received");
}

/// The sending side: [`Drain::start`] tells every [`DrainWatch`] at once.
///
/// A `watch` channel rather than a broadcast: connections only need the latest value, a
/// receiver costs one clone of an `Arc`, and a late subscriber still sees it.
#[derive(Debug)]
pub struct Drain(watch::Sender<bool>);

/// A connection's view of [`Drain`].
#[derive(Clone, Debug)]
pub struct DrainWatch(watch::Receiver<bool>);

impl Drain {
    /// A drain that has not started, and its first watch.
    pub fn new() -> (Drain, DrainWatch) {
        let (tx, rx) = watch::channel(false);
        (Drain(tx), DrainWatch(rx))
    }

    /// Tells every watch that draining started.
    pub fn start(&self) {
        self.0.send_replace(true);
    }
}

impl DrainWatch {
    /// Resolves once draining started (or the [`Drain`] is gone, which means the same).
    pub async fn started(&mut self) {
        let _ = self.0.wait_for(|started| *started).await;
    }
}
