//! `silt coordinator`: the coordinator served to gateways and compactors over its
//! internal API, and `silt coordinator restore`.

use std::sync::Arc;

use object_store::ObjectStore;
use silt_coordinator::CoordinatorService;
use tokio::sync::watch;
use tracing::info;

use crate::args::{CoordinatorArgs, CoordinatorCommand, MetadataArgs, RestoreArgs};
use crate::error::CliError;
use crate::serve::shutdown_signal;
use silt_gateway::tls::{Tls, TlsConfig};
use silt_reader::storage::open_object_store;

/// Opens the coordinator on the store `metadata` names. With PostgreSQL this waits
/// until this process leads; the receiver turns `true` if it stops leading.
pub(crate) async fn open_coordinator(
    metadata: &MetadataArgs,
    producer_idle_expiry_ms: i64,
) -> Result<(Arc<CoordinatorService>, Option<watch::Receiver<bool>>), CliError> {
    match &metadata.metadata_url {
        Some(url) => {
            let (service, lost) =
                silt_coordinator::open_postgres_with(url, producer_idle_expiry_ms)
                    .await
                    .map_err(|error| {
                        CliError::Server(format!("opening the metadata database: {error}"))
                    })?;
            Ok((service, Some(lost)))
        }
        None => {
            std::fs::create_dir_all(&metadata.data_dir).map_err(|error| {
                CliError::Config(format!("creating {}: {error}", metadata.data_dir.display()))
            })?;
            let path = metadata
                .metadata_db
                .clone()
                .unwrap_or_else(|| metadata.data_dir.join("metadata.db"));
            let service = silt_coordinator::open_sqlite_with(&path, producer_idle_expiry_ms)
                .await
                .map_err(|error| {
                    CliError::Server(format!("opening {}: {error}", path.display()))
                })?;
            Ok((service, None))
        }
    }
}

fn snapshot_bucket(metadata: &MetadataArgs) -> Result<Option<Arc<dyn ObjectStore>>, CliError> {
    metadata
        .object_store
        .as_deref()
        .map(open_object_store)
        .transpose()
        .map_err(|error| CliError::Config(error.to_string()))
}

/// `silt coordinator`: the coordinator served to gateways over HTTP. On PostgreSQL it
/// may start as a standby (answering 503 until it takes the leader lock), and it stops
/// with an error if it loses the database, so that another replica leads.
pub async fn run_coordinator(args: CoordinatorArgs) -> Result<(), CliError> {
    if let Some(CoordinatorCommand::Restore(restore)) = args.command {
        return run_restore(restore, args.producer_idle_expiry_ms).await;
    }
    if args.internal_secret.is_none() && !args.allow_anonymous && !args.listen.ip().is_loopback() {
        return Err(CliError::Config(format!(
            "{} is reachable from other hosts and calls need no secret: set SILT_INTERNAL_SECRET \
             (and give gateways and compactors the same), or --allow-anonymous to serve anyone \
             on purpose",
            args.listen
        )));
    }
    let bucket = snapshot_bucket(&args.metadata)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|error| CliError::Server(format!("cannot listen on {}: {error}", args.listen)))?;
    let serving = silt_coordinator::http::Serving::standby();
    let (stop, stopped) = watch::channel(false);
    let shutdown = async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => crate::security::load_tls(Some(&TlsConfig {
            cert_file: cert.clone(),
            key_file: key.clone(),
            client_ca_file: None,
            require_client_cert: false,
        }))?,
        _ => None,
    };
    let mut server = match tls {
        Some(tls) => {
            tls.spawn_reload(stopped.clone());
            let app = silt_coordinator::http::app(serving.clone(), args.internal_secret.clone());
            tokio::spawn(serve_tls(listener, app, tls, shutdown))
        }
        None => tokio::spawn(silt_coordinator::http::serve(
            listener,
            serving.clone(),
            args.internal_secret.clone(),
            shutdown,
        )),
    };
    info!(listen = %args.listen, "coordinator is listening");
    let (service, lost) = tokio::select! {
        opened = open_coordinator(&args.metadata, args.producer_idle_expiry_ms) => opened?,
        served = &mut server => {
            served.map_err(|error| CliError::Server(error.to_string()))??;
            info!("coordinator stopped before it could lead");
            return Ok(());
        }
    };
    if let Some(bucket) = bucket
        && args.snapshot_interval_ms > 0
    {
        service
            .protect_snapshots()
            .map_err(|error| CliError::Server(error.to_string()))?;
        tokio::spawn(crate::recovery::snapshot_periodically(
            Arc::clone(&service),
            bucket,
            std::time::Duration::from_millis(args.snapshot_interval_ms),
            stopped,
        ));
    }
    serving.lead(service);
    info!(
        metadata = if args.metadata.metadata_url.is_some() {
            "postgres"
        } else {
            "sqlite"
        },
        "coordinator is serving"
    );
    let lost = async move {
        match lost {
            Some(mut lost) => {
                let _ = lost.wait_for(|lost| *lost).await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        served = &mut server => {
            served.map_err(|error| CliError::Server(error.to_string()))??;
            info!("coordinator stopped");
            Ok(())
        }
        () = lost => Err(CliError::Server(
            "lost the metadata database connection, and with it the leader lock: stopping so that another coordinator leads".into(),
        )),
    }
}

/// `silt coordinator restore`.
async fn run_restore(args: RestoreArgs, producer_idle_expiry_ms: i64) -> Result<(), CliError> {
    let bucket = snapshot_bucket(&args.metadata)?
        .ok_or_else(|| CliError::Config("restore needs the bucket: give --object-store".into()))?;
    let (service, _lost) = open_coordinator(&args.metadata, producer_idle_expiry_ms).await?;
    let report = crate::recovery::restore(
        &service,
        bucket.as_ref(),
        args.snapshot,
        args.replay_window_ms,
    )
    .await?;
    println!(
        "{}",
        serde_json::to_string_pretty(&report)
            .map_err(|error| CliError::Server(error.to_string()))?
    );
    Ok(())
}

/// Serves the internal API over TLS until `shutdown` completes: each connection's
/// handshake within 10 s, then HTTP/1.1.
async fn serve_tls(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: Arc<Tls>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, say: wait rather than spin or stop serving.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let app = app.clone();
        let tls = Arc::clone(&tls);
        tokio::spawn(async move {
            let stream = match tls.accept(stream, std::time::Duration::from_secs(10)).await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::debug!(%error, %peer, "TLS handshake failed");
                    return;
                }
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let served = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            if let Err(error) = served {
                tracing::debug!(%error, %peer, "internal API connection closed");
            }
        });
    }
}
