//! Serves a packaged directory over HTTP, unsigned: `cargo run -p marquee-origin --example serve -- out/demo 8080`.

use std::sync::Arc;

use marquee_http::Unsigned;
use marquee_origin::OriginConfig;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "out".to_owned());
    let port: u16 = args.next().as_deref().unwrap_or("8080").parse()?;
    let store = marquee_storage::open(&dir)?;
    let config = OriginConfig { listen: ([127, 0, 0, 1], port).into(), ..OriginConfig::default() };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    marquee_origin::serve(config, store, Arc::new(Unsigned), shutdown).await?;
    Ok(())
}
