//! Compaction: merges blocks into one by a k-way merge on trace id, streaming each input a
//! batch of rows at a time, so memory stays bounded by the number of inputs, not their size.
//! Parts of one trace from several inputs become one trace; no span is dropped or repeated.
//!
//! Rows go from the inputs' Arrow columns straight into the output's column builders, without
//! becoming spans: what a row points to in its block's tables (resource, scope, attribute
//! shape, dedicated columns) is renumbered for the output once per table entry, packed
//! attribute values are copied as bytes, and the output's catalog is the merge of the inputs'.
//! The output is the block that writing the decoded spans again would give; a test compacts
//! both ways and compares the files byte for byte.

use std::path::Path;
use std::rc::Rc;

use arrow_array::{
    Array, ArrayRef, BinaryArray, FixedSizeBinaryArray, Int32Array, Int64Array, ListArray,
    RecordBatch, StructArray, UInt32Array, UInt64Array,
};
use kiseki_model::{AnyValue, KeyValue, SpanKind, StatusCode, Str, TraceId};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use rustc_hash::FxHashMap;

use super::catalog::BlockCatalog;
use super::index::BlockIndex;
use super::read::{ColumnNumbers, TextColumn, corrupt, from_corrupt, trace_id_at};
use super::schema::{self, DedicatedType, EventBits, REMOTE_PARENT, ROOT, SpanBits};
use super::shape::Slot;
use super::values::{
    Reader, ValueTag, put_key_values, put_payload, put_resource, put_scope, put_varint,
};
use super::write::{
    BlockWriter, DedicatedColumn, RowTimes, event_offset, push_attributes, push_dedicated,
};
use super::{Block, BlockError, BlockId, publish};

/// Rows read at a time from each input.
const BATCH_ROWS: usize = 4_096;

/// Merges `blocks` into a new block `id` at `level` in `blocks_dir`. The inputs stay; the
/// caller removes them ([`Block::remove`]) once the new block is published.
pub fn compact(
    blocks: &[&Block],
    blocks_dir: &Path,
    id: BlockId,
    level: u32,
) -> Result<Block, BlockError> {
    let dedicated = merged_dedicated(blocks);
    let catalog = BlockCatalog::merge(blocks.iter().map(|block| &block.index().catalog));
    let mut cursors: Vec<Cursor<'_>> = blocks.iter().map(|block| Cursor::new(block)).collect();
    let mut inputs: Vec<InputTables<'_>> =
        blocks.iter().map(|block| InputTables::new(block.index())).collect();
    publish(blocks_dir, id, level, dedicated, Some(catalog), |writer| {
        let mut heads: Vec<Option<TraceId>> = Vec::with_capacity(cursors.len());
        for cursor in &mut cursors {
            heads.push(cursor.peek()?);
        }
        let mut trace: Vec<MergedRow> = Vec::new();
        let mut scratch = TraceScratch::default();
        while let Some(smallest) = heads.iter().flatten().min().copied() {
            trace.clear();
            for (input, (cursor, head)) in cursors.iter_mut().zip(heads.iter_mut()).enumerate() {
                if *head == Some(smallest) {
                    cursor.take_trace(input, smallest, &mut trace)?;
                    *head = cursor.peek()?;
                }
            }
            // The order (and parents) that writing the decoded spans would give.
            trace.sort_unstable_by_key(|row| (row.start, row.span_id));
            push_trace(writer, &mut inputs, &mut scratch, smallest, &trace)?;
        }
        Ok(())
    })
}

/// Every dedicated column of any input, so that no value moves out of its column.
fn merged_dedicated(blocks: &[&Block]) -> Vec<(Str, DedicatedType)> {
    let mut dedicated: Vec<(Str, DedicatedType)> = Vec::new();
    for block in blocks {
        for entry in &block.index().dedicated {
            if !dedicated.contains(entry) {
                dedicated.push(entry.clone());
            }
        }
    }
    dedicated
}

/// A dictionary-encoded text column of a batch, owned.
struct Texts {
    keys: Int32Array,
    values: Vec<Str>,
    empty: Str,
}

impl Texts {
    fn new(array: &ArrayRef, what: &str) -> Result<Self, BlockError> {
        let column = TextColumn::new(array, what)?;
        let keys = array
            .as_any()
            .downcast_ref::<arrow_array::DictionaryArray<arrow_array::types::Int32Type>>()
            .map(|dictionary| dictionary.keys().clone())
            .ok_or_else(|| corrupt(format!("column {what} is not a dictionary")))?;
        Ok(Self { keys, values: column.values().to_vec(), empty: Str::default() })
    }

    fn get(&self, row: usize) -> Result<Option<&Str>, BlockError> {
        if self.keys.is_null(row) {
            return Ok(None);
        }
        let key = usize::try_from(self.keys.value(row))
            .map_err(|_| corrupt("negative dictionary key"))?;
        self.values.get(key).map(Some).ok_or_else(|| corrupt("dictionary key out of range"))
    }

    /// The text of a row; empty for a null, as a decoded span has it.
    fn text(&self, row: usize) -> Result<&Str, BlockError> {
        Ok(self.get(row)?.unwrap_or(&self.empty))
    }
}

/// A dedicated column of a batch.
enum DedicatedInput {
    Str(Texts),
    Int(Int64Array),
}

impl DedicatedInput {
    fn value(&self, row: usize) -> Result<AnyValue, BlockError> {
        let value = match self {
            DedicatedInput::Str(texts) => texts.get(row)?.map(|text| AnyValue::Str(text.clone())),
            DedicatedInput::Int(ints) => {
                (!ints.is_null(row)).then(|| AnyValue::Int(ints.value(row)))
            }
        };
        value.ok_or_else(|| corrupt("dedicated value missing"))
    }
}

fn typed<T: Array + Clone + 'static>(array: &ArrayRef, what: &str) -> Result<T, BlockError> {
    array
        .as_any()
        .downcast_ref::<T>()
        .cloned()
        .ok_or_else(|| corrupt(format!("column {what} has an unexpected type")))
}

/// The columns of one batch of an input, typed (the arrays share the batch's buffers).
struct Rows {
    len: usize,
    trace_id: FixedSizeBinaryArray,
    span_id: UInt64Array,
    parent: Int32Array,
    parent_span_id: UInt64Array,
    trace_start: UInt64Array,
    start_gap: Int64Array,
    duration: Int64Array,
    resource: UInt32Array,
    scope: UInt32Array,
    name: Texts,
    span_bits: UInt64Array,
    status_message: Texts,
    trace_state: Texts,
    dropped: BinaryArray,
    attributes: BinaryArray,
    events: ListArray,
    event_offset: Int64Array,
    event_name: Texts,
    event_bits: UInt64Array,
    event_attributes: BinaryArray,
    links: BinaryArray,
    dedicated: Vec<DedicatedInput>,
}

impl Rows {
    fn new(batch: &RecordBatch, c: &ColumnNumbers, index: &BlockIndex) -> Result<Self, BlockError> {
        let column = |i: usize| batch.column(i);
        let events: ListArray = typed(column(c.events), "events")?;
        let event_struct: StructArray = typed(events.values(), "events")?;
        let event_child = |name: &str| -> Result<&ArrayRef, BlockError> {
            event_struct
                .column_by_name(name)
                .ok_or_else(|| corrupt(format!("events have no {name}")))
        };
        let dedicated = index
            .dedicated
            .iter()
            .zip(&c.dedicated)
            .map(|((key, kind), &i)| -> Result<DedicatedInput, BlockError> {
                Ok(match kind {
                    DedicatedType::Str => DedicatedInput::Str(Texts::new(column(i), key)?),
                    DedicatedType::Int => DedicatedInput::Int(typed(column(i), key)?),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            len: batch.num_rows(),
            trace_id: typed(column(c.trace_id), "trace_id")?,
            span_id: typed(column(c.span_id), "span_id")?,
            parent: typed(column(c.parent), "parent")?,
            parent_span_id: typed(column(c.parent_span_id), "parent_span_id")?,
            trace_start: typed(column(c.trace_start), "trace_start")?,
            start_gap: typed(column(c.start_gap), "start_gap")?,
            duration: typed(column(c.duration), "duration")?,
            resource: typed(column(c.resource), "resource")?,
            scope: typed(column(c.scope), "scope")?,
            name: Texts::new(column(c.name), "name")?,
            span_bits: typed(column(c.span_bits), "span_bits")?,
            status_message: Texts::new(column(c.status_message), "status_message")?,
            trace_state: Texts::new(column(c.trace_state), "trace_state")?,
            dropped: typed(column(c.dropped), "dropped")?,
            attributes: typed(column(c.attributes), "attributes")?,
            event_offset: typed(event_child(schema::event::OFFSET)?, "event offset")?,
            event_name: Texts::new(event_child(schema::event::NAME)?, "event name")?,
            event_bits: typed(event_child(schema::event::BITS)?, "event bits")?,
            event_attributes: typed(event_child(schema::event::ATTRIBUTES)?, "event attributes")?,
            events,
            links: typed(column(c.links), "links")?,
            dedicated,
        })
    }
}

/// One row of a trace being merged, with what the merge needs of it decoded.
struct MergedRow {
    rows: Rc<Rows>,
    row: usize,
    input: usize,
    start: u64,
    end: u64,
    span_id: u64,
    /// The parent's span id; `None` for a root.
    parent: Option<u64>,
    /// The parent's row in the input's trace while the trace is read; [`ROOT`] or
    /// [`REMOTE_PARENT`] otherwise.
    parent_row: i32,
}

/// Reads one block's traces in trace-id order, as rows.
struct Cursor<'b> {
    block: &'b Block,
    next_group: usize,
    reader: Option<ParquetRecordBatchReader>,
    rows: Option<Rc<Rows>>,
    position: usize,
}

impl<'b> Cursor<'b> {
    fn new(block: &'b Block) -> Self {
        Self { block, next_group: 0, reader: None, rows: None, position: 0 }
    }

    /// The trace id of the next row, reading more when needed; `None` at the end.
    fn peek(&mut self) -> Result<Option<TraceId>, BlockError> {
        loop {
            if let Some(rows) = &self.rows
                && self.position < rows.len
            {
                return trace_id_at(&rows.trace_id, self.position).map(Some);
            }
            if !self.next_batch(true)? {
                return Ok(None);
            }
        }
    }

    /// Reads the next batch of the row group being read, or (with `next_group`) of the next
    /// row group; false when there is none.
    fn next_batch(&mut self, next_group: bool) -> Result<bool, BlockError> {
        loop {
            if let Some(reader) = &mut self.reader {
                match reader.next() {
                    Some(batch) => {
                        let rows =
                            Rows::new(&batch?, &self.block.data().columns, self.block.index())?;
                        self.rows = Some(Rc::new(rows));
                        self.position = 0;
                        return Ok(true);
                    }
                    None => self.reader = None,
                }
            }
            let group = self.next_group;
            if !next_group || group >= self.block.index().row_groups.len() {
                return Ok(false);
            }
            self.next_group += 1;
            self.reader = Some(read_row_group(self.block, group)?);
        }
    }

    /// Appends the rows of the trace at the cursor (`trace_id`, from [`Self::peek`]) to
    /// `out`, with start, end and parent decoded. A trace never spans row groups.
    fn take_trace(
        &mut self,
        input: usize,
        trace_id: TraceId,
        out: &mut Vec<MergedRow>,
    ) -> Result<(), BlockError> {
        let first = out.len();
        let mut previous_start = 0u64;
        'batches: loop {
            let Some(rows) = self.rows.clone() else { break };
            while self.position < rows.len {
                let row = self.position;
                let trace_start =
                    (!rows.trace_start.is_null(row)).then(|| rows.trace_start.value(row));
                match (out.len() == first, trace_start) {
                    (true, Some(start)) => previous_start = start,
                    (false, Some(_)) => break 'batches,
                    (true, None) => return Err(corrupt("a trace's first row has no trace start")),
                    (false, None) => {
                        if trace_id_at(&rows.trace_id, row)? != trace_id {
                            return Err(corrupt("a trace's first row has no trace start"));
                        }
                    }
                }
                let start = previous_start.wrapping_add(rows.start_gap.value(row) as u64);
                previous_start = start;
                let end = start.wrapping_add(rows.duration.value(row) as u64);
                let span_id = rows.span_id.value(row);
                if span_id == 0 {
                    return Err(corrupt("zero span id"));
                }
                let parent_row = rows.parent.value(row);
                let parent = match parent_row {
                    REMOTE_PARENT => {
                        let id = (!rows.parent_span_id.is_null(row))
                            .then(|| rows.parent_span_id.value(row))
                            .filter(|&id| id != 0);
                        Some(id.ok_or_else(|| corrupt("remote parent without a span id"))?)
                    }
                    ROOT => None,
                    row if row < 0 => return Err(corrupt("negative parent row")),
                    _ => None,
                };
                out.push(MergedRow {
                    rows: Rc::clone(&rows),
                    row,
                    input,
                    start,
                    end,
                    span_id,
                    parent,
                    parent_row,
                });
                self.position += 1;
            }
            if !self.next_batch(false)? {
                break;
            }
        }
        for i in first..out.len() {
            if let Ok(parent_row) = usize::try_from(out[i].parent_row) {
                let parent = first.checked_add(parent_row).and_then(|row| out.get(row));
                let parent = parent.ok_or_else(|| corrupt("parent row out of range"))?;
                out[i].parent = Some(parent.span_id);
            }
        }
        Ok(())
    }
}

/// How the values of an input's attribute shape move into the output.
struct ShapePlan {
    /// The output's shape; `None` when the list is written inline there.
    output: Option<u32>,
    /// Per entry: its key, where the input keeps the value and where the output does (the
    /// input's slot again when the output writes the list inline).
    moves: Vec<(Str, Slot, Slot)>,
    /// Whether packed values stay packed and dedicated ones dedicated, so the packed bytes
    /// are copied whole.
    same_packing: bool,
}

/// An input's tables renumbered for the output, filled as rows first need them (so the
/// output numbers them in the order writing the decoded spans would).
struct InputTables<'i> {
    index: &'i BlockIndex,
    resources: Vec<Option<u32>>,
    scopes: Vec<Option<u32>>,
    /// By shape number: the plan for span attributes, and for event attributes.
    span_plans: Vec<Option<Rc<ShapePlan>>>,
    event_plans: Vec<Option<Rc<ShapePlan>>>,
}

impl<'i> InputTables<'i> {
    fn new(index: &'i BlockIndex) -> Self {
        Self {
            index,
            resources: vec![None; index.resources.len()],
            scopes: vec![None; index.scopes.len()],
            span_plans: vec![None; index.shapes.len()],
            event_plans: vec![None; index.shapes.len()],
        }
    }

    fn resource(&mut self, writer: &mut BlockWriter, input: u32) -> Result<u32, BlockError> {
        let slot = self.resources.get_mut(input as usize);
        let slot = slot.ok_or_else(|| corrupt("resource out of range"))?;
        Ok(*slot.get_or_insert_with(|| {
            writer.resources.number(&self.index.resources[input as usize], put_resource).0
        }))
    }

    fn scope(&mut self, writer: &mut BlockWriter, input: u32) -> Result<u32, BlockError> {
        let slot = self.scopes.get_mut(input as usize);
        let slot = slot.ok_or_else(|| corrupt("scope out of range"))?;
        Ok(*slot.get_or_insert_with(|| {
            writer.scopes.number(&self.index.scopes[input as usize], put_scope).0
        }))
    }

    fn plan(
        &mut self,
        writer: &mut BlockWriter,
        shape: u32,
        use_dedicated: bool,
    ) -> Result<Rc<ShapePlan>, BlockError> {
        let plans = if use_dedicated { &mut self.span_plans } else { &mut self.event_plans };
        let slot = plans.get_mut(shape as usize).ok_or_else(|| corrupt("shape out of range"))?;
        if let Some(plan) = slot {
            return Ok(Rc::clone(plan));
        }
        let entries = &self.index.shapes[shape as usize].entries;
        let mut keys = Vec::with_capacity(entries.len());
        for (key, slot) in entries {
            let tag = match *slot {
                Slot::Generic(tag) => tag,
                Slot::Dedicated(i) => match self.index.dedicated.get(usize::from(i)) {
                    Some((_, DedicatedType::Str)) => ValueTag::Str,
                    Some((_, DedicatedType::Int)) => ValueTag::Int,
                    None => return Err(corrupt("shape names a missing dedicated column")),
                },
            };
            keys.push((key.clone(), tag));
        }
        let output = writer.shapes.number_of_keys(&keys, use_dedicated);
        let moves: Vec<(Str, Slot, Slot)> = match output {
            Some(output) => entries
                .iter()
                .zip(&writer.shapes.shape(output).entries)
                .map(|((key, from), (_, to))| (key.clone(), *from, *to))
                .collect(),
            None => entries.iter().map(|(key, from)| (key.clone(), *from, *from)).collect(),
        };
        let same_packing = moves.iter().all(|(_, from, to)| {
            matches!(
                (from, to),
                (Slot::Generic(_), Slot::Generic(_)) | (Slot::Dedicated(_), Slot::Dedicated(_))
            )
        });
        let plan = Rc::new(ShapePlan { output, moves, same_packing });
        *slot = Some(Rc::clone(&plan));
        Ok(plan)
    }
}

/// Scratch space of [`push_trace`], kept between traces.
#[derive(Default)]
struct TraceScratch {
    span_rows: FxHashMap<u64, i32>,
}

/// Writes one merged trace, its rows in output order.
fn push_trace(
    writer: &mut BlockWriter,
    inputs: &mut [InputTables<'_>],
    scratch: &mut TraceScratch,
    trace_id: TraceId,
    trace: &[MergedRow],
) -> Result<(), BlockError> {
    let Some(first) = trace.first() else { return Ok(()) };
    writer.start_trace(trace_id);
    // Parents as the writer finds them: the first row with the parent's span id.
    let many = trace.len() > 16;
    scratch.span_rows.clear();
    if many {
        for (row, merged) in trace.iter().enumerate().rev() {
            scratch.span_rows.insert(merged.span_id, row as i32);
        }
    }
    let mut previous_start = first.start;
    for (i, merged) in trace.iter().enumerate() {
        let parent = match merged.parent {
            None => ROOT,
            Some(parent) if many => {
                scratch.span_rows.get(&parent).copied().unwrap_or(REMOTE_PARENT)
            }
            Some(parent) => trace
                .iter()
                .position(|row| row.span_id == parent)
                .map_or(REMOTE_PARENT, |row| row as i32),
        };
        let rows = &*merged.rows;
        let bits = SpanBits::unpack(rows.span_bits.value(merged.row))
            .filter(|bits| {
                SpanKind::from_number(i64::from(bits.kind)).is_some()
                    && StatusCode::from_number(i64::from(bits.status_code)).is_some()
            })
            .ok_or_else(|| corrupt("bad span bits"))?;
        writer.push_times(&RowTimes {
            trace_id,
            span_id: merged.span_id,
            parent,
            remote_parent: merged.parent,
            trace_start: (i == 0).then_some(first.start),
            previous_start,
            start: merged.start,
            end: merged.end,
            is_error: bits.status_code == StatusCode::Error as u8,
        });
        previous_start = merged.start;
        let input = inputs.get_mut(merged.input).ok_or_else(|| corrupt("no such input"))?;
        push_row(writer, input, merged, bits)?;
    }
    writer.finish_trace(trace.len())
}

/// Writes everything of a row but its identity and times.
fn push_row(
    writer: &mut BlockWriter,
    input: &mut InputTables<'_>,
    merged: &MergedRow,
    bits: SpanBits,
) -> Result<(), BlockError> {
    let (rows, row) = (&*merged.rows, merged.row);
    let resource = input.resource(writer, rows.resource.value(row))?;
    let scope = input.scope(writer, rows.scope.value(row))?;
    let span_plan = match bits.shape {
        Some(shape) => Some(input.plan(writer, shape, true)?),
        None => None,
    };
    {
        let c = &mut writer.columns;
        c.resource.push(resource);
        c.scope.push(scope);
        c.name.push(rows.name.text(row)?);
        c.status_message.push(rows.status_message.text(row)?);
        c.trace_state.push(rows.trace_state.text(row)?);
        let dropped = !rows.dropped.is_null(row);
        if dropped {
            let mut reader = Reader::new(rows.dropped.value(row));
            let counts = [reader.varint_u32(), reader.varint_u32(), reader.varint_u32()];
            reader.finish("dropped counts").map_err(from_corrupt)?;
            for count in counts {
                put_varint(&mut c.dropped.data, u64::from(count.map_err(from_corrupt)?));
            }
        }
        c.dropped.end_value(dropped)?;
    }

    // Span attributes.
    let packed = rows.attributes.value(row);
    let output_shape = match &span_plan {
        Some(plan) => {
            let c = &mut writer.columns;
            let dedicated_set = move_attributes(
                &mut c.attributes.data,
                &mut c.dedicated,
                plan,
                packed,
                &rows.dedicated,
                row,
            )?;
            if plan.output.is_none() {
                writer.has_inline_shapes = true;
            }
            writer.columns.end_attributes(dedicated_set)?;
            plan.output
        }
        None => {
            let list = inline_list(packed)?;
            let shape = writer.shapes.number(&list, true, None);
            if shape.is_none() {
                writer.has_inline_shapes = true;
            }
            let dedicated_set = push_attributes(&mut writer.columns, &writer.shapes, shape, &list)?;
            writer.columns.end_attributes(dedicated_set)?;
            shape
        }
    };
    writer.columns.span_bits.push(SpanBits { shape: output_shape, ..bits }.pack());

    // Events.
    let offsets = rows.events.value_offsets();
    let (from, to) = (offsets[row] as usize, offsets[row + 1] as usize);
    for e in from..to {
        let event_bits =
            EventBits::unpack(rows.event_bits.value(e)).ok_or_else(|| corrupt("bad event bits"))?;
        let offset = rows.event_offset.value(e) as u64;
        let time = if event_bits.from_end {
            merged.end.wrapping_sub(offset)
        } else {
            merged.start.wrapping_add(offset)
        };
        let (offset, from_end) = event_offset(merged.start, merged.end, time);
        let packed = rows.event_attributes.value(e);
        let shape = match event_bits.shape {
            Some(shape) => {
                let plan = input.plan(writer, shape, false)?;
                if plan.moves.iter().any(|(_, from, _)| matches!(from, Slot::Dedicated(_))) {
                    return Err(corrupt("dedicated slot in an event"));
                }
                let c = &mut writer.columns;
                move_attributes(&mut c.event_attributes.data, &mut [], &plan, packed, &[], row)?;
                plan.output
            }
            None => {
                let list = inline_list(packed)?;
                let shape = writer.shapes.number(&list, false, None);
                let c = &mut writer.columns;
                match shape {
                    Some(_) => list
                        .iter()
                        .for_each(|kv| put_payload(&mut c.event_attributes.data, &kv.value)),
                    None => put_key_values(&mut c.event_attributes.data, &list),
                }
                shape
            }
        };
        let c = &mut writer.columns;
        c.event_offset.push(offset);
        c.event_name.push(rows.event_name.text(e)?);
        let bits = EventBits { shape, from_end, dropped_attributes: event_bits.dropped_attributes };
        c.event_bits.push(bits.pack());
        c.event_attributes.end_value(true)?;
    }
    let c = &mut writer.columns;
    let events = i32::try_from(c.event_offset.len())
        .map_err(|_| BlockError::TooLarge("more than 2^31 events in one row group"))?;
    c.event_offsets.push(events);

    // Links: checked, and copied as they are.
    let links = !rows.links.is_null(row);
    if links {
        let bytes = rows.links.value(row);
        let mut reader = Reader::new(bytes);
        let decoded = reader.links().map_err(from_corrupt)?;
        reader.finish("links").map_err(from_corrupt)?;
        if decoded.is_empty() {
            c.links.end_value(false)?;
            return Ok(());
        }
        c.links.data.extend_from_slice(bytes);
    }
    c.links.end_value(links)?;
    Ok(())
}

/// An attribute list written inline, with its keys.
fn inline_list(packed: &[u8]) -> Result<Vec<KeyValue>, BlockError> {
    let mut reader = Reader::new(packed);
    let list = reader.key_values().map_err(from_corrupt)?;
    reader.finish("attributes").map_err(from_corrupt)?;
    Ok(list)
}

/// The value of dedicated column `index` of an input row.
fn dedicated_value(
    dedicated: &[DedicatedInput],
    index: u16,
    row: usize,
) -> Result<AnyValue, BlockError> {
    let column = dedicated.get(usize::from(index));
    column.ok_or_else(|| corrupt("no such dedicated column"))?.value(row)
}

/// Moves the values of a shaped attribute list into the output as `plan` says: packed values
/// to `packed_out` (copied as bytes), dedicated ones to `dedicated_out`; the values of the
/// input's dedicated columns come from `dedicated_in` at `row`. Returns the output's
/// dedicated columns given a value.
fn move_attributes(
    packed_out: &mut Vec<u8>,
    dedicated_out: &mut [DedicatedColumn],
    plan: &ShapePlan,
    packed: &[u8],
    dedicated_in: &[DedicatedInput],
    row: usize,
) -> Result<u64, BlockError> {
    let mut reader = Reader::new(packed);
    if plan.output.is_none() {
        let mut list = Vec::with_capacity(plan.moves.len());
        for (key, from, _) in &plan.moves {
            let value = match *from {
                Slot::Generic(tag) => reader.payload(tag).map_err(from_corrupt)?,
                Slot::Dedicated(i) => dedicated_value(dedicated_in, i, row)?,
            };
            list.push(KeyValue { key: key.clone(), value });
        }
        reader.finish("attributes").map_err(from_corrupt)?;
        put_key_values(packed_out, &list);
        return Ok(0);
    }
    let mut dedicated_set: u64 = 0;
    for (_, from, to) in &plan.moves {
        let value = match *from {
            Slot::Generic(tag) => {
                let begin = reader.position();
                reader.skip_payload(tag).map_err(from_corrupt)?;
                let bytes = &packed[begin..reader.position()];
                match *to {
                    Slot::Generic(_) if plan.same_packing => continue,
                    Slot::Generic(_) => {
                        packed_out.extend_from_slice(bytes);
                        continue;
                    }
                    Slot::Dedicated(_) => Reader::new(bytes).payload(tag).map_err(from_corrupt)?,
                }
            }
            Slot::Dedicated(i) => dedicated_value(dedicated_in, i, row)?,
        };
        match *to {
            Slot::Generic(_) => put_payload(packed_out, &value),
            Slot::Dedicated(j) => {
                push_dedicated(dedicated_out, j, &value)?;
                dedicated_set |= 1 << j;
            }
        }
    }
    reader.finish("attributes").map_err(from_corrupt)?;
    if plan.same_packing {
        packed_out.extend_from_slice(packed);
    }
    Ok(dedicated_set)
}

/// Every column of one row group of `block`, [`BATCH_ROWS`] rows at a time.
fn read_row_group(block: &Block, group: usize) -> Result<ParquetRecordBatchReader, BlockError> {
    let data = block.data();
    let loaded = data.load_all(block.index(), group)?;
    let metadata = data.metadata().clone();
    Ok(ParquetRecordBatchReaderBuilder::new_with_metadata(loaded, metadata)
        .with_row_groups(vec![group])
        .with_projection(ProjectionMask::all())
        .with_batch_size(BATCH_ROWS)
        .build()?)
}

#[cfg(test)]
pub(super) mod through_spans {
    //! Compaction as it was done before: every row decoded into a span and written again.
    //! Kept for tests, which check that [`compact`](super::compact) writes the same block.

    use std::collections::VecDeque;
    use std::path::Path;

    use kiseki_model::{Span, TraceId};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReader;

    use super::super::read::SpanDecoder;
    use super::super::{Block, BlockError, BlockId, publish};
    use super::read_row_group;

    /// Reads one block's traces in trace-id order.
    struct TraceCursor<'b> {
        block: &'b Block,
        next_group: usize,
        reader: Option<ParquetRecordBatchReader>,
        decoder: SpanDecoder<'b>,
        ready: VecDeque<Vec<Span>>,
    }

    impl<'b> TraceCursor<'b> {
        fn new(block: &'b Block) -> Self {
            Self {
                block,
                next_group: 0,
                reader: None,
                decoder: SpanDecoder::new(block.index()),
                ready: VecDeque::new(),
            }
        }

        /// The trace id of the next trace, decoding more rows when needed; `None` at the end.
        fn peek(&mut self) -> Result<Option<TraceId>, BlockError> {
            while self.ready.is_empty() {
                if !self.advance()? {
                    return Ok(None);
                }
            }
            Ok(self.ready.front().and_then(|trace| trace.first()).map(|span| span.trace_id))
        }

        fn pop(&mut self) -> Option<Vec<Span>> {
            self.ready.pop_front()
        }

        /// Decodes the next batch; false when the block is exhausted.
        fn advance(&mut self) -> Result<bool, BlockError> {
            loop {
                if let Some(reader) = &mut self.reader {
                    match reader.next() {
                        Some(batch) => {
                            let batch = batch?;
                            let ready = &mut self.ready;
                            self.decoder.decode(
                                &batch,
                                &self.block.data().columns,
                                &mut |trace| {
                                    ready.push_back(trace);
                                    Ok(())
                                },
                            )?;
                            return Ok(true);
                        }
                        None => {
                            // A trace never spans row groups: the last one is complete.
                            self.reader = None;
                            let decoder = std::mem::replace(
                                &mut self.decoder,
                                SpanDecoder::new(self.block.index()),
                            );
                            if let Some(trace) = decoder.finish()? {
                                self.ready.push_back(trace);
                                return Ok(true);
                            }
                        }
                    }
                }
                let group = self.next_group;
                if group >= self.block.index().row_groups.len() {
                    return Ok(false);
                }
                self.next_group += 1;
                self.reader = Some(read_row_group(self.block, group)?);
            }
        }
    }

    /// Merges `blocks` into a new block `id` at `level` in `blocks_dir`. The inputs stay; the
    /// caller removes them ([`Block::remove`]) once the new block is published.
    pub fn compact_through_spans(
        blocks: &[&Block],
        blocks_dir: &Path,
        id: BlockId,
        level: u32,
    ) -> Result<Block, BlockError> {
        let mut cursors: Vec<TraceCursor<'_>> =
            blocks.iter().map(|block| TraceCursor::new(block)).collect();
        // Every dedicated column of any input, so that no value moves out of its column.
        let dedicated = super::merged_dedicated(blocks);
        publish(blocks_dir, id, level, dedicated, None, |writer| {
            let mut heads: Vec<Option<TraceId>> = Vec::with_capacity(cursors.len());
            for cursor in &mut cursors {
                heads.push(cursor.peek()?);
            }
            let mut trace: Vec<Span> = Vec::new();
            while let Some(smallest) = heads.iter().flatten().min().copied() {
                trace.clear();
                for (cursor, head) in cursors.iter_mut().zip(heads.iter_mut()) {
                    if *head == Some(smallest) {
                        trace.extend(cursor.pop().unwrap_or_default());
                        *head = cursor.peek()?;
                    }
                }
                trace.sort_unstable_by_key(|span| (span.start_time_unix_nano, span.span_id));
                let refs: Vec<&Span> = trace.iter().collect();
                writer.push_trace(&refs)?;
            }
            Ok(())
        })
    }
}
