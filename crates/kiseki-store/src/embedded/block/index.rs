//! The block index: everything about a block that is kept in memory while the block is open,
//! written beside the data file.
//!
//! It holds the counts and time range, the catalog, the trace-id bloom filter, the trace-id and
//! time range of each row group, the tables rows point into (resources, scopes, attribute
//! shapes, dedicated keys), and checksums of every byte range of the data file that is read,
//! so that a corrupted data file is an error and never a wrong answer.
//!
//! File layout: `KISEKIBX`, then little-endian u32 format version, u64 compressed body length,
//! u64 body length, u64 xxh64 of the compressed body, then the zstd-compressed body.

use std::sync::Arc;

use kiseki_model::{Resource, Scope, Str, TraceId};

use super::BlockError;
use super::bloom::TraceBloom;
use super::catalog::BlockCatalog;
use super::schema::{DedicatedType, FORMAT_VERSION};
use super::shape::Shape;
use super::values::{Corrupt, Reader, put_resource, put_scope, put_str, put_varint};

const MAGIC: &[u8; 8] = b"KISEKIBX";
const HEADER_LEN: usize = 8 + 4 + 8 + 8 + 8;
/// Largest body an index may claim; far above any real block, it bounds memory on bad input.
const MAX_BODY_LEN: u64 = 1 << 32;
const INDEX_ZSTD_LEVEL: i32 = 3;

/// A range of the data file with the xxh64 of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checksummed {
    pub start: u64,
    pub len: u64,
    pub hash: u64,
}

/// What a block holds in one row group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowGroupInfo {
    pub first_trace: TraceId,
    pub last_trace: TraceId,
    pub rows: u64,
    pub min_start: u64,
    pub max_start: u64,
    pub max_end: u64,
    pub min_duration: u64,
    pub max_duration: u64,
    /// Spans with status error.
    pub error_count: u64,
    /// One per Parquet column chunk, in column order.
    pub chunks: Vec<Checksummed>,
}

/// The in-memory part of a block.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockIndex {
    pub level: u32,
    pub span_count: u64,
    pub trace_count: u64,
    pub data_bytes: u64,
    pub min_start: u64,
    pub max_start: u64,
    pub max_end: u64,
    pub catalog: BlockCatalog,
    pub bloom: TraceBloom,
    pub row_groups: Vec<RowGroupInfo>,
    /// The Parquet footer and page index: everything after the last column chunk.
    pub footer: Checksummed,
    pub resources: Vec<Arc<Resource>>,
    pub scopes: Vec<Arc<Scope>>,
    pub dedicated: Vec<(Str, DedicatedType)>,
    pub shapes: Vec<Shape>,
    /// Whether some attribute list was written inline (the shape table was full).
    pub has_inline_shapes: bool,
}

pub fn xxh64(bytes: &[u8]) -> u64 {
    twox_hash::XxHash64::oneshot(0, bytes)
}

fn put_checksummed(buf: &mut Vec<u8>, range: &Checksummed) {
    put_varint(buf, range.start);
    put_varint(buf, range.len);
    buf.extend_from_slice(&range.hash.to_le_bytes());
}

fn read_checksummed(reader: &mut Reader<'_>) -> Result<Checksummed, Corrupt> {
    Ok(Checksummed {
        start: reader.varint()?,
        len: reader.varint()?,
        hash: u64::from_le_bytes(reader.array()?),
    })
}

fn read_trace_id(reader: &mut Reader<'_>) -> Result<TraceId, Corrupt> {
    TraceId::from_bytes(reader.array()?).ok_or_else(|| Corrupt::new("zero trace id in index"))
}

impl BlockIndex {
    /// The whole index file.
    pub fn to_bytes(&self) -> Result<Vec<u8>, BlockError> {
        let mut body = Vec::with_capacity(64 * 1024 + self.bloom.size_bytes());
        for n in [
            u64::from(self.level),
            self.span_count,
            self.trace_count,
            self.data_bytes,
            self.min_start,
            self.max_start,
            self.max_end,
        ] {
            put_varint(&mut body, n);
        }
        self.catalog.encode(&mut body);
        self.bloom.encode(&mut body);
        put_varint(&mut body, self.row_groups.len() as u64);
        for group in &self.row_groups {
            body.extend_from_slice(&group.first_trace.to_bytes());
            body.extend_from_slice(&group.last_trace.to_bytes());
            for n in [
                group.rows,
                group.min_start,
                group.max_start,
                group.max_end,
                group.min_duration,
                group.max_duration,
                group.error_count,
            ] {
                put_varint(&mut body, n);
            }
            put_varint(&mut body, group.chunks.len() as u64);
            group.chunks.iter().for_each(|chunk| put_checksummed(&mut body, chunk));
        }
        put_checksummed(&mut body, &self.footer);
        put_varint(&mut body, self.resources.len() as u64);
        self.resources.iter().for_each(|resource| put_resource(&mut body, resource));
        put_varint(&mut body, self.scopes.len() as u64);
        self.scopes.iter().for_each(|scope| put_scope(&mut body, scope));
        put_varint(&mut body, self.dedicated.len() as u64);
        for (key, kind) in &self.dedicated {
            put_str(&mut body, key);
            body.push(kind.to_byte());
        }
        put_varint(&mut body, self.shapes.len() as u64);
        self.shapes.iter().for_each(|shape| shape.encode(&mut body));
        body.push(u8::from(self.has_inline_shapes));

        let compressed = zstd::bulk::compress(&body, INDEX_ZSTD_LEVEL).map_err(BlockError::Io)?;
        let mut file = Vec::with_capacity(HEADER_LEN + compressed.len());
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        file.extend_from_slice(&(compressed.len() as u64).to_le_bytes());
        file.extend_from_slice(&(body.len() as u64).to_le_bytes());
        file.extend_from_slice(&xxh64(&compressed).to_le_bytes());
        file.extend_from_slice(&compressed);
        Ok(file)
    }

    /// Reads an index file; a file of another format version is [`BlockError::UnsupportedVersion`].
    pub fn from_bytes(file: &[u8]) -> Result<Self, BlockError> {
        let mut header = Reader::new(file);
        let magic: [u8; 8] = header.array().map_err(|_| corrupt("index file too short"))?;
        if &magic != MAGIC {
            return Err(corrupt("index file does not start with the block index magic"));
        }
        let version =
            u32::from_le_bytes(header.array().map_err(|_| corrupt("index file too short"))?);
        if version != FORMAT_VERSION {
            return Err(BlockError::UnsupportedVersion(version));
        }
        let mut number = || -> Result<u64, BlockError> {
            Ok(u64::from_le_bytes(header.array().map_err(|_| corrupt("index file too short"))?))
        };
        let (compressed_len, body_len, hash) = (number()?, number()?, number()?);
        let compressed = &file[HEADER_LEN.min(file.len())..];
        if compressed.len() as u64 != compressed_len {
            return Err(corrupt(format!(
                "index body has {} bytes, header says {compressed_len}",
                compressed.len()
            )));
        }
        if xxh64(compressed) != hash {
            return Err(corrupt("index checksum mismatch"));
        }
        if body_len > MAX_BODY_LEN {
            return Err(corrupt(format!("index body of {body_len} bytes")));
        }
        let body = zstd::bulk::decompress(compressed, body_len as usize)
            .map_err(|error| corrupt(format!("index body does not decompress: {error}")))?;
        Self::decode_body(&body).map_err(|Corrupt(what)| corrupt(format!("index body: {what}")))
    }

    fn decode_body(body: &[u8]) -> Result<Self, Corrupt> {
        let mut reader = Reader::new(body);
        let level = reader.varint_u32()?;
        let [span_count, trace_count, data_bytes, min_start, max_start, max_end] =
            [(); 6].map(|()| reader.varint());
        let catalog = BlockCatalog::decode(&mut reader)?;
        let bloom = TraceBloom::decode(&mut reader)?;
        let mut row_groups = Vec::new();
        for _ in 0..reader.count()? {
            let first_trace = read_trace_id(&mut reader)?;
            let last_trace = read_trace_id(&mut reader)?;
            let [
                rows,
                group_min_start,
                group_max_start,
                group_max_end,
                min_duration,
                max_duration,
                error_count,
            ] = [(); 7].map(|()| reader.varint());
            let mut chunks = Vec::new();
            for _ in 0..reader.count()? {
                chunks.push(read_checksummed(&mut reader)?);
            }
            row_groups.push(RowGroupInfo {
                first_trace,
                last_trace,
                rows: rows?,
                min_start: group_min_start?,
                max_start: group_max_start?,
                max_end: group_max_end?,
                min_duration: min_duration?,
                max_duration: max_duration?,
                error_count: error_count?,
                chunks,
            });
        }
        let footer = read_checksummed(&mut reader)?;
        let mut resources = Vec::new();
        for _ in 0..reader.count()? {
            resources.push(Arc::new(reader.resource()?));
        }
        let mut scopes = Vec::new();
        for _ in 0..reader.count()? {
            scopes.push(Arc::new(reader.scope()?));
        }
        let mut dedicated = Vec::new();
        for _ in 0..reader.count()? {
            let key = reader.str()?;
            let kind = DedicatedType::from_byte(reader.byte()?)
                .ok_or_else(|| Corrupt::new("unknown dedicated column type"))?;
            dedicated.push((key, kind));
        }
        let mut shapes = Vec::new();
        for _ in 0..reader.count()? {
            shapes.push(Shape::decode(&mut reader, &dedicated)?);
        }
        let has_inline_shapes = reader.byte()? != 0;
        reader.finish("the index")?;
        Ok(Self {
            level,
            span_count: span_count?,
            trace_count: trace_count?,
            data_bytes: data_bytes?,
            min_start: min_start?,
            max_start: max_start?,
            max_end: max_end?,
            catalog,
            bloom,
            row_groups,
            footer,
            resources,
            scopes,
            dedicated,
            shapes,
            has_inline_shapes,
        })
    }
}

fn corrupt(what: impl Into<String>) -> BlockError {
    BlockError::Corrupt(what.into())
}
