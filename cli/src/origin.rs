//! `marquee origin`: serves published presentations over HTTP from a directory or S3, behind signed URLs.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use marquee_origin::{Origin, OriginConfig, RequestAuthorizer, SignedUrls, TlsFiles, Unsigned};

/// Serve HLS and DASH presentations to players and edge caches.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("access").required(true).args(["key_file", "unsigned"])))]
pub struct OriginArgs {
    /// Where the presentations are: a directory, or s3://bucket/prefix (endpoint and credentials from
    /// MARQUEE_S3_ENDPOINT, MARQUEE_S3_REGION and the AWS environment; see the README).
    #[arg(long, env = "MARQUEE_STORAGE")]
    storage: String,
    /// Address to listen on. Port 0 picks a free port; the address is printed once listening.
    #[arg(long, env = "MARQUEE_ORIGIN_LISTEN", default_value_t = marquee_origin::config::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Signing keys (made by `marquee keygen`): every media request needs a valid token from
    /// `marquee sign`, in the path (/t/TOKEN/asset/…) or as ?token=.
    #[arg(long, env = "MARQUEE_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// Serve every object without a token. Only for public content or local development.
    #[arg(long)]
    unsigned: bool,
    /// PEM certificate chain: with --tls-key, serve HTTPS (HTTP/2 and HTTP/1.1 by ALPN) instead of
    /// cleartext HTTP/1.1 and h2c.
    #[arg(long, env = "MARQUEE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "MARQUEE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

pub fn run(args: OriginArgs) -> anyhow::Result<()> {
    let store = marquee_storage::open(&args.storage)?;
    let (authorizer, access): (Arc<dyn RequestAuthorizer>, String) = match &args.key_file {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read key file {}", path.display()))?;
            let keys = marquee_signing::KeyRing::from_toml(&path.display().to_string(), &text)?;
            let ids = keys.ids().collect::<Vec<_>>().join(", ");
            (Arc::new(SignedUrls::new(keys)), format!("signed URLs, keys {ids}"))
        }
        None => (Arc::new(Unsigned), "UNSIGNED: every object is public".to_owned()),
    };
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert_chain), Some(private_key)) => Some(TlsFiles { cert_chain, private_key }),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let config = OriginConfig { listen: args.listen, tls, ..OriginConfig::default() };
    let problems = config.problems();
    if !problems.is_empty() {
        anyhow::bail!("the origin settings do not work together:\n  - {}", problems.join("\n  - "));
    }
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    runtime.block_on(async move {
        let origin = Origin::bind(config, store.clone(), authorizer).await?;
        println!("Serving {} on {scheme}://{} ({access})", store.location(), origin.local_addr());
        let _ = std::io::stdout().flush();
        origin.run(shutdown_signal()).await?;
        eprintln!("Stopped: in-flight responses finished.");
        Ok(())
    })
}

/// Ctrl-C or SIGTERM (what service managers and Kubernetes send) start a graceful shutdown.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
