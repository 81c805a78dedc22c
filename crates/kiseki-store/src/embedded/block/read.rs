//! Reads a block's data file: loads the column chunks a read needs, checks them against the
//! checksums in the block index, and decodes rows back into spans.
//!
//! Nothing is decoded before its bytes are verified, so a corrupted file is an error, never a
//! panic or a wrong span.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, UInt32Type, UInt64Type};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, DictionaryArray, FixedSizeBinaryArray, Int32Array,
    Int64Array, ListArray, PrimitiveArray, RecordBatch, StringArray, StructArray, UInt32Array,
    UInt64Array,
};
use bytes::{Buf, Bytes};
use kiseki_model::{
    AnyValue, Attributes, Event, KeyValue, Span, SpanId, SpanKind, Status, StatusCode, Str, TraceId,
};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
    RowFilter, RowSelection,
};
use parquet::file::metadata::PageIndexPolicy;
use parquet::file::reader::{ChunkReader, Length};

use super::BlockError;
use super::index::{BlockIndex, Checksummed, xxh64};
use super::schema::{self, DedicatedType, EventBits, REMOTE_PARENT, ROOT, SpanBits};
use super::shape::Slot;
use super::values::{Corrupt, Reader};

/// Byte ranges of the data file read into memory and verified; serves Parquet's reads.
pub struct LoadedRanges {
    file_len: u64,
    /// Sorted by start, not overlapping.
    ranges: Vec<(u64, Bytes)>,
}

impl LoadedRanges {
    fn find(&self, start: u64, len: u64) -> parquet::errors::Result<Bytes> {
        let i = self.ranges.partition_point(|(s, _)| *s <= start);
        let found = i.checked_sub(1).and_then(|i| self.ranges.get(i)).and_then(|(s, bytes)| {
            let from = usize::try_from(start - s).ok()?;
            let to = from.checked_add(usize::try_from(len).ok()?)?;
            (to <= bytes.len()).then(|| bytes.slice(from..to))
        });
        found.ok_or_else(|| {
            parquet::errors::ParquetError::General(format!(
                "read of {len} bytes at {start} outside the verified ranges"
            ))
        })
    }
}

impl Length for LoadedRanges {
    fn len(&self) -> u64 {
        self.file_len
    }
}

impl ChunkReader for LoadedRanges {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        let i = self.ranges.partition_point(|(s, _)| *s <= start);
        let (s, bytes) = i.checked_sub(1).and_then(|i| self.ranges.get(i)).ok_or_else(|| {
            parquet::errors::ParquetError::General(format!(
                "read at {start} outside the verified ranges"
            ))
        })?;
        let len = (bytes.len() as u64).saturating_sub(start - s);
        Ok(self.find(start, len)?.reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.find(start, length as u64)
    }
}

fn read_at(file: &File, start: u64, buffer: &mut [u8]) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buffer, start)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = file.try_clone()?;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(buffer)
    }
}

/// Reads one range and checks its checksum.
fn load_verified(file: &File, range: &Checksummed) -> Result<Bytes, BlockError> {
    let len = usize::try_from(range.len).map_err(|_| corrupt("range longer than memory"))?;
    let mut buffer = vec![0u8; len];
    read_at(file, range.start, &mut buffer).map_err(|error| match error.kind() {
        std::io::ErrorKind::UnexpectedEof => corrupt("data file is shorter than its index says"),
        _ => BlockError::from(error),
    })?;
    if xxh64(&buffer) != range.hash {
        return Err(corrupt(format!(
            "checksum mismatch in the data file at bytes {}..{}",
            range.start,
            range.start + range.len
        )));
    }
    Ok(Bytes::from(buffer))
}

/// The root columns of the schema by what they hold.
#[derive(Debug, Clone)]
pub struct ColumnNumbers {
    pub trace_id: usize,
    pub span_id: usize,
    pub parent: usize,
    pub parent_span_id: usize,
    pub trace_start: usize,
    pub start_gap: usize,
    pub duration: usize,
    pub resource: usize,
    pub scope: usize,
    pub name: usize,
    pub span_bits: usize,
    pub status_message: usize,
    pub trace_state: usize,
    pub dropped: usize,
    pub attributes: usize,
    pub events: usize,
    pub links: usize,
    /// By index in the block's dedicated key list.
    pub dedicated: Vec<usize>,
}

/// An open data file with its verified, parsed footer.
pub struct DataFile {
    file: File,
    metadata: ArrowReaderMetadata,
    pub columns: ColumnNumbers,
    /// Leaf columns of each root column.
    leaves_of_root: Vec<Vec<usize>>,
}

impl DataFile {
    pub fn open(path: &Path, index: &BlockIndex) -> Result<Self, BlockError> {
        let file = File::open(path)?;
        let file_len = file.metadata()?.len();
        if file_len != index.data_bytes {
            return Err(corrupt(format!(
                "data file has {file_len} bytes, its index says {}",
                index.data_bytes
            )));
        }
        let footer = load_verified(&file, &index.footer)?;
        let tail = LoadedRanges { file_len, ranges: vec![(index.footer.start, footer)] };
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
        let metadata = ArrowReaderMetadata::load(&tail, options)?;
        let parquet = metadata.metadata();
        if parquet.row_groups().len() != index.row_groups.len() {
            return Err(corrupt("data file and index disagree on the row groups"));
        }
        for (group, info) in parquet.row_groups().iter().zip(&index.row_groups) {
            let ranges_match = group.columns().len() == info.chunks.len()
                && group
                    .columns()
                    .iter()
                    .zip(&info.chunks)
                    .all(|(column, chunk)| column.byte_range() == (chunk.start, chunk.len));
            if !ranges_match || u64::try_from(group.num_rows()).ok() != Some(info.rows) {
                return Err(corrupt("data file and index disagree on a row group"));
            }
        }
        let schema = metadata.schema();
        let number = |name: &str| {
            schema.index_of(name).map_err(|_| corrupt(format!("data file has no column {name}")))
        };
        let columns = ColumnNumbers {
            trace_id: number(schema::TRACE_ID)?,
            span_id: number(schema::SPAN_ID)?,
            parent: number(schema::PARENT)?,
            parent_span_id: number(schema::PARENT_SPAN_ID)?,
            trace_start: number(schema::TRACE_START)?,
            start_gap: number(schema::START_GAP)?,
            duration: number(schema::DURATION)?,
            resource: number(schema::RESOURCE)?,
            scope: number(schema::SCOPE)?,
            name: number(schema::NAME)?,
            span_bits: number(schema::SPAN_BITS)?,
            status_message: number(schema::STATUS_MESSAGE)?,
            trace_state: number(schema::TRACE_STATE)?,
            dropped: number(schema::DROPPED)?,
            attributes: number(schema::ATTRIBUTES)?,
            events: number(schema::EVENTS)?,
            links: number(schema::LINKS)?,
            dedicated: index
                .dedicated
                .iter()
                .map(|(key, _)| number(&schema::dedicated_column(key)))
                .collect::<Result<_, _>>()?,
        };
        let descriptor = metadata.parquet_schema();
        let mut leaves_of_root = vec![Vec::new(); schema.fields().len()];
        for leaf in 0..descriptor.num_columns() {
            let root = descriptor.get_column_root_idx(leaf);
            leaves_of_root.get_mut(root).ok_or_else(|| corrupt("schema mismatch"))?.push(leaf);
        }
        Ok(Self { file, metadata, columns, leaves_of_root })
    }

    pub fn metadata(&self) -> &ArrowReaderMetadata {
        &self.metadata
    }

    /// Every root column.
    pub fn all_columns(&self) -> Vec<usize> {
        (0..self.leaves_of_root.len()).collect()
    }

    /// Reads and verifies every chunk of one row group.
    pub fn load_all(&self, index: &BlockIndex, group: usize) -> Result<LoadedRanges, BlockError> {
        self.load(index, group, &self.all_columns())
    }

    /// Reads and verifies the chunks of `roots` in one row group.
    fn load(
        &self,
        index: &BlockIndex,
        group: usize,
        roots: &[usize],
    ) -> Result<LoadedRanges, BlockError> {
        let info = index.row_groups.get(group).ok_or_else(|| corrupt("no such row group"))?;
        let mut leaves: Vec<usize> =
            roots.iter().filter_map(|&r| self.leaves_of_root.get(r)).flatten().copied().collect();
        leaves.sort_unstable();
        leaves.dedup();
        let mut ranges = Vec::with_capacity(leaves.len());
        for leaf in leaves {
            let chunk = info.chunks.get(leaf).ok_or_else(|| corrupt("no such column chunk"))?;
            ranges.push((chunk.start, load_verified(&self.file, chunk)?));
        }
        ranges.sort_unstable_by_key(|(start, _)| *start);
        Ok(LoadedRanges { file_len: index.data_bytes, ranges })
    }

    /// Reads `roots` of one row group, optionally only selected rows and only the rows of some
    /// traces.
    pub fn read(
        &self,
        index: &BlockIndex,
        group: usize,
        roots: &[usize],
        selection: Option<RowSelection>,
        only_traces: Option<&[TraceId]>,
    ) -> Result<Vec<RecordBatch>, BlockError> {
        let mut roots = roots.to_vec();
        roots.sort_unstable();
        roots.dedup();
        let mut load_roots = roots.clone();
        if only_traces.is_some() {
            load_roots.push(self.columns.trace_id);
        }
        let loaded = self.load(index, group, &load_roots)?;
        let descriptor = self.metadata.parquet_schema();
        let rows = index.row_groups[group].rows as usize;
        let mut builder =
            ParquetRecordBatchReaderBuilder::new_with_metadata(loaded, self.metadata.clone())
                .with_row_groups(vec![group])
                .with_projection(ProjectionMask::roots(descriptor, roots.iter().copied()))
                .with_batch_size(rows.max(1));
        if let Some(selection) = selection {
            builder = builder.with_row_selection(selection);
        }
        if let Some(trace_ids) = only_traces {
            let mut wanted: Vec<[u8; 16]> = trace_ids.iter().map(|id| id.to_bytes()).collect();
            wanted.sort_unstable();
            let mask = ProjectionMask::roots(descriptor, [self.columns.trace_id]);
            let predicate = ArrowPredicateFn::new(mask, move |batch: RecordBatch| {
                let ids = batch.column(0).as_fixed_size_binary();
                Ok(BooleanArray::from_iter(ids.iter().map(|id| {
                    Some(id.is_some_and(|id| wanted.binary_search_by(|w| w[..].cmp(id)).is_ok()))
                })))
            });
            builder = builder.with_row_filter(RowFilter::new(vec![Box::new(predicate)]));
        }
        let reader = builder.build()?;
        let mut batches = Vec::new();
        for batch in reader {
            batches.push(batch?);
        }
        Ok(batches)
    }

    /// Pages of one row group that may hold `trace_id`, by the page index of the trace id.
    pub fn pages_with_trace(&self, group: usize, trace_id: TraceId) -> Option<RowSelection> {
        let parquet = self.metadata.metadata();
        let leaf = *self.leaves_of_root.get(self.columns.trace_id)?.first()?;
        let page_index = parquet.page_index_for_row_group(group);
        let column_index = page_index.column_index(leaf)?;
        let offsets = page_index.offset_index(leaf)?;
        let parquet::file::page_index::column_index::ColumnIndexMetaData::FIXED_LEN_BYTE_ARRAY(
            column_index,
        ) = column_index
        else {
            return None;
        };
        let rows = usize::try_from(parquet.row_group(group).num_rows()).ok()?;
        let wanted = trace_id.to_bytes();
        let locations = offsets.page_locations();
        let mut ranges = Vec::new();
        for (page, location) in locations.iter().enumerate() {
            let (Some(min), Some(max)) =
                (column_index.min_value(page), column_index.max_value(page))
            else {
                return None;
            };
            if min <= &wanted[..] && &wanted[..] <= max {
                let start = usize::try_from(location.first_row_index).ok()?;
                let end = match locations.get(page + 1) {
                    Some(next) => usize::try_from(next.first_row_index).ok()?,
                    None => rows,
                };
                ranges.push(start..end.max(start));
            }
        }
        Some(RowSelection::from_consecutive_ranges(ranges.into_iter(), rows))
    }
}

pub fn corrupt(what: impl Into<String>) -> BlockError {
    BlockError::Corrupt(what.into())
}

fn column<'a, T: 'static>(
    batch: &'a RecordBatch,
    index: usize,
    what: &str,
) -> Result<&'a T, BlockError> {
    batch
        .column(index)
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| corrupt(format!("column {what} has an unexpected type")))
}

/// A dictionary-encoded text column with its values turned into [`Str`] once.
pub struct TextColumn<'a> {
    keys: &'a Int32Array,
    values: Vec<Str>,
}

impl<'a> TextColumn<'a> {
    pub fn new(array: &'a ArrayRef, what: &str) -> Result<Self, BlockError> {
        let dictionary = array
            .as_any()
            .downcast_ref::<DictionaryArray<Int32Type>>()
            .ok_or_else(|| corrupt(format!("column {what} is not a dictionary")))?;
        let values = dictionary
            .values()
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| corrupt(format!("column {what} has no text dictionary")))?;
        let values = values.iter().map(|v| Str::new(v.unwrap_or_default())).collect();
        Ok(Self { keys: dictionary.keys(), values })
    }

    /// The text of a row; `None` for a null.
    pub fn get(&self, row: usize) -> Result<Option<&Str>, BlockError> {
        if self.keys.is_null(row) {
            return Ok(None);
        }
        let key = usize::try_from(self.keys.value(row))
            .map_err(|_| corrupt("negative dictionary key"))?;
        self.values.get(key).map(Some).ok_or_else(|| corrupt("dictionary key out of range"))
    }

    pub fn text(&self, row: usize) -> Result<Str, BlockError> {
        Ok(self.get(row)?.cloned().unwrap_or_default())
    }

    /// The key of a row, for comparing rows without looking at the text.
    pub fn key(&self, row: usize) -> Option<i32> {
        (!self.keys.is_null(row)).then(|| self.keys.value(row))
    }

    pub fn values(&self) -> &[Str] {
        &self.values
    }
}

/// The trace id of a row.
pub fn trace_id_at(ids: &FixedSizeBinaryArray, row: usize) -> Result<TraceId, BlockError> {
    let bytes: [u8; 16] =
        ids.value(row).try_into().map_err(|_| corrupt("trace id of the wrong width"))?;
    TraceId::from_bytes(bytes).ok_or_else(|| corrupt("zero trace id"))
}

/// The columns of a full-projection batch, typed.
struct SpanColumns<'a> {
    trace_id: &'a FixedSizeBinaryArray,
    span_id: &'a UInt64Array,
    parent: &'a Int32Array,
    parent_span_id: &'a UInt64Array,
    trace_start: &'a UInt64Array,
    start_gap: &'a Int64Array,
    duration: &'a Int64Array,
    resource: &'a UInt32Array,
    scope: &'a UInt32Array,
    name: TextColumn<'a>,
    span_bits: &'a UInt64Array,
    status_message: TextColumn<'a>,
    trace_state: TextColumn<'a>,
    dropped: &'a BinaryArray,
    attributes: &'a BinaryArray,
    events: &'a ListArray,
    event_offset: &'a Int64Array,
    event_name: TextColumn<'a>,
    event_bits: &'a UInt64Array,
    event_attributes: &'a BinaryArray,
    links: &'a BinaryArray,
    dedicated: Vec<DedicatedValues<'a>>,
}

pub enum DedicatedValues<'a> {
    Str(TextColumn<'a>),
    Int(&'a Int64Array),
}

impl<'a> DedicatedValues<'a> {
    pub fn new(array: &'a ArrayRef, kind: DedicatedType, what: &str) -> Result<Self, BlockError> {
        Ok(match kind {
            DedicatedType::Str => DedicatedValues::Str(TextColumn::new(array, what)?),
            DedicatedType::Int => DedicatedValues::Int(
                array
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .ok_or_else(|| corrupt(format!("column {what} is not integers")))?,
            ),
        })
    }

    pub fn value(&self, row: usize) -> Result<Option<AnyValue>, BlockError> {
        Ok(match self {
            DedicatedValues::Str(text) => text.get(row)?.map(|s| AnyValue::Str(s.clone())),
            DedicatedValues::Int(ints) => {
                (!ints.is_null(row)).then(|| AnyValue::Int(ints.value(row)))
            }
        })
    }
}

fn typed<'a, T: arrow_array::types::ArrowPrimitiveType>(
    batch: &'a RecordBatch,
    index: usize,
    what: &str,
) -> Result<&'a PrimitiveArray<T>, BlockError> {
    column::<PrimitiveArray<T>>(batch, index, what)
}

impl<'a> SpanColumns<'a> {
    fn new(
        batch: &'a RecordBatch,
        c: &ColumnNumbers,
        index: &BlockIndex,
    ) -> Result<Self, BlockError> {
        let events = column::<ListArray>(batch, c.events, "events")?;
        let event_struct = events
            .values()
            .as_any()
            .downcast_ref::<StructArray>()
            .ok_or_else(|| corrupt("events are not structs"))?;
        let event_child = |name: &str| -> Result<&'a ArrayRef, BlockError> {
            event_struct
                .column_by_name(name)
                .ok_or_else(|| corrupt(format!("events have no {name}")))
        };
        Ok(Self {
            trace_id: column(batch, c.trace_id, "trace_id")?,
            span_id: typed::<UInt64Type>(batch, c.span_id, "span_id")?,
            parent: typed::<Int32Type>(batch, c.parent, "parent")?,
            parent_span_id: typed::<UInt64Type>(batch, c.parent_span_id, "parent_span_id")?,
            trace_start: typed::<UInt64Type>(batch, c.trace_start, "trace_start")?,
            start_gap: typed::<Int64Type>(batch, c.start_gap, "start_gap")?,
            duration: typed::<Int64Type>(batch, c.duration, "duration")?,
            resource: typed::<UInt32Type>(batch, c.resource, "resource")?,
            scope: typed::<UInt32Type>(batch, c.scope, "scope")?,
            name: TextColumn::new(batch.column(c.name), "name")?,
            span_bits: typed::<UInt64Type>(batch, c.span_bits, "span_bits")?,
            status_message: TextColumn::new(batch.column(c.status_message), "status_message")?,
            trace_state: TextColumn::new(batch.column(c.trace_state), "trace_state")?,
            dropped: column(batch, c.dropped, "dropped")?,
            attributes: column(batch, c.attributes, "attributes")?,
            events,
            event_offset: event_child(schema::event::OFFSET)?
                .as_any()
                .downcast_ref()
                .ok_or_else(|| corrupt("event offset"))?,
            event_name: TextColumn::new(event_child(schema::event::NAME)?, "event name")?,
            event_bits: event_child(schema::event::BITS)?
                .as_any()
                .downcast_ref()
                .ok_or_else(|| corrupt("event bits"))?,
            event_attributes: event_child(schema::event::ATTRIBUTES)?
                .as_any()
                .downcast_ref()
                .ok_or_else(|| corrupt("event attributes"))?,
            links: column(batch, c.links, "links")?,
            dedicated: index
                .dedicated
                .iter()
                .zip(&c.dedicated)
                .map(|((key, kind), &i)| DedicatedValues::new(batch.column(i), *kind, key))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// Turns rows (whole traces, in block order) back into spans.
pub struct SpanDecoder<'i> {
    index: &'i BlockIndex,
    /// The trace being decoded, with the parent row of each span.
    current: Vec<(Span, i32)>,
    previous_start: u64,
}

impl<'i> SpanDecoder<'i> {
    pub fn new(index: &'i BlockIndex) -> Self {
        Self { index, current: Vec::new(), previous_start: 0 }
    }

    /// Decodes every row of `batch`, handing each finished trace to `emit`. Call
    /// [`Self::finish`] after the last batch for the last trace.
    pub fn decode(
        &mut self,
        batch: &RecordBatch,
        columns: &ColumnNumbers,
        emit: &mut dyn FnMut(Vec<Span>) -> Result<(), BlockError>,
    ) -> Result<(), BlockError> {
        let c = SpanColumns::new(batch, columns, self.index)?;
        let event_offsets = c.events.value_offsets();
        for row in 0..batch.num_rows() {
            let trace_id = trace_id_at(c.trace_id, row)?;
            let trace_start = (!c.trace_start.is_null(row)).then(|| c.trace_start.value(row));
            if let Some(trace_start) = trace_start {
                if let Some(done) = self.take_trace()? {
                    emit(done)?;
                }
                self.previous_start = trace_start;
            } else if self.current.first().is_none_or(|(first, _)| first.trace_id != trace_id) {
                return Err(corrupt("a trace's first row has no trace start"));
            }
            let start = self.previous_start.wrapping_add(c.start_gap.value(row) as u64);
            self.previous_start = start;
            let end = start.wrapping_add(c.duration.value(row) as u64);
            let span_id =
                SpanId::new(c.span_id.value(row)).ok_or_else(|| corrupt("zero span id"))?;
            let mut span = Span::new(trace_id, span_id);
            let parent = c.parent.value(row);
            if parent == REMOTE_PARENT {
                span.parent_span_id = (!c.parent_span_id.is_null(row))
                    .then(|| SpanId::new(c.parent_span_id.value(row)))
                    .flatten();
                if span.parent_span_id.is_none() {
                    return Err(corrupt("remote parent without a span id"));
                }
            } else if parent != ROOT && parent < 0 {
                return Err(corrupt("negative parent row"));
            }
            span.start_time_unix_nano = start;
            span.end_time_unix_nano = end;
            let bits =
                SpanBits::unpack(c.span_bits.value(row)).ok_or_else(|| corrupt("bad span bits"))?;
            span.trace_state = c.trace_state.text(row)?;
            span.flags = bits.flags;
            span.name = c.name.text(row)?;
            span.kind = SpanKind::from_number(i64::from(bits.kind))
                .ok_or_else(|| corrupt("unknown span kind"))?;
            span.status = Status {
                code: StatusCode::from_number(i64::from(bits.status_code))
                    .ok_or_else(|| corrupt("unknown status code"))?,
                message: c.status_message.text(row)?,
            };
            if !c.dropped.is_null(row) {
                let mut reader = Reader::new(c.dropped.value(row));
                span.dropped_attributes_count = reader.varint_u32().map_err(from_corrupt)?;
                span.dropped_events_count = reader.varint_u32().map_err(from_corrupt)?;
                span.dropped_links_count = reader.varint_u32().map_err(from_corrupt)?;
                reader.finish("dropped counts").map_err(from_corrupt)?;
            }
            span.resource = Arc::clone(
                self.index
                    .resources
                    .get(c.resource.value(row) as usize)
                    .ok_or_else(|| corrupt("resource out of range"))?,
            );
            span.scope = Arc::clone(
                self.index
                    .scopes
                    .get(c.scope.value(row) as usize)
                    .ok_or_else(|| corrupt("scope out of range"))?,
            );
            span.attributes =
                self.attributes(bits.shape, c.attributes.value(row), Some((&c.dedicated, row)))?;
            let (from, to) = (event_offsets[row] as usize, event_offsets[row + 1] as usize);
            span.events.reserve(to.saturating_sub(from));
            for e in from..to {
                let offset = c.event_offset.value(e) as u64;
                let bits = EventBits::unpack(c.event_bits.value(e))
                    .ok_or_else(|| corrupt("bad event bits"))?;
                let time_unix_nano = if bits.from_end {
                    end.wrapping_sub(offset)
                } else {
                    start.wrapping_add(offset)
                };
                span.events.push(Event {
                    time_unix_nano,
                    name: c.event_name.text(e)?,
                    attributes: self.attributes(bits.shape, c.event_attributes.value(e), None)?,
                    dropped_attributes_count: bits.dropped_attributes,
                });
            }
            if !c.links.is_null(row) {
                let mut reader = Reader::new(c.links.value(row));
                span.links = reader.links().map_err(from_corrupt)?;
                reader.finish("links").map_err(from_corrupt)?;
            }
            self.current.push((span, parent));
        }
        Ok(())
    }

    /// Rebuilds an attribute list from its shape, packed values and dedicated columns.
    fn attributes(
        &self,
        shape: Option<u32>,
        packed: &[u8],
        dedicated: Option<(&[DedicatedValues<'_>], usize)>,
    ) -> Result<Attributes, BlockError> {
        let mut reader = Reader::new(packed);
        let Some(shape) = shape else {
            let entries = reader.key_values().map_err(from_corrupt)?;
            reader.finish("attributes").map_err(from_corrupt)?;
            return Ok(Attributes(entries));
        };
        let shape =
            self.index.shapes.get(shape as usize).ok_or_else(|| corrupt("shape out of range"))?;
        let mut entries = Vec::with_capacity(shape.entries.len());
        for (key, slot) in &shape.entries {
            let value = match *slot {
                Slot::Generic(tag) => reader.payload(tag).map_err(from_corrupt)?,
                Slot::Dedicated(i) => {
                    let (columns, row) =
                        dedicated.ok_or_else(|| corrupt("dedicated slot in an event"))?;
                    let column = columns
                        .get(usize::from(i))
                        .ok_or_else(|| corrupt("no such dedicated column"))?;
                    column.value(row)?.ok_or_else(|| corrupt("dedicated value missing"))?
                }
            };
            entries.push(KeyValue { key: key.clone(), value });
        }
        reader.finish("attributes").map_err(from_corrupt)?;
        Ok(Attributes(entries))
    }

    /// The trace decoded so far, with parents filled in.
    fn take_trace(&mut self) -> Result<Option<Vec<Span>>, BlockError> {
        if self.current.is_empty() {
            return Ok(None);
        }
        let ids: Vec<SpanId> = self.current.iter().map(|(span, _)| span.span_id).collect();
        let mut spans = Vec::with_capacity(self.current.len());
        for (mut span, parent) in self.current.drain(..) {
            if parent >= 0 {
                let parent_id =
                    ids.get(parent as usize).ok_or_else(|| corrupt("parent row out of range"))?;
                span.parent_span_id = Some(*parent_id);
            }
            spans.push(span);
        }
        Ok(Some(spans))
    }

    /// The last trace.
    pub fn finish(mut self) -> Result<Option<Vec<Span>>, BlockError> {
        self.take_trace()
    }
}

pub fn from_corrupt(Corrupt(what): Corrupt) -> BlockError {
    BlockError::Corrupt(what)
}
