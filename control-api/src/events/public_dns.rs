//! A DNS resolver for the webhook client that keeps only public addresses, so a webhook URL whose name
//! resolves to the API's own machine or network is refused (unless the operator allows private networks).

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::endpoint_rules::is_private_address;

/// Resolves with the system resolver, then drops every private address.
#[derive(Debug, Clone, Copy)]
pub(super) struct PublicAddressesOnly;

impl Resolve for PublicAddressesOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|addr| !is_private_address(addr.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address (private networks are not allowed)").into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}
