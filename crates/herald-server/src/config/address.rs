//! The `listen` setting: `IP:port` or `host:port`, resolved once, when the configuration is
//! loaded at start.
//!
//! A host name (`localhost:8082`, a container's own name) is what people write in a config
//! file, so it is accepted and resolved here rather than refused by a `SocketAddr` parser.
//! When a name has both IPv4 and IPv6 addresses the first IPv4 one is taken: the CLI's
//! default server is `127.0.0.1`, and `localhost` resolving to `::1` would put the server
//! where the CLI does not look. Resolving blocks, which is fine: it happens once, before the
//! server runs; it is never done again, so a changed DNS answer never moves a running server.

use std::net::{SocketAddr, ToSocketAddrs};

use super::ConfigError;

/// Parses `IP:port` as is, and resolves `host:port`.
pub(super) fn resolve_listen(text: &str) -> Result<SocketAddr, ConfigError> {
    let text = text.trim();
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    let invalid = |reason: String| ConfigError::Listen {
        value: text.to_owned(),
        reason,
    };
    let has_port = text
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok());
    if !has_port {
        return Err(invalid(
            "it has no port; write host:port, e.g. 127.0.0.1:8080".into(),
        ));
    }
    let addresses: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|err| invalid(format!("the host name does not resolve ({err})")))?
        .collect();
    addresses
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addresses.first())
        .copied()
        .ok_or_else(|| invalid("the host name resolves to no address".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_and_port_are_taken_as_is() {
        assert_eq!(
            resolve_listen("0.0.0.0:8080").unwrap(),
            SocketAddr::from(([0, 0, 0, 0], 8080))
        );
        assert_eq!(resolve_listen("[::1]:9000").unwrap().port(), 9000);
    }

    #[test]
    fn localhost_resolves_to_a_loopback_address_preferring_ipv4() {
        let address = resolve_listen("localhost:8082").unwrap();
        assert_eq!(address.port(), 8082);
        assert!(address.ip().is_loopback(), "{address}");
        assert!(address.is_ipv4(), "{address}");
    }

    #[test]
    fn a_missing_port_or_an_unknown_host_names_the_value() {
        let error = resolve_listen("localhost").unwrap_err();
        assert!(error.to_string().contains("'localhost'"), "{error}");
        assert!(error.to_string().contains("no port"), "{error}");
        assert!(resolve_listen("no-such-host.invalid:8080").is_err());
    }
}
