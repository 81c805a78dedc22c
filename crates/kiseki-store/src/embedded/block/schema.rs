//! The columns of a block's Parquet file and how each is encoded.
//!
//! One row per span, sorted by trace id and then start time. What repeats inside a trace is
//! written relative to the trace: the parent as the row of the parent within the trace, the
//! start as the gap to the previous span's start, the trace's start once. Resources, scopes
//! and attribute key lists ("shapes") live in per-block tables in the block index, and a row
//! points into them. Hot attributes get dedicated typed columns; the values of the remaining
//! attributes are packed into one binary column in the order their shape lists them.

use std::sync::Arc;

use kiseki_model::Str;

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::types::SchemaDescriptor;

/// The version of the block layout (Parquet columns and index file) this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Spans per row group, reached at the next trace boundary; a trace never spans row groups.
/// (Tests use small groups and pages so that every path meets several.)
#[cfg(not(test))]
pub const ROW_GROUP_ROWS: usize = 65_536;
#[cfg(test)]
pub const ROW_GROUP_ROWS: usize = 1_000;
/// Rows per data page: small enough that a trace-by-id read decodes little, large enough to
/// compress well.
#[cfg(not(test))]
pub const PAGE_ROWS: usize = 16_384;
#[cfg(test)]
pub const PAGE_ROWS: usize = 128;
/// The zstd level of every compressed column.
pub const ZSTD_LEVEL: i32 = 1;

pub const TRACE_ID: &str = "trace_id";
pub const SPAN_ID: &str = "span_id";
/// Row of the parent within its trace; [`ROOT`] or [`REMOTE_PARENT`] otherwise.
pub const PARENT: &str = "parent";
/// The parent's span id when the parent is not in this block.
pub const PARENT_SPAN_ID: &str = "parent_span_id";
/// The start of the trace's first span, on the trace's first row only.
pub const TRACE_START: &str = "trace_start";
/// Start minus the previous span's start in the same trace (0 on the first row).
pub const START_GAP: &str = "start_gap";
/// End minus start (wrapping, so an end before the start survives).
pub const DURATION: &str = "duration";
pub const RESOURCE: &str = "resource";
pub const SCOPE: &str = "scope";
pub const NAME: &str = "name";
/// Kind, status code, W3C flags and attribute shape of a span in one integer ([`SpanBits`]):
/// they repeat together, so one dictionary-encoded column holds them cheaply.
pub const SPAN_BITS: &str = "span_bits";
pub const STATUS_MESSAGE: &str = "status_message";
pub const TRACE_STATE: &str = "trace_state";
/// Dropped attribute, event and link counts as three varints; null when all are zero.
pub const DROPPED: &str = "dropped";
/// Values of the attributes that have no dedicated column.
pub const ATTRIBUTES: &str = "attributes";
pub const EVENTS: &str = "events";
pub const LINKS: &str = "links";

/// `parent` of a span without a parent.
pub const ROOT: i32 = -1;
/// `parent` of a span whose parent is not in this block (see `parent_span_id`).
pub const REMOTE_PARENT: i32 = -2;

/// Fields of an event inside the `events` list.
pub mod event {
    /// Time from the span's start, or back from its end ([`super::EventBits::from_end`]),
    /// wrapping: exact for any time.
    pub const OFFSET: &str = "offset";
    pub const NAME: &str = "name";
    /// Attribute shape, dropped count and where the time is measured from ([`super::EventBits`]).
    pub const BITS: &str = "bits";
    pub const ATTRIBUTES: &str = "attributes";
}

/// The shape code of an attribute list written inline.
const INLINE_SHAPE: u64 = super::shape::MAX_SHAPES as u64;
const SHAPE_MASK: u64 = (1 << 17) - 1;

/// What [`SPAN_BITS`] packs: shape code in bits 0..17 ([`MAX_SHAPES`](super::shape::MAX_SHAPES)
/// for inline), kind in 17..20, status code in 20..22, flags in 22..54.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanBits {
    pub shape: Option<u32>,
    pub kind: u8,
    pub status_code: u8,
    pub flags: u32,
}

impl SpanBits {
    pub fn pack(self) -> u64 {
        shape_code(self.shape)
            | u64::from(self.kind & 7) << 17
            | u64::from(self.status_code & 3) << 20
            | u64::from(self.flags) << 22
    }

    pub fn unpack(bits: u64) -> Option<Self> {
        Some(Self {
            shape: shape_of_code(bits & SHAPE_MASK)?,
            kind: ((bits >> 17) & 7) as u8,
            status_code: ((bits >> 20) & 3) as u8,
            flags: u32::try_from(bits >> 22).ok()?,
        })
    }

    /// The status code alone, for searches for errors.
    pub fn status_code_of(bits: u64) -> u8 {
        ((bits >> 20) & 3) as u8
    }

    pub fn shape_of(bits: u64) -> Option<Option<u32>> {
        shape_of_code(bits & SHAPE_MASK)
    }
}

/// What an event's `bits` pack: shape code in bits 0..17, whether the offset counts back from
/// the span's end in bit 17, the dropped attribute count in bits 18..50.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventBits {
    pub shape: Option<u32>,
    pub from_end: bool,
    pub dropped_attributes: u32,
}

impl EventBits {
    pub fn pack(self) -> u64 {
        shape_code(self.shape)
            | u64::from(self.from_end) << 17
            | u64::from(self.dropped_attributes) << 18
    }

    pub fn unpack(bits: u64) -> Option<Self> {
        Some(Self {
            shape: shape_of_code(bits & SHAPE_MASK)?,
            from_end: bits & (1 << 17) != 0,
            dropped_attributes: u32::try_from(bits >> 18).ok()?,
        })
    }
}

fn shape_code(shape: Option<u32>) -> u64 {
    shape.map_or(INLINE_SHAPE, |s| u64::from(s).min(INLINE_SHAPE))
}

fn shape_of_code(code: u64) -> Option<Option<u32>> {
    match code {
        INLINE_SHAPE => Some(None),
        c if c < INLINE_SHAPE => Some(Some(c as u32)),
        _ => None,
    }
}

/// The type of a dedicated attribute column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DedicatedType {
    Str,
    Int,
}

impl DedicatedType {
    pub fn to_byte(self) -> u8 {
        match self {
            DedicatedType::Str => 0,
            DedicatedType::Int => 1,
        }
    }

    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(DedicatedType::Str),
            1 => Some(DedicatedType::Int),
            _ => None,
        }
    }
}

/// Span attributes searched often enough to get their own column (old and current semantic
/// convention names). The block index records which keys a block has columns for, so this
/// list can change without a new format version.
pub const DEDICATED: &[(&str, DedicatedType)] = &[
    ("http.request.method", DedicatedType::Str),
    ("http.route", DedicatedType::Str),
    ("http.response.status_code", DedicatedType::Int),
    ("url.full", DedicatedType::Str),
    ("url.path", DedicatedType::Str),
    ("server.address", DedicatedType::Str),
    ("server.port", DedicatedType::Int),
    ("peer.service", DedicatedType::Str),
    ("db.system", DedicatedType::Str),
    ("db.system.name", DedicatedType::Str),
    ("db.namespace", DedicatedType::Str),
    ("db.operation.name", DedicatedType::Str),
    ("db.collection.name", DedicatedType::Str),
    ("db.query.text", DedicatedType::Str),
    ("db.statement", DedicatedType::Str),
    ("rpc.system", DedicatedType::Str),
    ("rpc.service", DedicatedType::Str),
    ("rpc.method", DedicatedType::Str),
    ("rpc.grpc.status_code", DedicatedType::Int),
    ("messaging.system", DedicatedType::Str),
    ("messaging.operation.type", DedicatedType::Str),
    ("messaging.destination.name", DedicatedType::Str),
    ("error.type", DedicatedType::Str),
    ("http.method", DedicatedType::Str),
    ("http.status_code", DedicatedType::Int),
    ("http.url", DedicatedType::Str),
];

/// The Parquet column of a dedicated attribute.
pub fn dedicated_column(key: &str) -> String {
    format!("@{key}")
}

fn dictionary_utf8() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The struct of one event inside the `events` list.
pub fn event_fields() -> Fields {
    Fields::from(vec![
        Field::new(event::OFFSET, DataType::Int64, false),
        Field::new(event::NAME, dictionary_utf8(), false),
        Field::new(event::BITS, DataType::UInt64, false),
        Field::new(event::ATTRIBUTES, DataType::Binary, false),
    ])
}

pub fn event_list_field() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Struct(event_fields()), false))
}

/// The Arrow schema of a block with dedicated columns for `dedicated` keys.
pub fn arrow_schema(dedicated: &[(Str, DedicatedType)]) -> SchemaRef {
    let mut fields = vec![
        Field::new(TRACE_ID, DataType::FixedSizeBinary(16), false),
        Field::new(SPAN_ID, DataType::UInt64, false),
        Field::new(PARENT, DataType::Int32, false),
        Field::new(PARENT_SPAN_ID, DataType::UInt64, true),
        Field::new(TRACE_START, DataType::UInt64, true),
        Field::new(START_GAP, DataType::Int64, false),
        Field::new(DURATION, DataType::Int64, false),
        Field::new(RESOURCE, DataType::UInt32, false),
        Field::new(SCOPE, DataType::UInt32, false),
        Field::new(NAME, dictionary_utf8(), false),
        Field::new(SPAN_BITS, DataType::UInt64, false),
        Field::new(STATUS_MESSAGE, dictionary_utf8(), false),
        Field::new(TRACE_STATE, dictionary_utf8(), false),
        Field::new(DROPPED, DataType::Binary, true),
        Field::new(ATTRIBUTES, DataType::Binary, false),
        Field::new(EVENTS, DataType::List(event_list_field()), false),
        Field::new(LINKS, DataType::Binary, true),
    ];
    for (key, kind) in dedicated {
        let data_type = match kind {
            DedicatedType::Str => dictionary_utf8(),
            DedicatedType::Int => DataType::Int64,
        };
        fields.push(Field::new(dedicated_column(key), data_type, true));
    }
    Arc::new(Schema::new(fields))
}

/// How each Parquet column is encoded and compressed.
pub fn writer_properties(parquet_schema: &SchemaDescriptor) -> WriterProperties {
    let zstd = Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL).unwrap_or_default());
    // Version 1 data pages compress repetition and definition levels with the values; in
    // version 2 pages they stay raw and cost more than the values of most columns here.
    let mut builder = WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_compression(zstd)
        .set_max_row_group_row_count(None)
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_write_batch_size(1024)
        .set_statistics_enabled(EnabledStatistics::None)
        .set_created_by(format!("kiseki block format {FORMAT_VERSION}"));
    for column in parquet_schema.columns() {
        let path = column.path().clone();
        let leaf = path.parts().last().cloned().unwrap_or_default();
        let top = path.parts().first().cloned().unwrap_or_default();
        let (top, leaf) = (top.as_str(), leaf.as_str());
        builder = match (top, leaf) {
            // The page index of the trace id lets a lookup decode only the pages of one trace.
            (TRACE_ID, _) => builder
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_statistics_enabled(path, EnabledStatistics::Page),
            (SPAN_ID | PARENT_SPAN_ID, _) => builder
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_compression(path, Compression::UNCOMPRESSED),
            // Times are near-random in their low bytes: split into byte planes, zstd squeezes
            // the mostly-zero high planes.
            (TRACE_START | START_GAP | DURATION, _) | (EVENTS, event::OFFSET) => builder
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path, Encoding::BYTE_STREAM_SPLIT),
            (ATTRIBUTES | LINKS | DROPPED, _) | (EVENTS, event::ATTRIBUTES) => {
                builder.set_column_dictionary_enabled(path, false)
            }
            _ => builder,
        };
    }
    builder.build()
}
