//! The client's address behind trusted reverse proxies and load balancers (round 3 item 1).
//!
//! Every client behind a proxy shares the proxy's TCP address, so a throttle keyed by the TCP
//! peer locks everyone out when one client misbehaves. With `--trusted-proxy CIDR` (off by
//! default), the client address is taken from what a trusted peer says:
//!
//! - **A header** (`X-Forwarded-For` by default, or RFC 7239 `Forwarded` with
//!   `--proxy-headers forwarded`): read only when the peer is inside a trusted range, and read
//!   right to left: trusted hops are skipped and the first untrusted address is the client.
//!   The leftmost entry is never taken on trust, since the client wrote it. From an untrusted
//!   peer the header changes nothing. Only the header the proxies maintain is read: nginx
//!   appends to `X-Forwarded-For` and passes a client's own `Forwarded` through untouched, so
//!   reading both would let a client forge its address. This is nginx's `set_real_ip_from`
//!   with `real_ip_recursive on`, and Keycloak's `--proxy-headers`.
//! - **PROXY protocol** v1 and v2 (`--proxy-protocol`, haproxy `send-proxy-v2`, cloud L4
//!   balancers): a trusted peer must open its connection with a PROXY header, whose source
//!   address is the client (the headers are then read on top of it, as above). A connection
//!   from an untrusted peer that starts with one is closed unanswered.
//!
//! The resolved address is the one the throttles, the grant table, `session list` and the
//! logs see; the connection caps stay keyed by the TCP peer, except that a trusted proxy is
//! not held to the per-client cap (every client behind it shares it).

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Which header the trusted proxies maintain (`--proxy-headers`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For` (nginx `$proxy_add_x_forwarded_for`, haproxy `option forwardfor`).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded`.
    Forwarded,
}

/// The trusted proxy ranges. Empty: nothing is trusted, and headers are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

/// A `--trusted-proxy` value that is not an address or CIDR range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRange(pub String);

impl std::fmt::Display for BadRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--trusted-proxy {:?}: not an address or CIDR range (e.g. 10.0.0.0/8, ::1)",
            self.0
        )
    }
}

impl std::error::Error for BadRange {}

impl FromStr for TrustedProxies {
    type Err = BadRange;

    /// One range (`10.0.0.0/8`, `::1`), or several separated by commas.
    fn from_str(s: &str) -> Result<Self, BadRange> {
        let mut nets = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let net = match part.parse::<IpNet>() {
                Ok(n) => n.trunc(),
                Err(_) => part
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| BadRange(part.to_owned()))?,
            };
            nets.push(net);
        }
        Ok(TrustedProxies { nets })
    }
}

/// Most header entries looked at, right to left: a header of thousands of hops costs no more.
pub const MAX_HOPS: usize = 16;

impl TrustedProxies {
    /// The ranges of all of `lists`.
    pub fn merged(lists: impl IntoIterator<Item = TrustedProxies>) -> Self {
        TrustedProxies {
            nets: lists.into_iter().flat_map(|l| l.nets).collect(),
        }
    }

    /// Whether no range is trusted.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Whether `ip` (an IPv4-mapped IPv6 address counts as its IPv4 one) is trusted.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client of a request that reached us from `peer` (the TCP peer, or the PROXY
    /// header's source) with `headers`, reading `which` header only. See the module docs.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap, which: ForwardedHeader) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        match which {
            ForwardedHeader::Forwarded => self.walk(
                peer,
                headers
                    .get_all(axum::http::header::FORWARDED)
                    .iter()
                    .rev()
                    .flat_map(|v| forwarded_for(v.as_bytes())),
            ),
            ForwardedHeader::XForwardedFor => self.walk(
                peer,
                headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .rev()
                    .flat_map(|v| v.as_bytes().rsplit(|b| *b == b',').map(parse_xff_entry)),
            ),
        }
    }

    /// Right to left from the trusted `peer`: the first entry that is not trusted. An entry
    /// that is no address (`unknown`, an obfuscated name, garbage) ends the walk at the hop
    /// that reported it, as does running out of entries or of [`MAX_HOPS`].
    fn walk(&self, peer: IpAddr, entries: impl Iterator<Item = Option<IpAddr>>) -> IpAddr {
        let mut current = peer;
        for entry in entries.take(MAX_HOPS) {
            let Some(ip) = entry else {
                return current;
            };
            let ip = ip.to_canonical();
            if !self.contains(ip) {
                return ip;
            }
            current = ip;
        }
        current
    }
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:5`,
/// `[::1]:5`).
fn parse_xff_entry(raw: &[u8]) -> Option<IpAddr> {
    let s = std::str::from_utf8(raw).ok()?.trim();
    parse_node(s)
}

/// A node as `X-Forwarded-For` or RFC 7239 §6 writes it: `a.b.c.d`, `a.b.c.d:port`, an IPv6
/// address bare or in brackets, with or without a port.
fn parse_node(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    let inner = s.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
}

/// The `for=` nodes of one `Forwarded` header value, right to left. An element without `for`
/// or with one that is no address yields `None` (it ends the walk).
fn forwarded_for(value: &[u8]) -> impl Iterator<Item = Option<IpAddr>> + '_ {
    value.rsplit(|b| *b == b',').map(|element| {
        let element = std::str::from_utf8(element).ok()?;
        let node = element.split(';').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            k.trim().eq_ignore_ascii_case("for").then_some(v.trim())
        })?;
        let node = node
            .strip_prefix('"')
            .and_then(|n| n.strip_suffix('"'))
            .unwrap_or(node);
        parse_node(node)
    })
}

/// The PROXY protocol v2 signature.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// Longest PROXY header read: v1 is at most 107 bytes; v2 headers past this (long TLV lists)
/// are refused. haproxy's own recommendation for a receive buffer is 536 bytes.
pub const MAX_PROXY_HEADER: usize = 536;

/// What the first bytes of a connection say about a PROXY header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeader {
    /// A whole header of `len` bytes; `source` is the client it names (`None` for v2 `LOCAL`
    /// or v1 `UNKNOWN`: a health check, whose client is the peer itself).
    Complete {
        /// The header's length in bytes.
        len: usize,
        /// The client address it carries.
        source: Option<SocketAddr>,
    },
    /// Not enough bytes yet.
    Incomplete,
    /// Not a PROXY header, or a malformed one.
    Invalid,
}

/// Whether `bytes` could start a PROXY header (v1 `PROXY ` or the v2 signature): used to
/// refuse one from an untrusted peer. Empty `bytes` are not one.
pub fn looks_like_proxy_header(bytes: &[u8]) -> bool {
    let n = bytes.len().min(12);
    (n > 0 && bytes[..n] == V2_SIGNATURE[..n]) || {
        let m = bytes.len().min(6);
        m > 0 && bytes[..m] == b"PROXY "[..m]
    }
}

/// Whether `bytes` start with a whole PROXY signature (v1 `PROXY `, or v2's twelve bytes).
pub fn starts_with_proxy_signature(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PROXY ") || bytes.starts_with(V2_SIGNATURE)
}

/// Parses a PROXY header (v1 or v2) at the start of `bytes`, with the `ppp` crate.
pub fn parse_proxy_header(bytes: &[u8]) -> ProxyHeader {
    use ppp::{HeaderResult, PartialResult as _};
    if !looks_like_proxy_header(bytes) {
        return ProxyHeader::Invalid;
    }
    let parsed = HeaderResult::parse(bytes);
    if parsed.is_incomplete() {
        return if bytes.len() >= MAX_PROXY_HEADER {
            ProxyHeader::Invalid
        } else {
            ProxyHeader::Incomplete
        };
    }
    match parsed {
        HeaderResult::V1(Ok(h)) => ProxyHeader::Complete {
            len: h.header.len(),
            source: v1_source(&h.addresses),
        },
        HeaderResult::V2(Ok(h)) if h.len() <= MAX_PROXY_HEADER => ProxyHeader::Complete {
            len: h.len(),
            source: v2_source(h.command, &h.addresses),
        },
        _ => ProxyHeader::Invalid,
    }
}

fn v1_source(addresses: &ppp::v1::Addresses) -> Option<SocketAddr> {
    match addresses {
        ppp::v1::Addresses::Tcp4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        ppp::v1::Addresses::Tcp6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        ppp::v1::Addresses::Unknown => None,
    }
}

/// A LOCAL command (a health check), or a PROXY command over a Unix socket or an unspecified
/// family, names no IP client: the peer is the client.
fn v2_source(command: ppp::v2::Command, addresses: &ppp::v2::Addresses) -> Option<SocketAddr> {
    match (command, addresses) {
        (ppp::v2::Command::Local, _) => None,
        (_, ppp::v2::Addresses::IPv4(a)) => {
            Some(SocketAddr::from((a.source_address, a.source_port)))
        }
        (_, ppp::v2::Addresses::IPv6(a)) => {
            Some(SocketAddr::from((a.source_address, a.source_port)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn trusted(s: &str) -> TrustedProxies {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;
    const FWD: ForwardedHeader = ForwardedHeader::Forwarded;

    #[test]
    fn ranges_parse_and_match() {
        let t = trusted("10.0.0.0/8, 192.168.1.7,::1,2001:db8::/32");
        assert!(t.contains(ip("10.200.0.1")));
        assert!(t.contains(ip("::ffff:10.1.2.3")), "mapped IPv4 counts");
        assert!(t.contains(ip("192.168.1.7")));
        assert!(!t.contains(ip("192.168.1.8")));
        assert!(t.contains(ip("::1")));
        assert!(t.contains(ip("2001:db8:1::5")));
        assert!(!t.contains(ip("2001:db9::1")));
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        // The error names the value and says what is wanted.
        assert_eq!(
            "nginx".parse::<TrustedProxies>().unwrap_err().to_string(),
            r#"--trusted-proxy "nginx": not an address or CIDR range (e.g. 10.0.0.0/8, ::1)"#
        );
        assert!(TrustedProxies::default().is_empty());
        assert!(!t.is_empty());
    }

    #[test]
    fn headers_from_an_untrusted_peer_change_nothing() {
        let t = trusted("10.0.0.1");
        let h = headers(&[("x-forwarded-for", "1.1.1.1"), ("forwarded", "for=2.2.2.2")]);
        assert_eq!(t.client(ip("203.0.113.9"), &h, XFF), ip("203.0.113.9"));
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("10.0.0.1"), &h, XFF), ip("10.0.0.1"));
    }

    #[test]
    fn x_forwarded_for_is_read_right_to_left() {
        let t = trusted("10.0.0.0/8");
        // The client wrote the leftmost entry; the proxy appended the real address.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.5")]);
        assert_eq!(t.client(ip("10.0.0.1"), &h, XFF), ip("203.0.113.5"));
        // Trusted hops are skipped.
        let h = headers(&[(
            "x-forwarded-for",
            "6.6.6.6, 203.0.113.5, 10.0.0.2, 10.0.0.3",
        )]);
        assert_eq!(t.client(ip("10.0.0.1"), &h, XFF), ip("203.0.113.5"));
        // Several header lines are one list, in order.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "203.0.113.5:4711"),
        ]);
        assert_eq!(t.client(ip("10.0.0.1"), &h, XFF), ip("203.0.113.5"));
        // Garbage at the right ends the walk at the proxy that reported it.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, unknown")]);
        assert_eq!(t.client(ip("10.0.0.1"), &h, XFF), ip("10.0.0.1"));
        // Only trusted hops: the leftmost of them.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.2")]);
        assert_eq!(t.client(ip("10.0.0.1"), &h, XFF), ip("10.9.9.9"));
        // No header: the peer.
        assert_eq!(
            t.client(ip("10.0.0.1"), &HeaderMap::new(), XFF),
            ip("10.0.0.1")
        );
        // IPv6, bracketed with a port.
        let h = headers(&[("x-forwarded-for", "[2001:db8::7]:443")]);
        assert_eq!(t.client(ip("10.0.0.1"), &h, XFF), ip("2001:db8::7"));
    }

    #[test]
    fn only_the_configured_header_is_read_right_to_left() {
        let t = trusted("10.0.0.0/8");
        let h = headers(&[
            (
                "forwarded",
                "for=6.6.6.6, for=\"[2001:db8::1]:4711\";proto=https",
            ),
            ("x-forwarded-for", "7.7.7.7"),
        ]);
        assert_eq!(t.client(ip("10.0.0.1"), &h, FWD), ip("2001:db8::1"));
        // A proxy that maintains X-Forwarded-For passes a client's Forwarded through: with
        // the default, that Forwarded is never read.
        assert_eq!(t.client(ip("10.0.0.1"), &h, XFF), ip("7.7.7.7"));
        let only_forwarded = headers(&[("forwarded", "for=6.6.6.6")]);
        assert_eq!(
            t.client(ip("10.0.0.1"), &only_forwarded, XFF),
            ip("10.0.0.1")
        );
        let h = headers(&[("forwarded", "for=198.51.100.17;by=10.0.0.1, For=10.0.0.2")]);
        assert_eq!(t.client(ip("10.0.0.1"), &h, FWD), ip("198.51.100.17"));
        // An obfuscated identifier (RFC 7239 §6.3) names no address.
        let h = headers(&[("forwarded", "for=_hidden")]);
        assert_eq!(t.client(ip("10.0.0.1"), &h, FWD), ip("10.0.0.1"));
    }

    #[test]
    fn a_header_of_thousands_of_hops_is_read_to_max_hops() {
        let t = trusted("10.0.0.0/8");
        let long = vec!["10.1.1.1"; 5000].join(",");
        let h = headers(&[("x-forwarded-for", &format!("203.0.113.1,{long}"))]);
        // Past MAX_HOPS trusted entries the walk stops at the last trusted one.
        assert_eq!(t.client(ip("10.0.0.1"), &h, XFF), ip("10.1.1.1"));
    }

    #[test]
    fn proxy_headers_v1_and_v2() {
        let v1 = b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 8000\r\nGET / HTTP/1.1\r\n";
        assert_eq!(
            parse_proxy_header(v1),
            ProxyHeader::Complete {
                len: 44,
                source: Some("203.0.113.7:51000".parse().unwrap())
            }
        );
        assert_eq!(parse_proxy_header(&v1[..20]), ProxyHeader::Incomplete);
        assert_eq!(
            parse_proxy_header(b"PROXY UNKNOWN\r\n"),
            ProxyHeader::Complete {
                len: 15,
                source: None
            }
        );
        assert_eq!(
            parse_proxy_header(b"GET / HTTP/1.1\r\n"),
            ProxyHeader::Invalid
        );
        assert_eq!(
            parse_proxy_header(b"PROXY TCP4 x y z w\r\n"),
            ProxyHeader::Invalid
        );

        let v2 = ppp::v2::Builder::with_addresses(
            ppp::v2::Version::Two | ppp::v2::Command::Proxy,
            ppp::v2::Protocol::Stream,
            (
                "[2001:db8::9]:40000".parse::<SocketAddr>().unwrap(),
                "[::1]:8000".parse::<SocketAddr>().unwrap(),
            ),
        )
        .build()
        .unwrap();
        let mut bytes = v2.clone();
        bytes.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(
            parse_proxy_header(&bytes),
            ProxyHeader::Complete {
                len: v2.len(),
                source: Some("[2001:db8::9]:40000".parse().unwrap())
            }
        );
        assert_eq!(parse_proxy_header(&v2[..14]), ProxyHeader::Incomplete);
        let local = ppp::v2::Builder::with_addresses(
            ppp::v2::Version::Two | ppp::v2::Command::Local,
            ppp::v2::Protocol::Unspecified,
            ppp::v2::Addresses::Unspecified,
        )
        .build()
        .unwrap();
        assert_eq!(
            parse_proxy_header(&local),
            ProxyHeader::Complete {
                len: local.len(),
                source: None
            }
        );
        // LOCAL (a health check) names no client even when the sender fills in addresses:
        // the receiver uses the connection's own (PROXY protocol §2.2).
        let local_with_addresses = ppp::v2::Builder::with_addresses(
            ppp::v2::Version::Two | ppp::v2::Command::Local,
            ppp::v2::Protocol::Stream,
            (
                "203.0.113.7:51000".parse::<SocketAddr>().unwrap(),
                "10.0.0.1:8000".parse::<SocketAddr>().unwrap(),
            ),
        )
        .build()
        .unwrap();
        assert_eq!(
            parse_proxy_header(&local_with_addresses),
            ProxyHeader::Complete {
                len: local_with_addresses.len(),
                source: None
            }
        );
        // A v2 header longer than MAX_PROXY_HEADER (a long TLV list) is refused even when it
        // is whole; one of exactly that length is taken.
        let with_tlv = |value_len: usize| {
            ppp::v2::Builder::with_addresses(
                ppp::v2::Version::Two | ppp::v2::Command::Proxy,
                ppp::v2::Protocol::Stream,
                (
                    "203.0.113.7:51000".parse::<SocketAddr>().unwrap(),
                    "10.0.0.1:8000".parse::<SocketAddr>().unwrap(),
                ),
            )
            .write_tlv(ppp::v2::Type::NoOp, &vec![0u8; value_len])
            .unwrap()
            .build()
            .unwrap()
        };
        // 16 bytes of fixed header, 12 of IPv4 addresses, 3 of TLV header.
        let longest = with_tlv(MAX_PROXY_HEADER - 16 - 12 - 3);
        assert_eq!(longest.len(), MAX_PROXY_HEADER);
        assert!(matches!(
            parse_proxy_header(&longest),
            ProxyHeader::Complete {
                len: MAX_PROXY_HEADER,
                ..
            }
        ));
        assert_eq!(
            parse_proxy_header(&with_tlv(MAX_PROXY_HEADER - 16 - 12 - 3 + 1)),
            ProxyHeader::Invalid
        );
        assert!(looks_like_proxy_header(b"PRO"));
        assert!(looks_like_proxy_header(b"\r\n\r\n"));
        assert!(!looks_like_proxy_header(b"POST /"));
        // Nothing read is no header: a caller reads before it asks.
        assert!(!looks_like_proxy_header(b""));
        assert_eq!(parse_proxy_header(b""), ProxyHeader::Invalid);
        assert!(starts_with_proxy_signature(b"PROXY TCP4"));
        assert!(!starts_with_proxy_signature(b"PRO"));
        assert!(!starts_with_proxy_signature(b"PROPFIND / HTTP/1.1"));
    }
}
