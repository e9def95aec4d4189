//! Which addresses are private, as values: a URL chosen by a user must not lead a server to its own machine or
//! network unless the operator allows it.

use std::net::{IpAddr, Ipv4Addr};

use reqwest::Url;

/// Whether `ip` is on a loopback, private, link-local, shared or otherwise non-public network. URLs chosen by
/// users must not lead a server to its own machine or network (server-side request forgery).
pub fn is_private_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_private_v4(v4),
            None => {
                v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || v6.is_unique_local()
                    || v6.is_unicast_link_local()
            }
        },
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        // 100.64.0.0/10, carrier-grade NAT.
        || (a == 100 && (64..128).contains(&b))
}

/// Whether `url`'s host is an IP address (not a name) on a private network. Names are the resolver's to check
/// ([`crate::PublicAddressesOnly`]); a literal address never reaches a resolver, so it is checked here.
pub fn literal_private_host(url: &Url) -> bool {
    // The parser writes every spelling of an address (`0x7f.1`, `2130706433`) in its standard form, and IPv6
    // addresses in brackets.
    let host = url.host_str().unwrap_or_default();
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    host.parse::<IpAddr>().is_ok_and(is_private_address)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn private_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_private_address(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "100.128.0.1", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(!is_private_address(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn private_addresses_written_in_urls() {
        let private = |text: &str| literal_private_host(&Url::parse(text).unwrap());
        assert!(private("http://127.0.0.1:8080/hook"));
        assert!(private("http://[::1]/hook"));
        assert!(private("https://169.254.169.254/latest/meta-data"));
        // The URL parser reads the other spellings of an IPv4 address as that address.
        assert!(private("http://2130706433/"), "127.0.0.1 as one decimal number");
        assert!(private("http://0x7f.1/"), "127.0.0.1 in hex and short form");
        assert!(private("http://[::ffff:7f00:1]/"), "127.0.0.1 mapped into IPv6");
        assert!(!private("https://8.8.8.8/hook"));
        assert!(!private("https://localhost/hook"), "names are the resolver's to check");
    }

    proptest! {
        /// An IPv4 address mapped into IPv6 is exactly as private as the IPv4 address.
        #[test]
        fn mapped_addresses_are_judged_as_ipv4(bits in any::<u32>()) {
            let v4 = Ipv4Addr::from(bits);
            prop_assert_eq!(is_private_address(IpAddr::V6(v4.to_ipv6_mapped())), is_private_address(IpAddr::V4(v4)));
        }

        /// Every address in the private IPv4 ranges is private, whatever its host part.
        #[test]
        fn private_ranges_are_private_throughout(host in any::<u32>()) {
            for (network, prefix) in [([10, 0, 0, 0], 8), ([172, 16, 0, 0], 12), ([192, 168, 0, 0], 16), ([127, 0, 0, 0], 8), ([169, 254, 0, 0], 16), ([100, 64, 0, 0], 10)] {
                let mask = u32::MAX >> prefix;
                let ip = Ipv4Addr::from((u32::from(Ipv4Addr::from(network)) & !mask) | (host & mask));
                prop_assert!(is_private_address(IpAddr::V4(ip)), "{}", ip);
            }
        }

        /// Literal hosts in URLs are judged as the addresses they are.
        #[test]
        fn literal_hosts_are_judged_as_their_address(bits in any::<u128>()) {
            let v6 = Ipv6Addr::from(bits);
            let url = Url::parse(&format!("http://[{v6}]/x")).unwrap();
            prop_assert_eq!(literal_private_host(&url), is_private_address(IpAddr::V6(v6)));
        }
    }
}
