//! Property-based tests of the URL classifier (the SSRF guard of DESIGN promise 7): it never
//! panics, refuses every private, loopback, link-local and other non-public address however
//! it is written (IPv4, IPv4-mapped IPv6, 6to4) unless an allowlisted network holds it, and
//! refuses credentials and non-https schemes outside development mode.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use herald_server::outbound::Outbound;
use herald_server::outbound::ssrf::AddressPolicy;
use ipnet::IpNet;
use proptest::prelude::*;

fn outbound(allow: Vec<IpNet>, dev: bool) -> Outbound {
    Outbound::new(AddressPolicy::new(allow), dev, Duration::from_secs(5), 1024)
        .expect("an outbound client")
}

/// IPv4 addresses inside the non-public ranges a delivery must never reach by default.
fn non_public_v4() -> impl Strategy<Value = Ipv4Addr> {
    let net = prop_oneof![
        Just((0x0000_0000u32, 8u8)), // this network
        Just((0x0a00_0000, 8)),      // private
        Just((0x6440_0000, 10)),     // carrier-grade NAT
        Just((0x7f00_0000, 8)),      // loopback
        Just((0xa9fe_0000, 16)),     // link-local, cloud metadata
        Just((0xac10_0000, 12)),     // private
        Just((0xc0a8_0000, 16)),     // private
        Just((0xc000_0200, 24)),     // documentation
        Just((0xe000_0000, 4)),      // multicast
        Just((0xf000_0000, 4)),      // reserved, broadcast
    ];
    (net, any::<u32>()).prop_map(|((base, len), host)| {
        let mask = u32::MAX.checked_shr(u32::from(len)).unwrap_or(0);
        Ipv4Addr::from(base | (host & mask))
    })
}

/// IPv6 addresses outside global unicast or in its special ranges.
fn non_public_v6() -> impl Strategy<Value = Ipv6Addr> {
    let net = prop_oneof![
        Just((0u128, 128u8)),              // ::
        Just((1u128, 128)),                // ::1
        Just((0xfc00u128 << 112, 7)),      // unique local
        Just((0xfe80u128 << 112, 10)),     // link-local
        Just((0xff00u128 << 112, 8)),      // multicast
        Just((0x2001_0db8u128 << 96, 32)), // documentation
    ];
    (net, any::<u128>()).prop_map(|((base, len), host)| {
        let mask = u128::MAX.checked_shr(u32::from(len)).unwrap_or(0);
        Ipv6Addr::from(base | (host & mask))
    })
}

/// The ways a URL can name an IPv4 address that the guard must see through.
fn spellings(ip: Ipv4Addr) -> Vec<String> {
    let [a, b, c, d] = ip.octets();
    vec![
        format!("https://{ip}/hook"),
        format!("https://[{}]/hook", ip.to_ipv6_mapped()),
        format!("https://[2002:{a:02x}{b:02x}:{c:02x}{d:02x}::1]/hook"),
        // Forms the URL parser normalises to the same address.
        format!("https://{}/hook", u32::from(ip)),
        format!("https://0x{:x}/hook", u32::from(ip)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let guard = outbound(Vec::new(), false);
        let _ = guard.check_url(&text);
        let _ = guard.check_url(&format!("https://{text}"));
    }

    #[test]
    fn non_public_ipv4_is_refused_however_it_is_written(ip in non_public_v4()) {
        let guard = outbound(Vec::new(), false);
        prop_assert!(!AddressPolicy::default().permits(IpAddr::V4(ip)));
        for url in spellings(ip) {
            prop_assert!(guard.check_url(&url).is_err(), "{url} was accepted");
        }
    }

    #[test]
    fn non_public_ipv6_is_refused(ip in non_public_v6()) {
        let guard = outbound(Vec::new(), false);
        prop_assert!(!AddressPolicy::default().permits(IpAddr::V6(ip)));
        let url = format!("https://[{ip}]/hook");
        prop_assert!(guard.check_url(&url).is_err(), "{url} was accepted");
    }

    #[test]
    fn an_allowlisted_network_lets_its_addresses_through_and_no_others(
        ip in non_public_v4(),
        len in 8u8..=32,
        other in non_public_v4(),
    ) {
        let net = IpNet::new(IpAddr::V4(ip), len).expect("a prefix length").trunc();
        let guard = outbound(vec![net], false);
        let plain = format!("https://{ip}/hook");
        let mapped = format!("https://[{}]/hook", ip.to_ipv6_mapped());
        prop_assert!(guard.check_url(&plain).is_ok(), "{plain} was refused");
        prop_assert!(guard.check_url(&mapped).is_ok(), "{mapped} was refused");
        let outside = format!("https://{other}/hook");
        if !net.contains(&IpAddr::V4(other)) {
            prop_assert!(guard.check_url(&outside).is_err(), "{outside} was accepted");
        }
    }

    #[test]
    fn credentials_are_always_refused_and_http_only_in_development(
        user in "[a-z]{1,8}",
        host in "[a-z]{1,10}\\.example",
    ) {
        for dev in [false, true] {
            let guard = outbound(Vec::new(), dev);
            let with_password = format!("https://{user}:pw@{host}/");
            let with_user = format!("https://{user}@{host}/");
            let https = format!("https://{host}/");
            let http = format!("http://{host}/");
            let ftp = format!("ftp://{host}/");
            prop_assert!(guard.check_url(&with_password).is_err());
            prop_assert!(guard.check_url(&with_user).is_err());
            prop_assert!(guard.check_url(&https).is_ok());
            prop_assert_eq!(guard.check_url(&http).is_ok(), dev);
            prop_assert!(guard.check_url(&ftp).is_err());
        }
    }
}
