//! Zipkin's v2 span as the format defines it, between the wire encodings and the span model.
//!
//! All four encodings decode into [`ZipkinSpan`] (v1 spans through Zipkin's own v1 → v2
//! conversion), and the encoders write from it, so the mapping to the model exists once.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use kiseki_model::{AnyValue, SpanId, Str, TraceId};

/// Zipkin's span kinds; Zipkin has no INTERNAL (a local span has no kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ZipkinKind {
    Client,
    Server,
    Producer,
    Consumer,
}

impl ZipkinKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ZipkinKind::Client => "CLIENT",
            ZipkinKind::Server => "SERVER",
            ZipkinKind::Producer => "PRODUCER",
            ZipkinKind::Consumer => "CONSUMER",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "CLIENT" => Some(ZipkinKind::Client),
            "SERVER" => Some(ZipkinKind::Server),
            "PRODUCER" => Some(ZipkinKind::Producer),
            "CONSUMER" => Some(ZipkinKind::Consumer),
            _ => None,
        }
    }

    /// The proto3 enum number (0 is "unspecified").
    pub(crate) fn from_number(number: i32) -> Option<Self> {
        match number {
            1 => Some(ZipkinKind::Client),
            2 => Some(ZipkinKind::Server),
            3 => Some(ZipkinKind::Producer),
            4 => Some(ZipkinKind::Consumer),
            _ => None,
        }
    }

    pub(crate) fn number(self) -> i32 {
        match self {
            ZipkinKind::Client => 1,
            ZipkinKind::Server => 2,
            ZipkinKind::Producer => 3,
            ZipkinKind::Consumer => 4,
        }
    }
}

/// A network endpoint: the service that recorded a span, or the one it talked to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// `None` when absent or empty, as Zipkin treats `""`.
    pub service_name: Option<Str>,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    /// 0 when absent.
    pub port: u16,
}

impl Endpoint {
    pub(crate) fn is_empty(&self) -> bool {
        self.service_name.is_none() && self.ipv4.is_none() && self.ipv6.is_none() && self.port == 0
    }

    /// `None` for an endpoint without any field, which Zipkin treats as no endpoint.
    pub(crate) fn non_empty(self) -> Option<Self> {
        if self.is_empty() { None } else { Some(self) }
    }

    pub(crate) fn set_service_name(&mut self, name: &str) {
        self.service_name = if name.is_empty() { None } else { Some(Str::new(name)) };
    }

    /// Stores an address read from text (either field of JSON takes either family, as Zipkin's
    /// reader does). Text that is not an IP address is ignored, as Zipkin ignores it.
    pub(crate) fn set_ip_text(&mut self, text: &str) {
        match text.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => self.ipv4 = Some(ip),
            Ok(IpAddr::V6(ip)) => self.ipv6 = Some(ip),
            Err(_) => {}
        }
    }

    /// The address a tracer gave; IPv4 first when it gave both.
    pub(crate) fn ip(&self) -> Option<IpAddr> {
        self.ipv4.map(IpAddr::V4).or(self.ipv6.map(IpAddr::V6))
    }

    pub(crate) fn set_ip(&mut self, ip: IpAddr) {
        match ip {
            IpAddr::V4(ip) => self.ipv4 = Some(ip),
            IpAddr::V6(ip) => self.ipv6 = Some(ip),
        }
    }
}

/// Reads a port as Zipkin does: zero and negative mean "no port", above 65535 is an error.
pub(crate) fn port_from_number(number: i64) -> Result<u16, i64> {
    if number <= 0 {
        return Ok(0);
    }
    u16::try_from(number).map_err(|_| number)
}

/// An event at one moment of a span, in microseconds since the epoch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Annotation {
    pub timestamp: u64,
    pub value: Str,
}

/// A v2 span as Zipkin defines it. Times are in microseconds; 0 means absent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ZipkinSpan {
    pub trace_id: TraceId,
    pub id: SpanId,
    pub parent_id: Option<SpanId>,
    pub kind: Option<ZipkinKind>,
    pub name: Str,
    pub timestamp: u64,
    pub duration: u64,
    pub local_endpoint: Option<Endpoint>,
    pub remote_endpoint: Option<Endpoint>,
    pub annotations: Vec<Annotation>,
    /// v2 tags are strings; v1 binary annotations keep the type they were sent with.
    pub tags: Vec<(Str, AnyValue)>,
    pub debug: bool,
    pub shared: bool,
}

impl ZipkinSpan {
    pub(crate) fn new(trace_id: TraceId, id: SpanId) -> Self {
        Self {
            trace_id,
            id,
            parent_id: None,
            kind: None,
            name: Str::default(),
            timestamp: 0,
            duration: 0,
            local_endpoint: None,
            remote_endpoint: None,
            annotations: Vec::new(),
            tags: Vec::new(),
            debug: false,
            shared: false,
        }
    }

    /// Zipkin drops a parent id equal to the span's own id (a loop, not a parent).
    pub(crate) fn set_parent(&mut self, parent: Option<SpanId>) {
        self.parent_id = parent.filter(|&parent| parent != self.id);
    }
}

/// Removes repeated keys, keeping the last value at the first key's position, as reading them
/// into a map does.
pub(crate) fn dedupe_tags(tags: &mut Vec<(Str, AnyValue)>) {
    const LINEAR_SCAN_BELOW: usize = 16;
    if tags.len() < 2 {
        return;
    }
    let mut kept: Vec<(Str, AnyValue)> = Vec::with_capacity(tags.len());
    if tags.len() < LINEAR_SCAN_BELOW {
        for (key, value) in tags.drain(..) {
            match kept.iter_mut().find(|(k, _)| *k == key) {
                Some(existing) => existing.1 = value,
                None => kept.push((key, value)),
            }
        }
    } else {
        let mut positions: HashMap<Str, usize> = HashMap::with_capacity(tags.len());
        for (key, value) in tags.drain(..) {
            match positions.get(&key).and_then(|&i| kept.get_mut(i)) {
                Some(existing) => existing.1 = value,
                None => {
                    positions.insert(key.clone(), kept.len());
                    kept.push((key, value));
                }
            }
        }
    }
    *tags = kept;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_keeps_first_position_and_last_value() {
        for n in [3usize, 40] {
            let mut tags: Vec<(Str, AnyValue)> =
                (0..n).map(|i| (Str::from(format!("k{i}")), AnyValue::Int(i as i64))).collect();
            tags.push((Str::from("k1"), AnyValue::from("last")));
            dedupe_tags(&mut tags);
            assert_eq!(tags.len(), n);
            assert_eq!(tags[1], (Str::from("k1"), AnyValue::from("last")));
        }
    }

    #[test]
    fn endpoints_read_like_zipkin() {
        let mut e = Endpoint::default();
        e.set_service_name("");
        e.set_ip_text("not an ip");
        assert!(e.is_empty());
        e.set_ip_text("::1");
        e.set_ip_text("10.0.0.1");
        assert_eq!(e.ip(), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(port_from_number(-1), Ok(0));
        assert_eq!(port_from_number(65535), Ok(65535));
        assert_eq!(port_from_number(65536), Err(65536));
    }
}
