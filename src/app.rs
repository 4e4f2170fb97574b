//! The server: `Application::build` connects, migrates and binds; `run_until_stopped` serves
//! until SIGTERM or Ctrl-C, finishing requests in flight.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::config::Config;
use std::sync::Arc;

use crate::http::defence::Defence;
use crate::http::{self, AppState};
use crate::live::Live;
use crate::mail::Mailer;
use crate::payments::Payments;
use crate::payments::reconcile::reconcile_periodically;
use crate::store::{Store, redact_url};

#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    store: Store,
    state: AppState,
    /// How often to reconcile with Stripe in the background, when online giving is set up.
    reconcile_every: Option<std::time::Duration>,
    limits: http::serve::ConnectionLimits,
    /// How long to drain after SIGTERM before no longer listening.
    drain: std::time::Duration,
    /// Delivers outgoing webhooks while the server runs.
    sender: crate::webhooks::Sender,
    /// On SQLite: the database is marked served, so that a restore refuses to replace it.
    _in_use: Option<crate::store::InUse>,
}

impl Application {
    /// Connects to the database, applies migrations and binds the listener (port 0 picks one).
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let in_use = crate::store::hold_in_use(&config.database_url)?;
        let store = Store::connect(&config.database_url).await?;
        store.migrate().await?;
        let payments = config.stripe.as_ref().map(Payments::from_config).transpose()?;
        if payments.is_none() {
            tracing::warn!(
                "STRIPE_SECRET_KEY is not set: online giving is off, offline money and progress work"
            );
        } else if config.stripe.as_ref().is_some_and(|stripe| stripe.webhook_secrets.is_empty()) {
            tracing::warn!("STRIPE_WEBHOOK_SECRET is not set: Stripe's events will be refused until it is");
        }
        let mailer = Mailer::from_config(&config.mail, &config.site, &config.public_url)?;
        let live = Live::start(
            store.clone(),
            &config.database_url,
            config.defence.max_streams_per_ip,
            config.defence.max_streams,
            config.remote_every,
        );
        let mut payment_origins =
            vec!["https://checkout.stripe.com".to_owned(), "https://billing.stripe.com".to_owned()];
        if let Some(stripe) = &config.stripe
            && stripe.api_base != crate::config::DEFAULT_STRIPE_API_BASE
            && let Ok(url) = url::Url::parse(&stripe.api_base)
        {
            // A stand-in Stripe (tests, a local mock) serves its checkout pages itself.
            payment_origins.push(url.origin().ascii_serialization());
        }
        let state = AppState::new(http::Shared {
            store: store.clone(),
            payments,
            public_url: config.public_url.clone(),
            live,
            defence: Arc::new(Defence::new(&config.defence)),
            mailer,
            site: config.site.clone(),
            policies: http::security::Policies::new(
                config.defence.captcha.as_ref().map(|captcha| captcha.kind),
                &payment_origins,
            ),
            embed_script: Arc::new(http::embeds::embed_script(&config.public_url)),
            timezone: config.timezone,
            logins: Arc::default(),
            password_work: Arc::new(tokio::sync::Semaphore::new(http::PASSWORD_WORKERS)),
            secure_cookies: config.public_url.starts_with("https://"),
            export_stall: config.defence.export_stall,
            setup_warnings: config.setup_warnings.clone(),
            demo: config.demo,
            draining: Arc::default(),
            pages: Arc::default(),
            images: Arc::default(),
            appeal_documents: Arc::default(),
        });
        let listener = TcpListener::bind(config.bind).await?;
        tracing::info!(
            database = %redact_url(&config.database_url),
            address = %listener.local_addr()?,
            "appeal is ready"
        );
        let reconcile_every = config.stripe.as_ref().and_then(|stripe| stripe.reconcile_every);
        let limits = http::serve::ConnectionLimits {
            max_connections: config.defence.max_connections,
            header_timeout: config.defence.header_timeout,
        };
        let sender = crate::webhooks::Sender::new(
            store.clone(),
            state.mailer.clone(),
            &config.public_url,
            config.webhook_timeout,
        )
        .with_payment_tries(config.payment_tries);
        Ok(Application {
            listener,
            sender,
            store,
            state,
            reconcile_every,
            limits,
            drain: config.drain,
            _in_use: in_use,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Serves until a shutdown signal arrives, then drains: `/readyz` answers 503 (requests
    /// are still served) for the drain time, so a load balancer stops sending first; then it
    /// stops listening and lets requests in flight finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let draining = self.state.draining.clone();
        let drain = self.drain;
        self.run_until(async move {
            shutdown_signal().await;
            draining.store(true, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(seconds = drain.as_secs(), "stopping: draining before no longer listening");
            tokio::time::sleep(drain).await;
        })
        .await
    }

    /// Serves until `stop` completes, then lets requests in flight finish.
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let state = self.state.clone();
        let limits = self.limits;
        let reconciling = match (&state.payments, self.reconcile_every) {
            (Some(payments), Some(every)) => {
                Some(tokio::spawn(reconcile_periodically(self.store.clone(), payments.api.clone(), every)))
            }
            _ => None,
        };
        let sending = tokio::spawn(self.sender.run());
        let router = http::router(self.state);
        let served = http::serve::serve(self.listener, router, state, limits, stop).await;
        if let Some(reconciling) = reconciling {
            // A reconcile cut short rolls back what it had not committed; the next run redoes it.
            reconciling.abort();
        }
        // A delivery cut short is sent again by the next sender: at least once.
        sending.abort();
        served?;
        self.store.close().await;
        tracing::info!("appeal stopped");
        Ok(())
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
