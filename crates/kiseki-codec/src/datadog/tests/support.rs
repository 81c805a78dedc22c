//! Building msgpack payloads by hand, with control over every number's width and sign.

use kiseki_model::Span;

/// A msgpack value to write.
#[derive(Debug, Clone)]
pub enum Mp {
    Nil,
    Bool(bool),
    /// The smallest unsigned form.
    U(u64),
    /// Always the 9-byte signed form (0xd3).
    I64(i64),
    F32(f32),
    F64(f64),
    S(String),
    Bin(Vec<u8>),
    A(Vec<Mp>),
    M(Vec<(Mp, Mp)>),
    /// Bytes written as they are.
    Raw(Vec<u8>),
}

pub fn s(text: &str) -> Mp {
    Mp::S(text.to_owned())
}

/// A map with string keys.
pub fn map(entries: Vec<(&str, Mp)>) -> Mp {
    Mp::M(entries.into_iter().map(|(k, v)| (s(k), v)).collect())
}

/// A map of strings to strings.
pub fn strings(entries: &[(&str, &str)]) -> Mp {
    Mp::M(entries.iter().map(|(k, v)| (s(k), s(v))).collect())
}

impl Mp {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Mp::Nil => out.push(0xc0),
            Mp::Bool(flag) => out.push(if *flag { 0xc3 } else { 0xc2 }),
            Mp::U(value) => match *value {
                0..=0x7f => out.push(*value as u8),
                0x80..=0xff => out.extend([0xcc, *value as u8]),
                0x100..=0xffff => {
                    out.push(0xcd);
                    out.extend((*value as u16).to_be_bytes());
                }
                0x1_0000..=0xffff_ffff => {
                    out.push(0xce);
                    out.extend((*value as u32).to_be_bytes());
                }
                _ => {
                    out.push(0xcf);
                    out.extend(value.to_be_bytes());
                }
            },
            Mp::I64(value) => {
                out.push(0xd3);
                out.extend(value.to_be_bytes());
            }
            Mp::F32(value) => {
                out.push(0xca);
                out.extend(value.to_be_bytes());
            }
            Mp::F64(value) => {
                out.push(0xcb);
                out.extend(value.to_be_bytes());
            }
            Mp::S(text) => {
                let len = text.len();
                if len < 32 {
                    out.push(0xa0 | len as u8);
                } else {
                    out.push(0xdb);
                    out.extend((len as u32).to_be_bytes());
                }
                out.extend(text.as_bytes());
            }
            Mp::Bin(bytes) => {
                out.push(0xc6);
                out.extend((bytes.len() as u32).to_be_bytes());
                out.extend(bytes);
            }
            Mp::A(items) => {
                out.push(0xdd);
                out.extend((items.len() as u32).to_be_bytes());
                for item in items {
                    item.write(out);
                }
            }
            Mp::M(entries) => {
                out.push(0xdf);
                out.extend((entries.len() as u32).to_be_bytes());
                for (key, value) in entries {
                    key.write(out);
                    value.write(out);
                }
            }
            Mp::Raw(bytes) => out.extend(bytes),
        }
    }
}

/// A v0.4 body: traces of span maps.
pub fn v04(traces: Vec<Vec<Mp>>) -> Vec<u8> {
    Mp::A(traces.into_iter().map(Mp::A).collect()).encode()
}

/// A minimal span map with the given extra fields.
pub fn span_map(trace_id: u64, span_id: u64, extra: Vec<(&str, Mp)>) -> Mp {
    let mut entries = vec![
        ("service", s("svc")),
        ("name", s("op")),
        ("resource", s("res")),
        ("trace_id", Mp::U(trace_id)),
        ("span_id", Mp::U(span_id)),
        ("start", Mp::U(1_000)),
        ("duration", Mp::U(500)),
    ];
    entries.extend(extra);
    map(entries)
}

/// Decodes one v0.4 trace of the given span maps.
pub fn decode_one_trace(spans: Vec<Mp>) -> Vec<Span> {
    super::super::decode_v04_msgpack(&v04(vec![spans])).unwrap()
}
