//! Speak Friend: `cargo run --release -p speakfriend`.
//!
//! With SPEAKFRIEND_PRIMARY_URL (and SPEAKFRIEND_MIGRATE_URL, optionally SPEAKFRIEND_REPLICA_URL,
//! SPEAKFRIEND_LISTEN, SPEAKFRIEND_COOKIE_KEY as 128 hex characters) it serves those databases.
//! Without, it starts a throwaway primary with a synchronous and an asynchronous standby (the
//! async one replaying 2 s late, so read-your-writes can be seen), prints the app's URL, and
//! removes everything on Ctrl-C.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use retort_cluster::Cluster;
use speakfriend::Config;

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let listen: SocketAddr = env("SPEAKFRIEND_LISTEN")
        .unwrap_or_else(|| "127.0.0.1:8080".into())
        .parse()
        .context("SPEAKFRIEND_LISTEN must be host:port")?;
    let cookie_key = match env("SPEAKFRIEND_COOKIE_KEY") {
        Some(hex) => Some(
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
                .collect::<Result<Vec<u8>, _>>()
                .context("SPEAKFRIEND_COOKIE_KEY must be hex")?,
        ),
        None => None,
    };
    let (config, cluster) = match env("SPEAKFRIEND_PRIMARY_URL") {
        Some(primary) => (
            Config {
                version: speakfriend::AppVersion::Current,
                migrate_url: env("SPEAKFRIEND_MIGRATE_URL").unwrap_or_else(|| primary.clone()),
                primary_url: primary,
                replica_url: env("SPEAKFRIEND_REPLICA_URL"),
                listen,
                cookie_key,
                secure_cookies: env("SPEAKFRIEND_SECURE_COOKIES").is_some(),
                read_wait: Duration::from_secs(3),
            },
            None,
        ),
        None => {
            let (config, cluster) = throwaway(listen).await?;
            (config, Some(cluster))
        }
    };
    let (addr, server) = speakfriend::start(config).await?;
    println!(
        "Speak Friend is at http://{addr}/ (Ctrl-C stops it{})",
        if cluster.is_some() {
            " and removes its cluster"
        } else {
            ""
        }
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = server => {}
    }
    if let Some(c) = cluster {
        let dir = c.dir().to_owned();
        tokio::task::spawn_blocking(move || c.destroy().map_err(anyhow::Error::from)).await??;
        println!("stopped the cluster and removed {}", dir.display());
    }
    Ok(())
}

/// A primary with a synchronous and an asynchronous standby; the async one replays 2 s late.
async fn throwaway(listen: SocketAddr) -> Result<(Config, Cluster)> {
    let (config, cluster) = tokio::task::spawn_blocking(move || {
        speakfriend::throwaway_cluster(listen, Duration::from_secs(2))
    })
    .await??;
    println!(
        "started a primary, a synchronous standby and an asynchronous standby (replaying 2 s late) in {}",
        cluster.dir().display()
    );
    Ok((config, cluster))
}
