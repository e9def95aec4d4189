//! A DNS resolver for reqwest that keeps only public addresses, so a URL whose name resolves to the caller's own
//! machine or network is refused. With it, a redirect to such a name is refused too: every connection goes
//! through the resolver. (Literal addresses never reach a resolver: check them with
//! [`crate::literal_private_host`].)

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::address::is_private_address;

/// Resolves with the system resolver, then drops every private address.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicAddressesOnly;

/// The refusal of a name that resolves to private addresses only. It reaches the caller inside reqwest's
/// connection error; [`crate::FetchError`] finds it there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{host} resolves to no public address (private networks are not allowed)")]
pub struct NoPublicAddress {
    pub host: String,
}

impl PublicAddressesOnly {
    /// The public addresses of `host` (port 0), or why there are none.
    pub async fn public_addresses(host: &str) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let found: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
        let public: Vec<SocketAddr> = found.into_iter().filter(|addr| !is_private_address(addr.ip())).collect();
        if public.is_empty() {
            return Err(Box::new(NoPublicAddress { host: host.to_owned() }));
        }
        Ok(public)
    }
}

impl Resolve for PublicAddressesOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let public = Self::public_addresses(&host).await?;
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loopback_names_are_refused() {
        let error = PublicAddressesOnly::public_addresses("localhost").await.unwrap_err();
        let refusal = error.downcast_ref::<NoPublicAddress>().expect("the refusal is a NoPublicAddress");
        assert_eq!(refusal.host, "localhost");
        assert!(error.to_string().contains("no public address"), "{error}");
    }

    #[tokio::test]
    async fn literal_public_addresses_pass() {
        // A literal address resolves to itself without asking DNS, so this needs no network.
        let found = PublicAddressesOnly::public_addresses("8.8.8.8").await.unwrap();
        assert_eq!(found, vec!["8.8.8.8:0".parse().unwrap()]);
        assert!(PublicAddressesOnly::public_addresses("10.0.0.1").await.is_err());
    }
}
