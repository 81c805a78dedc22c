//! Writes a block: takes whole traces in trace-id order, turns them into the columns of
//! [`schema`](super::schema) one row group at a time, and gathers the block index on the way.
//! Memory stays at one row group of columns, whatever the block's size.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use arrow_array::types::{ArrowPrimitiveType, Int32Type, Int64Type, UInt64Type};
use arrow_array::{
    ArrayRef, BinaryArray, DictionaryArray, FixedSizeBinaryArray, Int32Array, Int64Array,
    ListArray, PrimitiveArray, RecordBatch, StringArray, StructArray, UInt32Array, UInt64Array,
};
use arrow_buffer::{ArrowNativeType, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::SchemaRef;
use kiseki_model::{AnyValue, KeyValue, Resource, Scope, Span, Str, TraceId};
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter};
use parquet::file::metadata::KeyValue as ParquetKeyValue;
use rustc_hash::FxHashMap;

use super::BlockError;
use super::bloom::TraceBloom;
use super::catalog::{BlockCatalog, CatalogBuilder};
use super::index::{BlockIndex, Checksummed, RowGroupInfo, xxh64};
use super::schema::{
    self, DedicatedType, EventBits, REMOTE_PARENT, ROOT, ROW_GROUP_ROWS, SpanBits,
};
use super::shape::{ShapeTable, Slot};
use super::values::{put_key_values, put_links, put_payload, put_resource, put_scope, put_varint};

/// A row group is also cut when its packed values pass this many bytes.
const ROW_GROUP_BYTES: usize = 128 << 20;

/// Numbers distinct resources or scopes: by pointer first (spans of one batch share them),
/// then by content.
pub(super) struct Interner<T> {
    /// Holding the `Arc` keeps the address from being reused by another value.
    by_pointer: FxHashMap<usize, (Arc<T>, u32)>,
    by_content: FxHashMap<Vec<u8>, u32>,
    items: Vec<Arc<T>>,
    scratch: Vec<u8>,
}

impl<T> Interner<T> {
    fn new() -> Self {
        Self {
            by_pointer: FxHashMap::default(),
            by_content: FxHashMap::default(),
            items: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// The number of `item`, and whether it is new.
    pub(super) fn number(&mut self, item: &Arc<T>, encode: fn(&mut Vec<u8>, &T)) -> (u32, bool) {
        let pointer = Arc::as_ptr(item) as usize;
        if let Some((_, index)) = self.by_pointer.get(&pointer) {
            return (*index, false);
        }
        self.scratch.clear();
        encode(&mut self.scratch, item);
        let (index, new) = match self.by_content.get(&self.scratch) {
            Some(&index) => (index, false),
            None => {
                let index = self.items.len() as u32;
                self.by_content.insert(self.scratch.clone(), index);
                self.items.push(Arc::clone(item));
                (index, true)
            }
        };
        self.by_pointer.insert(pointer, (Arc::clone(item), index));
        (index, new)
    }
}

/// Empties a column buffer, leaving one as large for the next row group (they are all alike).
fn take_vec<T>(buffer: &mut Vec<T>) -> Vec<T> {
    let capacity = buffer.len();
    std::mem::replace(buffer, Vec::with_capacity(capacity))
}

/// Values of a nullable primitive column, kept apart from their validity so that the Arrow
/// array takes both buffers as they are.
pub(super) struct Nullable<T> {
    values: Vec<T>,
    valid: Vec<bool>,
}

impl<T> Default for Nullable<T> {
    fn default() -> Self {
        Self { values: Vec::new(), valid: Vec::new() }
    }
}

impl<T: ArrowNativeType> Nullable<T> {
    pub(super) fn push(&mut self, value: Option<T>) {
        self.values.push(value.unwrap_or_default());
        self.valid.push(value.is_some());
    }

    fn take<A: ArrowPrimitiveType<Native = T>>(&mut self) -> PrimitiveArray<A> {
        let nulls = NullBuffer::from(take_vec(&mut self.valid));
        let nulls = (nulls.null_count() > 0).then_some(nulls);
        // One validity flag was pushed with every value, so the lengths agree.
        PrimitiveArray::new(ScalarBuffer::from(take_vec(&mut self.values)), nulls)
    }
}

/// Strings of one column numbered in a per-row-group dictionary.
#[derive(Default)]
pub(super) struct DictColumn {
    numbers: FxHashMap<Str, i32>,
    values: Vec<Str>,
    keys: Nullable<i32>,
    /// The key of the last row; `None` when there is none or it is null.
    last: Option<i32>,
    /// Per value: the attribute shape last seen on a row with it, plus one (0 for none).
    shape_hints: Vec<u32>,
}

impl DictColumn {
    /// Appends `text`; returns its key.
    pub(super) fn push(&mut self, text: &Str) -> i32 {
        // Most rows repeat the previous row's text (or an empty one): skip the hash then.
        if let Some(last) = self.last
            && self.values[last as usize] == *text
        {
            self.keys.push(Some(last));
            return last;
        }
        let key = match self.numbers.get(text.as_str()) {
            Some(&key) => key,
            None => {
                let key = self.values.len() as i32;
                self.numbers.insert(text.clone(), key);
                self.values.push(text.clone());
                key
            }
        };
        self.keys.push(Some(key));
        self.last = Some(key);
        key
    }

    fn push_null(&mut self) {
        self.keys.push(None);
        self.last = None;
    }

    /// The shape last recorded for rows with the value of `key`.
    fn shape_hint(&self, key: i32) -> Option<u32> {
        self.shape_hints.get(key as usize).and_then(|&hint| hint.checked_sub(1))
    }

    fn set_shape_hint(&mut self, key: i32, shape: Option<u32>) {
        let Some(shape) = shape else { return };
        let index = key as usize;
        if self.shape_hints.len() <= index {
            self.shape_hints.resize(index + 1, 0);
        }
        self.shape_hints[index] = shape.saturating_add(1);
    }

    fn take(&mut self) -> ArrayRef {
        let keys: Int32Array = self.keys.take();
        self.last = None;
        let values = StringArray::from_iter_values(self.values.drain(..));
        self.numbers.clear();
        self.shape_hints.clear();
        // Keys were handed out below `values.len()`, so the dictionary is valid.
        Arc::new(DictionaryArray::<Int32Type>::new(keys, Arc::new(values)))
    }
}

/// Values of a binary column.
#[derive(Default)]
pub(super) struct BinaryColumn {
    offsets: Vec<i32>,
    pub(super) data: Vec<u8>,
    nulls: Option<Vec<bool>>,
}

impl BinaryColumn {
    fn nullable() -> Self {
        Self { nulls: Some(Vec::new()), ..Self::default() }
    }

    /// Ends the current value (the bytes appended to `data` since the last call).
    pub(super) fn end_value(&mut self, valid: bool) -> Result<(), BlockError> {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        let end = i32::try_from(self.data.len())
            .map_err(|_| BlockError::TooLarge("more than 2 GiB of attributes in one row group"))?;
        self.offsets.push(end);
        if let Some(nulls) = &mut self.nulls {
            nulls.push(valid);
        }
        Ok(())
    }

    fn take(&mut self) -> ArrayRef {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        let offsets = OffsetBuffer::new(ScalarBuffer::from(take_vec(&mut self.offsets)));
        let data = Buffer::from_vec(take_vec(&mut self.data));
        let nulls = self.nulls.as_mut().map(|nulls| std::mem::take(nulls).into());
        // Offsets start at zero, only grow, and end at `data.len()`.
        Arc::new(BinaryArray::new(offsets, data, nulls))
    }
}

/// A dedicated attribute column under construction.
pub(super) enum DedicatedColumn {
    Str(DictColumn),
    Int(Nullable<i64>),
}

/// The columns of the row group being built.
pub(super) struct Columns {
    pub(super) trace_id: Vec<u8>,
    pub(super) span_id: Vec<u64>,
    pub(super) parent: Vec<i32>,
    pub(super) parent_span_id: Nullable<u64>,
    pub(super) trace_start: Nullable<u64>,
    pub(super) start_gap: Vec<i64>,
    pub(super) duration: Vec<i64>,
    pub(super) resource: Vec<u32>,
    pub(super) scope: Vec<u32>,
    pub(super) name: DictColumn,
    pub(super) span_bits: Vec<u64>,
    pub(super) status_message: DictColumn,
    pub(super) trace_state: DictColumn,
    pub(super) dropped: BinaryColumn,
    pub(super) attributes: BinaryColumn,
    pub(super) event_offsets: Vec<i32>,
    pub(super) event_offset: Vec<i64>,
    pub(super) event_name: DictColumn,
    pub(super) event_bits: Vec<u64>,
    pub(super) event_attributes: BinaryColumn,
    pub(super) links: BinaryColumn,
    pub(super) dedicated: Vec<DedicatedColumn>,
}

impl Columns {
    fn new(dedicated: &[(Str, DedicatedType)]) -> Self {
        Self {
            trace_id: Vec::new(),
            span_id: Vec::new(),
            parent: Vec::new(),
            parent_span_id: Nullable::default(),
            trace_start: Nullable::default(),
            start_gap: Vec::new(),
            duration: Vec::new(),
            resource: Vec::new(),
            scope: Vec::new(),
            name: DictColumn::default(),
            span_bits: Vec::new(),
            status_message: DictColumn::default(),
            trace_state: DictColumn::default(),
            dropped: BinaryColumn::nullable(),
            attributes: BinaryColumn::default(),
            event_offsets: vec![0],
            event_offset: Vec::new(),
            event_name: DictColumn::default(),
            event_bits: Vec::new(),
            event_attributes: BinaryColumn::default(),
            links: BinaryColumn::nullable(),
            dedicated: dedicated
                .iter()
                .map(|(_, kind)| match kind {
                    DedicatedType::Str => DedicatedColumn::Str(DictColumn::default()),
                    DedicatedType::Int => DedicatedColumn::Int(Nullable::default()),
                })
                .collect(),
        }
    }

    fn rows(&self) -> usize {
        self.span_id.len()
    }

    /// Ends a row's attributes: nulls in the dedicated columns not in `dedicated_set`.
    pub(super) fn end_attributes(&mut self, dedicated_set: u64) -> Result<(), BlockError> {
        for (index, column) in self.dedicated.iter_mut().enumerate() {
            if dedicated_set & (1 << index) == 0 {
                match column {
                    DedicatedColumn::Str(dict) => dict.push_null(),
                    DedicatedColumn::Int(ints) => ints.push(None),
                }
            }
        }
        self.attributes.end_value(true)
    }

    fn buffered_bytes(&self) -> usize {
        self.attributes.data.len() + self.event_attributes.data.len() + self.links.data.len()
    }

    /// The columns as a record batch, leaving them empty for the next row group.
    fn take_batch(&mut self, schema: &SchemaRef) -> Result<RecordBatch, BlockError> {
        let trace_ids = Buffer::from_vec(take_vec(&mut self.trace_id));
        let events = StructArray::try_new(
            schema::event_fields(),
            vec![
                Arc::new(Int64Array::from(take_vec(&mut self.event_offset))),
                self.event_name.take(),
                Arc::new(UInt64Array::from(take_vec(&mut self.event_bits))),
                self.event_attributes.take(),
            ],
            None,
        )?;
        let event_offsets = std::mem::replace(&mut self.event_offsets, vec![0]);
        let events = ListArray::try_new(
            schema::event_list_field(),
            OffsetBuffer::new(ScalarBuffer::from(event_offsets)),
            Arc::new(events),
            None,
        )?;
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(FixedSizeBinaryArray::try_new(16, trace_ids, None)?),
            Arc::new(UInt64Array::from(take_vec(&mut self.span_id))),
            Arc::new(Int32Array::from(take_vec(&mut self.parent))),
            Arc::new(self.parent_span_id.take::<UInt64Type>()),
            Arc::new(self.trace_start.take::<UInt64Type>()),
            Arc::new(Int64Array::from(take_vec(&mut self.start_gap))),
            Arc::new(Int64Array::from(take_vec(&mut self.duration))),
            Arc::new(UInt32Array::from(take_vec(&mut self.resource))),
            Arc::new(UInt32Array::from(take_vec(&mut self.scope))),
            self.name.take(),
            Arc::new(UInt64Array::from(take_vec(&mut self.span_bits))),
            self.status_message.take(),
            self.trace_state.take(),
            self.dropped.take(),
            self.attributes.take(),
            Arc::new(events),
            self.links.take(),
        ];
        for column in &mut self.dedicated {
            columns.push(match column {
                DedicatedColumn::Str(dict) => dict.take(),
                DedicatedColumn::Int(values) => Arc::new(values.take::<Int64Type>()),
            });
        }
        Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
    }
}

/// The identity and times of one span row.
#[derive(Debug, Clone, Copy)]
pub(super) struct RowTimes {
    pub trace_id: TraceId,
    pub span_id: u64,
    /// Row of the parent in the trace, [`ROOT`] or [`REMOTE_PARENT`].
    pub parent: i32,
    /// The parent's span id, kept when `parent` is [`REMOTE_PARENT`].
    pub remote_parent: Option<u64>,
    /// The trace's start, on its first row only.
    pub trace_start: Option<u64>,
    /// The start of the previous row of the trace (the trace's start on its first row).
    pub previous_start: u64,
    pub start: u64,
    pub end: u64,
    pub is_error: bool,
}

/// An event's time as stored: measured from the span's start or back from its end, whichever
/// is nearer (events come near the start, as messages sent, or at the end, as exceptions and
/// replies), so the offset is small; and whether it is measured from the end.
pub(super) fn event_offset(start: u64, end: u64, time: u64) -> (i64, bool) {
    let from_start = time.wrapping_sub(start);
    let from_end = end.wrapping_sub(time);
    let from_end_nearer = from_end < from_start;
    (if from_end_nearer { from_end } else { from_start } as i64, from_end_nearer)
}

/// Appends a span's attribute list in `shape` (`None`: inline, with its keys): values to their
/// dedicated columns and the packed values. Returns the dedicated columns given a value.
pub(super) fn push_attributes(
    c: &mut Columns,
    shapes: &ShapeTable,
    shape: Option<u32>,
    attributes: &[KeyValue],
) -> Result<u64, BlockError> {
    let mut dedicated_set: u64 = 0;
    let Some(shape) = shape else {
        put_key_values(&mut c.attributes.data, attributes);
        return Ok(dedicated_set);
    };
    let entries = &shapes.shape(shape).entries;
    for (kv, (_, slot)) in attributes.iter().zip(entries) {
        match *slot {
            Slot::Dedicated(index) => {
                dedicated_set |= 1 << index;
                push_dedicated(&mut c.dedicated, index, &kv.value)?;
            }
            Slot::Generic(_) => put_payload(&mut c.attributes.data, &kv.value),
        }
    }
    Ok(dedicated_set)
}

/// Appends `value` to dedicated column `index`.
pub(super) fn push_dedicated(
    columns: &mut [DedicatedColumn],
    index: u16,
    value: &AnyValue,
) -> Result<(), BlockError> {
    match (columns.get_mut(usize::from(index)), value) {
        (Some(DedicatedColumn::Str(dict)), AnyValue::Str(text)) => {
            dict.push(text);
        }
        (Some(DedicatedColumn::Int(ints)), AnyValue::Int(int)) => ints.push(Some(*int)),
        // The shape table only picks a dedicated slot for its type.
        _ => return Err(BlockError::Corrupt("dedicated slot of the wrong type".into())),
    }
    Ok(())
}

/// Where the rows of the current row group stand.
struct GroupStats {
    first_trace: Option<TraceId>,
    last_trace: Option<TraceId>,
    min_start: u64,
    max_start: u64,
    max_end: u64,
    min_duration: u64,
    max_duration: u64,
    error_count: u64,
}

impl GroupStats {
    fn new() -> Self {
        Self {
            first_trace: None,
            last_trace: None,
            min_start: u64::MAX,
            max_start: 0,
            max_end: 0,
            min_duration: u64::MAX,
            max_duration: 0,
            error_count: 0,
        }
    }
}

/// Streams traces into a new block's data file and builds its index.
pub struct BlockWriter {
    writer: ArrowWriter<File>,
    schema: SchemaRef,
    pub(super) columns: Columns,
    group: GroupStats,
    level: u32,
    pub(super) resources: Interner<Resource>,
    pub(super) scopes: Interner<Scope>,
    pub(super) shapes: ShapeTable,
    dedicated: Vec<(Str, DedicatedType)>,
    catalog: CatalogBuilder,
    trace_ids: Vec<TraceId>,
    row_groups: Vec<RowGroupInfo>,
    span_count: u64,
    /// Scratch for finding parents inside a trace.
    span_rows: FxHashMap<u64, i32>,
    pub(super) has_inline_shapes: bool,
    /// Catalog key numbers of the entries of each shape of span attributes (by shape number;
    /// event shapes share the numbering and stay `None`).
    shape_keys: Vec<Option<Vec<Option<u32>>>>,
}

impl BlockWriter {
    /// Starts a data file at `data_path` with dedicated columns for `dedicated` keys.
    pub fn create(
        data_path: &Path,
        level: u32,
        dedicated: Vec<(Str, DedicatedType)>,
    ) -> Result<Self, BlockError> {
        let schema = schema::arrow_schema(&dedicated);
        let parquet_schema = ArrowSchemaConverter::new().convert(&schema)?;
        let mut properties = schema::writer_properties(&parquet_schema);
        properties = properties
            .into_builder()
            .set_key_value_metadata(Some(vec![ParquetKeyValue::new(
                "kiseki.block.version".to_string(),
                schema::FORMAT_VERSION.to_string(),
            )]))
            .build();
        let writer =
            ArrowWriter::try_new(File::create(data_path)?, Arc::clone(&schema), Some(properties))?;
        Ok(Self {
            writer,
            columns: Columns::new(&dedicated),
            schema,
            group: GroupStats::new(),
            level,
            resources: Interner::new(),
            scopes: Interner::new(),
            shapes: ShapeTable::new(&dedicated),
            dedicated,
            catalog: CatalogBuilder::default(),
            trace_ids: Vec::new(),
            row_groups: Vec::new(),
            span_count: 0,
            span_rows: FxHashMap::default(),
            has_inline_shapes: false,
            shape_keys: Vec::new(),
        })
    }

    /// Appends one trace. Traces must come in increasing trace-id order, each exactly once,
    /// with its spans sorted by start time; `spans` must not be empty.
    pub fn push_trace(&mut self, spans: &[&Span]) -> Result<(), BlockError> {
        let Some(first) = spans.first() else { return Ok(()) };
        self.start_trace(first.trace_id);
        self.span_rows.clear();
        if spans.len() > 16 {
            for (row, span) in spans.iter().enumerate().rev() {
                self.span_rows.insert(span.span_id.get(), row as i32);
            }
        }
        let trace_start = first.start_time_unix_nano;
        let mut previous_start = trace_start;
        for (row, span) in spans.iter().enumerate() {
            let parent = match span.parent_span_id {
                None => ROOT,
                Some(parent) if spans.len() > 16 => {
                    self.span_rows.get(&parent.get()).copied().unwrap_or(REMOTE_PARENT)
                }
                Some(parent) => spans
                    .iter()
                    .position(|s| s.span_id == parent)
                    .map_or(REMOTE_PARENT, |row| row as i32),
            };
            self.push_span(span, parent, (row == 0).then_some(trace_start), previous_start)?;
            previous_start = span.start_time_unix_nano;
        }
        self.finish_trace(spans.len())
    }

    /// Starts the rows of a trace (see [`Self::push_trace`] for the order traces come in).
    pub(super) fn start_trace(&mut self, trace_id: TraceId) {
        debug_assert!(self.trace_ids.last().is_none_or(|last| *last < trace_id));
        self.trace_ids.push(trace_id);
        self.group.first_trace.get_or_insert(trace_id);
        self.group.last_trace = Some(trace_id);
    }

    /// Ends the trace started last, which got `spans` rows; cuts the row group when full.
    pub(super) fn finish_trace(&mut self, spans: usize) -> Result<(), BlockError> {
        self.span_count += spans as u64;
        if self.columns.rows() >= ROW_GROUP_ROWS || self.columns.buffered_bytes() >= ROW_GROUP_BYTES
        {
            self.flush_row_group()?;
        }
        Ok(())
    }

    /// Appends the identity and times of a span row, and counts them in the row group's stats.
    pub(super) fn push_times(&mut self, row: &RowTimes) {
        let RowTimes {
            trace_id, span_id, parent, remote_parent, trace_start, previous_start, ..
        } = *row;
        let (start, end) = (row.start, row.end);
        let group = &mut self.group;
        group.min_start = group.min_start.min(start);
        group.max_start = group.max_start.max(start);
        group.max_end = group.max_end.max(end);
        let duration = end.saturating_sub(start);
        group.min_duration = group.min_duration.min(duration);
        group.max_duration = group.max_duration.max(duration);
        group.error_count += u64::from(row.is_error);

        let c = &mut self.columns;
        c.trace_id.extend_from_slice(&trace_id.to_bytes());
        c.span_id.push(span_id);
        c.parent.push(parent);
        c.parent_span_id.push(if parent == REMOTE_PARENT { remote_parent } else { None });
        c.trace_start.push(trace_start);
        c.start_gap.push(start.wrapping_sub(previous_start) as i64);
        c.duration.push(end.wrapping_sub(start) as i64);
    }

    fn push_span(
        &mut self,
        span: &Span,
        parent: i32,
        trace_start: Option<u64>,
        previous_start: u64,
    ) -> Result<(), BlockError> {
        let start = span.start_time_unix_nano;
        let end = span.end_time_unix_nano;
        self.push_times(&RowTimes {
            trace_id: span.trace_id,
            span_id: span.span_id.get(),
            parent,
            remote_parent: span.parent_span_id.map(|p| p.get()),
            trace_start,
            previous_start,
            start,
            end,
            is_error: span.is_error(),
        });
        let c = &mut self.columns;

        let (resource, new_resource) = self.resources.number(&span.resource, put_resource);
        if new_resource {
            for kv in span.resource.attributes.iter() {
                self.catalog.add_attribute(&kv.key, &kv.value);
            }
        }
        c.resource.push(resource);
        c.scope.push(self.scopes.number(&span.scope, put_scope).0);
        let name = c.name.push(&span.name);
        c.status_message.push(&span.status.message);
        c.trace_state.push(&span.trace_state);
        let dropped =
            [span.dropped_attributes_count, span.dropped_events_count, span.dropped_links_count];
        if dropped != [0; 3] {
            dropped.iter().for_each(|&n| put_varint(&mut c.dropped.data, u64::from(n)));
        }
        c.dropped.end_value(dropped != [0; 3])?;
        self.catalog.add_operation(resource, &span.name, span.kind);

        // Attributes: dedicated columns and packed values, in the order of the shape.
        let shape = self.shapes.number(&span.attributes, true, c.name.shape_hint(name));
        c.name.set_shape_hint(name, shape);
        c.span_bits.push(
            SpanBits {
                shape,
                kind: span.kind as u8,
                status_code: span.status.code as u8,
                flags: span.flags,
            }
            .pack(),
        );
        if shape.is_none() {
            self.has_inline_shapes = true;
        }
        let dedicated_set = push_attributes(c, &self.shapes, shape, &span.attributes)?;
        // Catalog: key numbers are looked up once per shape.
        match shape {
            Some(shape) => {
                let index = shape as usize;
                if self.shape_keys.len() <= index {
                    self.shape_keys.resize(index + 1, None);
                }
                let numbers = self.shape_keys[index].get_or_insert_with(|| {
                    let entries = &self.shapes.shape(shape).entries;
                    entries.iter().map(|(key, _)| self.catalog.key_number(key)).collect()
                });
                for (kv, number) in span.attributes.iter().zip(numbers.iter()) {
                    if let Some(number) = number {
                        self.catalog.add_value(*number, &kv.value);
                    }
                }
            }
            None => {
                for kv in span.attributes.iter() {
                    self.catalog.add_attribute(&kv.key, &kv.value);
                }
            }
        }
        c.end_attributes(dedicated_set)?;

        for event in &span.events {
            // Events come near the start (messages sent) or at the end (exceptions, replies):
            // measured from the nearer one the offset is small.
            let (offset, from_end_nearer) = event_offset(start, end, event.time_unix_nano);
            c.event_offset.push(offset);
            let name = c.event_name.push(&event.name);
            let shape = self.shapes.number(&event.attributes, false, c.event_name.shape_hint(name));
            c.event_name.set_shape_hint(name, shape);
            let bits = EventBits {
                shape,
                from_end: from_end_nearer,
                dropped_attributes: event.dropped_attributes_count,
            };
            c.event_bits.push(bits.pack());
            match shape {
                Some(_) => {
                    for kv in event.attributes.iter() {
                        put_payload(&mut c.event_attributes.data, &kv.value);
                    }
                }
                None => put_key_values(&mut c.event_attributes.data, &event.attributes),
            }
            c.event_attributes.end_value(true)?;
        }
        let events = i32::try_from(c.event_offset.len())
            .map_err(|_| BlockError::TooLarge("more than 2^31 events in one row group"))?;
        c.event_offsets.push(events);
        if !span.links.is_empty() {
            put_links(&mut c.links.data, &span.links);
        }
        c.links.end_value(!span.links.is_empty())?;
        Ok(())
    }

    fn flush_row_group(&mut self) -> Result<(), BlockError> {
        let rows = self.columns.rows();
        if rows == 0 {
            return Ok(());
        }
        let batch = self.columns.take_batch(&self.schema)?;
        self.writer.write(&batch)?;
        self.writer.flush()?;
        let group = std::mem::replace(&mut self.group, GroupStats::new());
        let (Some(first_trace), Some(last_trace)) = (group.first_trace, group.last_trace) else {
            return Ok(());
        };
        self.row_groups.push(RowGroupInfo {
            first_trace,
            last_trace,
            rows: rows as u64,
            min_start: group.min_start,
            max_start: group.max_start,
            max_end: group.max_end,
            min_duration: group.min_duration,
            max_duration: group.max_duration,
            error_count: group.error_count,
            chunks: Vec::new(),
        });
        Ok(())
    }

    /// Ends the data file (fsynced) and returns the block index for it, with `catalog` as the
    /// block's catalog when given (merged from the inputs of a compaction), else the one
    /// gathered from the spans pushed.
    pub fn finish(
        mut self,
        data_path: &Path,
        catalog: Option<BlockCatalog>,
    ) -> Result<BlockIndex, BlockError> {
        self.flush_row_group()?;
        let metadata = self.writer.finish()?;
        let file = self.writer.inner();
        file.sync_all()?;
        let data_bytes = file.metadata()?.len();

        // Checksum every column chunk and the footer, reading back what was just written.
        let mut reader = BufReader::with_capacity(1 << 20, File::open(data_path)?);
        let mut buffer = Vec::new();
        let mut checksum = |start: u64, len: u64| -> Result<Checksummed, BlockError> {
            buffer
                .resize(usize::try_from(len).map_err(|_| BlockError::TooLarge("column chunk"))?, 0);
            reader.seek(SeekFrom::Start(start))?;
            reader.read_exact(&mut buffer)?;
            Ok(Checksummed { start, len, hash: xxh64(&buffer) })
        };
        let mut end_of_chunks = 4; // after the leading "PAR1"
        if metadata.row_groups().len() != self.row_groups.len() {
            return Err(BlockError::Corrupt(
                "parquet wrote an unexpected number of row groups".into(),
            ));
        }
        for (info, group) in self.row_groups.iter_mut().zip(metadata.row_groups()) {
            for column in group.columns() {
                let (start, len) = column.byte_range();
                info.chunks.push(checksum(start, len)?);
                end_of_chunks = end_of_chunks.max(start + len);
            }
        }
        let footer = checksum(end_of_chunks, data_bytes - end_of_chunks)?;

        let resources = self.resources.items;
        let catalog = match catalog {
            Some(catalog) => catalog,
            None => self.catalog.finish(|index| {
                resources.get(index as usize).map_or_else(
                    || Str::from_static("unknown_service"),
                    |r| Str::new(r.service_name()),
                )
            }),
        };
        let mut bloom = TraceBloom::with_capacity(self.trace_ids.len());
        self.trace_ids.iter().for_each(|&id| bloom.insert(id));
        let group_times = self.row_groups.iter();
        Ok(BlockIndex {
            level: self.level,
            span_count: self.span_count,
            trace_count: self.trace_ids.len() as u64,
            data_bytes,
            min_start: group_times.clone().map(|g| g.min_start).min().unwrap_or(0),
            max_start: group_times.clone().map(|g| g.max_start).max().unwrap_or(0),
            max_end: group_times.map(|g| g.max_end).max().unwrap_or(0),
            catalog,
            bloom,
            row_groups: self.row_groups,
            footer,
            resources,
            scopes: self.scopes.items,
            dedicated: self.dedicated,
            shapes: self.shapes.into_shapes(),
            has_inline_shapes: self.has_inline_shapes,
        })
    }
}
