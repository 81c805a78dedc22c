//! The columns of a block's Parquet file and how each is encoded.
//!
//! One row per span, sorted by trace id and then start time. What repeats inside a trace is
//! written relative to the trace: the parent as the row of the parent within the trace, the
//! start as the gap to the previous span's start, the trace's start once. Resources, scopes
//! and attribute key lists ("shapes") live in per-block tables in the block index, and a row
//! points into them. Hot attributes get dedicated typed columns; the values of the remaining
//! attributes are packed into one binary column in the order their shape lists them.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::types::{ColumnPath, SchemaDescriptor};

/// The version of the block layout (Parquet columns and index file) this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Spans per row group, reached at the next trace boundary; a trace never spans row groups.
pub const ROW_GROUP_ROWS: usize = 65_536;
/// Rows per data page: small enough that a trace-by-id read decodes little, large enough to
/// compress well.
pub const PAGE_ROWS: usize = 8_192;
/// The zstd level of every compressed column.
pub const ZSTD_LEVEL: i32 = 3;

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
pub const KIND: &str = "kind";
pub const STATUS_CODE: &str = "status_code";
pub const STATUS_MESSAGE: &str = "status_message";
pub const FLAGS: &str = "flags";
pub const TRACE_STATE: &str = "trace_state";
pub const DROPPED_ATTRIBUTES: &str = "dropped_attributes";
pub const DROPPED_EVENTS: &str = "dropped_events";
pub const DROPPED_LINKS: &str = "dropped_links";
/// Index into the block's shape table; null when the keys are written inline.
pub const SHAPE: &str = "shape";
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
    /// Whether `offset` counts back from the span's end rather than on from its start.
    pub const FROM_END: &str = "from_end";
    pub const OFFSET: &str = "offset";
    pub const NAME: &str = "name";
    pub const SHAPE: &str = "shape";
    pub const ATTRIBUTES: &str = "attributes";
    pub const DROPPED: &str = "dropped";
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
        Field::new(event::FROM_END, DataType::Boolean, false),
        Field::new(event::OFFSET, DataType::Int64, false),
        Field::new(event::NAME, dictionary_utf8(), false),
        Field::new(event::SHAPE, DataType::UInt32, true),
        Field::new(event::ATTRIBUTES, DataType::Binary, false),
        Field::new(event::DROPPED, DataType::UInt32, false),
    ])
}

pub fn event_list_field() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Struct(event_fields()), false))
}

/// The Arrow schema of a block with dedicated columns for `dedicated` keys.
pub fn arrow_schema(dedicated: &[(String, DedicatedType)]) -> SchemaRef {
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
        Field::new(KIND, DataType::UInt8, false),
        Field::new(STATUS_CODE, DataType::UInt8, false),
        Field::new(STATUS_MESSAGE, dictionary_utf8(), false),
        Field::new(FLAGS, DataType::UInt32, false),
        Field::new(TRACE_STATE, dictionary_utf8(), false),
        Field::new(DROPPED_ATTRIBUTES, DataType::UInt32, false),
        Field::new(DROPPED_EVENTS, DataType::UInt32, false),
        Field::new(DROPPED_LINKS, DataType::UInt32, false),
        Field::new(SHAPE, DataType::UInt32, true),
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
    let mut builder = WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_2_0)
        .set_compression(zstd)
        .set_max_row_group_row_count(None)
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_write_batch_size(1024)
        .set_statistics_enabled(EnabledStatistics::None)
        .set_created_by(format!("kiseki block format {FORMAT_VERSION}"));
    for column in parquet_schema.columns() {
        let path = column.path().clone();
        let leaf = path.parts().last().map(String::as_str).unwrap_or_default();
        let top = path.parts().first().map(String::as_str).unwrap_or_default();
        builder = match (top, leaf) {
            // The page index of the trace id lets a lookup decode only the pages of one trace.
            (TRACE_ID, _) => builder
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_statistics_enabled(path, EnabledStatistics::Page),
            (SPAN_ID | PARENT_SPAN_ID, _) => builder
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_compression(path, Compression::UNCOMPRESSED),
            (TRACE_START | START_GAP | DURATION | ATTRIBUTES | LINKS, _)
            | (EVENTS, event::OFFSET | event::ATTRIBUTES) => {
                builder.set_column_dictionary_enabled(path, false)
            }
            _ => builder,
        };
    }
    builder.build()
}

/// The path of a top-level column, for properties set by name.
pub fn column_path(name: &str) -> ColumnPath {
    ColumnPath::new(vec![name.to_string()])
}
