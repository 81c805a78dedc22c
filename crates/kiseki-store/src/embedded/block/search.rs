//! Searching one block: prune by the index (catalog, time range, row-group times), read only
//! the columns the query needs, test each span, and summarise the matching traces from cheap
//! columns.

use std::cmp::Reverse;

use parquet::arrow::arrow_reader::RowSelection;
use std::collections::BinaryHeap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, UInt32Type, UInt64Type};
use arrow_array::{Array, BinaryArray, PrimitiveArray, RecordBatch};
use kiseki_model::{StatusCode, TraceId};

use super::read::{DedicatedValues, TextColumn, corrupt, from_corrupt, trace_id_at};
use super::schema::{ROOT, SpanBits};
use super::shape::Slot;
use super::values::{Reader, ValueTag};
use super::{Block, BlockError};
use crate::query::{AttributeFilter, SummaryBuilder, TraceQuery, TraceSummary, value_reads_as};

/// Where one attribute filter finds its key in rows of one shape.
#[derive(Debug, Clone)]
enum KeyPlace {
    Absent,
    Dedicated(usize),
    /// The value is the `skip`-th packed value, after values of these types.
    Packed {
        before: Vec<ValueTag>,
        tag: ValueTag,
    },
}

/// One attribute filter, prepared against the block's tables.
struct PreparedFilter<'q> {
    filter: &'q AttributeFilter,
    /// Whether each resource satisfies the filter by itself.
    by_resource: Vec<bool>,
    /// By shape number.
    places: Vec<KeyPlace>,
}

/// The columns of the summary pass, typed.
struct SummaryColumns<'a> {
    trace_id: &'a arrow_array::FixedSizeBinaryArray,
    trace_start: &'a PrimitiveArray<UInt64Type>,
    start_gap: &'a PrimitiveArray<Int64Type>,
    duration: &'a PrimitiveArray<Int64Type>,
    resource: &'a PrimitiveArray<UInt32Type>,
    parent: &'a PrimitiveArray<Int32Type>,
    span_bits: &'a PrimitiveArray<UInt64Type>,
    name: TextColumn<'a>,
}

/// The columns the conditions of a query need, typed; absent when not needed.
struct FilterColumns<'a> {
    trace_start: &'a PrimitiveArray<UInt64Type>,
    start_gap: Option<&'a PrimitiveArray<Int64Type>>,
    duration: Option<&'a PrimitiveArray<Int64Type>>,
    resource: Option<&'a PrimitiveArray<UInt32Type>>,
    span_bits: Option<&'a PrimitiveArray<UInt64Type>>,
    name: Option<TextColumn<'a>>,
    attributes: Option<&'a BinaryArray>,
    /// Dedicated columns by index in the block's list; only those a filter needs.
    dedicated: Vec<Option<DedicatedValues<'a>>>,
}

fn primitive<'a, T: arrow_array::types::ArrowPrimitiveType>(
    batch: &'a RecordBatch,
    what: &str,
) -> Result<&'a PrimitiveArray<T>, BlockError> {
    batch
        .column_by_name(what)
        .and_then(|c| c.as_primitive_opt::<T>())
        .ok_or_else(|| corrupt(format!("column {what} has an unexpected type")))
}

/// A trace that matched in the first pass: where its rows are and when its part starts.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    start: u64,
    group: usize,
    first_row: usize,
    rows: usize,
}

/// What the first pass needs to read and test.
struct Conditions<'q> {
    query: &'q TraceQuery,
    /// Whether span starts are tested (a time range narrower than everything).
    times: bool,
    service_ok: Option<Vec<bool>>,
    filters: Vec<PreparedFilter<'q>>,
    packed: bool,
    dedicated: Vec<bool>,
}

impl Block {
    /// Summaries (of this block's part of each trace) of up to `query.effective_limit()` newest
    /// traces with a span matching `query`, newest first.
    ///
    /// Two passes: the first reads only the columns the conditions need and keeps the newest
    /// matching traces by the start of their first span; the second reads the summary columns
    /// of just those traces' rows.
    pub fn search(&self, query: &TraceQuery) -> Result<Vec<TraceSummary>, BlockError> {
        let index = self.index();
        let catalog = &index.catalog;
        if query.start_unix_nano > query.end_unix_nano
            || index.span_count == 0
            || index.max_start < query.start_unix_nano
            || index.min_start > query.end_unix_nano
            || query.service.as_deref().is_some_and(|s| !catalog.has_service(s))
            || query
                .operation
                .as_deref()
                .is_some_and(|o| !catalog.has_operation(query.service.as_deref(), o))
            || query.attributes.iter().any(|f| !catalog.may_have_value(&f.key, &f.value))
        {
            return Ok(Vec::new());
        }
        let limit = query.effective_limit();
        let filters: Vec<PreparedFilter<'_>> =
            query.attributes.iter().map(|f| self.prepare(f)).collect();
        let packed = !filters.is_empty()
            && (self.has_inline_shapes()
                || filters
                    .iter()
                    .any(|f| f.places.iter().any(|p| matches!(p, KeyPlace::Packed { .. }))));
        let mut dedicated = vec![false; index.dedicated.len()];
        for filter in &filters {
            for place in &filter.places {
                if let KeyPlace::Dedicated(i) = place {
                    dedicated[*i] = true;
                }
            }
        }
        let conditions = Conditions {
            query,
            times: query.start_unix_nano > index.min_start || query.end_unix_nano < index.max_start,
            service_ok: query.service.as_deref().map(|service| {
                index.resources.iter().map(|r| r.service_name() == service).collect()
            }),
            filters,
            packed,
            dedicated,
        };
        let columns = &self.data().columns;
        let mut roots = vec![columns.trace_start];
        if conditions.times {
            roots.push(columns.start_gap);
        }
        if query.min_duration_nanos.is_some() || query.max_duration_nanos.is_some() {
            roots.extend([columns.start_gap, columns.duration]);
        }
        if conditions.service_ok.is_some() || !conditions.filters.is_empty() {
            roots.push(columns.resource);
        }
        if query.operation.is_some() {
            roots.push(columns.name);
        }
        if query.errors_only || !conditions.filters.is_empty() {
            roots.push(columns.span_bits);
        }
        if conditions.packed {
            roots.push(columns.attributes);
        }
        for (i, needed) in conditions.dedicated.iter().enumerate() {
            if *needed {
                roots.push(columns.dedicated[i]);
            }
        }

        // Pass 1: the starts of the `limit` newest matches so far, oldest on top, and every
        // candidate at least as new as the oldest of them (ties are broken by trace id later).
        let mut newest: BinaryHeap<Reverse<u64>> = BinaryHeap::new();
        let mut candidates: Vec<Candidate> = Vec::new();
        for (group, info) in index.row_groups.iter().enumerate() {
            let cannot_match = info.max_start < query.start_unix_nano
                || info.min_start > query.end_unix_nano
                || query.min_duration_nanos.is_some_and(|min| info.max_duration < min)
                || query.max_duration_nanos.is_some_and(|max| info.min_duration > max)
                || (query.errors_only && info.error_count == 0);
            if cannot_match {
                continue;
            }
            let mut row_offset = 0;
            for batch in self.data().read(index, group, &roots, None, None)? {
                let c = self.filter_columns(&batch, &conditions)?;
                let name_ok: Option<Vec<bool>> = c.name.as_ref().map(|names| {
                    names
                        .values()
                        .iter()
                        .map(|n| query.operation.as_deref() == Some(n.as_str()))
                        .collect()
                });
                let rows = batch.num_rows();
                let mut row = 0;
                while row < rows {
                    let first = row;
                    let Some(trace_start) =
                        c.trace_start.is_valid(row).then(|| c.trace_start.value(row))
                    else {
                        return Err(corrupt("a trace's first row has no trace start"));
                    };
                    row += 1;
                    while row < rows && c.trace_start.is_null(row) {
                        row += 1;
                    }
                    if newest.len() >= limit
                        && newest.peek().is_some_and(|Reverse(oldest)| trace_start < *oldest)
                    {
                        continue;
                    }
                    let mut start = trace_start;
                    let mut matched = false;
                    for r in first..row {
                        if let Some(gaps) = c.start_gap {
                            start = start.wrapping_add(gaps.value(r) as u64);
                        }
                        if self.row_matches(&conditions, &c, r, start, name_ok.as_deref())? {
                            matched = true;
                            break;
                        }
                    }
                    if !matched {
                        continue;
                    }
                    newest.push(Reverse(trace_start));
                    if newest.len() > limit {
                        newest.pop();
                    }
                    candidates.push(Candidate {
                        start: trace_start,
                        group,
                        first_row: row_offset + first,
                        rows: row - first,
                    });
                }
                row_offset += rows;
            }
        }
        let oldest_kept = if newest.len() >= limit { newest.peek().map_or(0, |r| r.0) } else { 0 };
        candidates.retain(|c| c.start >= oldest_kept);

        // Pass 2: summaries of the candidates' rows.
        let mut summaries = Vec::with_capacity(candidates.len());
        for group in 0..index.row_groups.len() {
            let mut in_group: Vec<Candidate> =
                candidates.iter().filter(|c| c.group == group).copied().collect();
            if in_group.is_empty() {
                continue;
            }
            in_group.sort_unstable_by_key(|c| c.first_row);
            summaries.extend(self.summarise_rows(group, &in_group)?);
        }
        summaries.sort_by(|a, b| {
            b.start_unix_nano.cmp(&a.start_unix_nano).then_with(|| a.trace_id.cmp(&b.trace_id))
        });
        summaries.truncate(limit);
        Ok(summaries)
    }

    /// Summaries of whole traces at known rows of one row group (sorted by first row).
    fn summarise_rows(
        &self,
        group: usize,
        traces: &[Candidate],
    ) -> Result<Vec<TraceSummary>, BlockError> {
        let rows = usize::try_from(self.index().row_groups[group].rows).unwrap_or(usize::MAX);
        let ranges = traces.iter().map(|c| c.first_row..c.first_row + c.rows);
        let selection = RowSelection::from_consecutive_ranges(ranges, rows);
        let batches =
            self.data().read(self.index(), group, &self.summary_roots(), Some(selection), None)?;
        let mut summaries = Vec::with_capacity(traces.len());
        let mut wanted = traces.iter();
        for batch in &batches {
            let c = self.summary_columns(batch)?;
            let mut row = 0;
            while row < batch.num_rows() {
                let Some(trace) = wanted.next() else { break };
                let end = (row + trace.rows).min(batch.num_rows());
                summaries.push(self.summarise(&c, row, end)?);
                row = end;
            }
        }
        Ok(summaries)
    }

    fn summary_roots(&self) -> [usize; 8] {
        let columns = &self.data().columns;
        [
            columns.trace_id,
            columns.trace_start,
            columns.start_gap,
            columns.duration,
            columns.resource,
            columns.parent,
            columns.span_bits,
            columns.name,
        ]
    }

    /// Summaries of this block's part of each of `trace_ids` (absent traces are left out).
    pub fn summaries(&self, trace_ids: &[TraceId]) -> Result<Vec<TraceSummary>, BlockError> {
        let index = self.index();
        let mut by_group: Vec<Vec<TraceId>> = vec![Vec::new(); index.row_groups.len()];
        for &trace_id in trace_ids {
            if index.bloom.may_contain(trace_id) {
                for group in self.row_groups_of(trace_id) {
                    by_group[group].push(trace_id);
                }
            }
        }
        let mut summaries = Vec::new();
        for (group, wanted) in by_group.iter().enumerate() {
            if wanted.is_empty() {
                continue;
            }
            for batch in
                self.data().read(index, group, &self.summary_roots(), None, Some(wanted))?
            {
                let c = self.summary_columns(&batch)?;
                let rows = batch.num_rows();
                let mut row = 0;
                while row < rows {
                    let first = row;
                    row += 1;
                    while row < rows && c.trace_start.is_null(row) {
                        row += 1;
                    }
                    summaries.push(self.summarise(&c, first, row)?);
                }
            }
        }
        Ok(summaries)
    }

    fn has_inline_shapes(&self) -> bool {
        self.index().has_inline_shapes
    }

    fn prepare<'q>(&self, filter: &'q AttributeFilter) -> PreparedFilter<'q> {
        let index = self.index();
        let by_resource = index
            .resources
            .iter()
            .map(|r| r.attributes.get(&filter.key).is_some_and(|v| filter.matches_value(v)))
            .collect();
        let places = index
            .shapes
            .iter()
            .map(|shape| match shape.find(&filter.key) {
                None => KeyPlace::Absent,
                Some((_, Slot::Dedicated(i))) => KeyPlace::Dedicated(usize::from(i)),
                Some((position, Slot::Generic(tag))) => KeyPlace::Packed {
                    before: shape.entries[..position]
                        .iter()
                        .filter_map(|(_, slot)| match slot {
                            Slot::Generic(tag) => Some(*tag),
                            Slot::Dedicated(_) => None,
                        })
                        .collect(),
                    tag,
                },
            })
            .collect();
        PreparedFilter { filter, by_resource, places }
    }

    fn filter_columns<'a>(
        &self,
        batch: &'a RecordBatch,
        conditions: &Conditions<'_>,
    ) -> Result<FilterColumns<'a>, BlockError> {
        use super::schema as s;
        let optional = |name: &str| batch.column_by_name(name);
        let dedicated = self
            .index()
            .dedicated
            .iter()
            .enumerate()
            .map(|(i, (key, kind))| {
                if !conditions.dedicated.get(i).copied().unwrap_or(false) {
                    return Ok(None);
                }
                let array = optional(&s::dedicated_column(key))
                    .ok_or_else(|| corrupt("dedicated column not read"))?;
                DedicatedValues::new(array, *kind, key).map(Some)
            })
            .collect::<Result<_, BlockError>>()?;
        Ok(FilterColumns {
            trace_start: primitive(batch, s::TRACE_START)?,
            start_gap: optional(s::START_GAP)
                .map(|_| primitive(batch, s::START_GAP))
                .transpose()?,
            duration: optional(s::DURATION).map(|_| primitive(batch, s::DURATION)).transpose()?,
            resource: optional(s::RESOURCE).map(|_| primitive(batch, s::RESOURCE)).transpose()?,
            span_bits: optional(s::SPAN_BITS)
                .map(|_| primitive(batch, s::SPAN_BITS))
                .transpose()?,
            name: optional(s::NAME).map(|names| TextColumn::new(names, s::NAME)).transpose()?,
            attributes: optional(s::ATTRIBUTES)
                .map(|a| {
                    a.as_binary_opt::<i32>()
                        .ok_or_else(|| corrupt("attributes of an unexpected type"))
                })
                .transpose()?,
            dedicated,
        })
    }

    fn summary_columns<'a>(
        &self,
        batch: &'a RecordBatch,
    ) -> Result<SummaryColumns<'a>, BlockError> {
        use super::schema as s;
        let by_name = |name: &str| {
            batch.column_by_name(name).ok_or_else(|| corrupt(format!("no column {name}")))
        };
        Ok(SummaryColumns {
            trace_id: by_name(s::TRACE_ID)?
                .as_fixed_size_binary_opt()
                .ok_or_else(|| corrupt("trace ids of an unexpected type"))?,
            trace_start: primitive(batch, s::TRACE_START)?,
            start_gap: primitive(batch, s::START_GAP)?,
            duration: primitive(batch, s::DURATION)?,
            resource: primitive(batch, s::RESOURCE)?,
            parent: primitive(batch, s::PARENT)?,
            span_bits: primitive(batch, s::SPAN_BITS)?,
            name: TextColumn::new(by_name(s::NAME)?, s::NAME)?,
        })
    }

    /// Whether one row satisfies every condition; `start` is the row's start when the
    /// conditions need it.
    fn row_matches(
        &self,
        conditions: &Conditions<'_>,
        c: &FilterColumns<'_>,
        row: usize,
        start: u64,
        name_ok: Option<&[bool]>,
    ) -> Result<bool, BlockError> {
        let query = conditions.query;
        if conditions.times && (start < query.start_unix_nano || start > query.end_unix_nano) {
            return Ok(false);
        }
        if let Some(durations) = c.duration {
            let end = start.wrapping_add(durations.value(row) as u64);
            let duration = end.saturating_sub(start);
            if query.min_duration_nanos.is_some_and(|min| duration < min)
                || query.max_duration_nanos.is_some_and(|max| duration > max)
            {
                return Ok(false);
            }
        }
        if let (Some(names), Some(name_ok)) = (&c.name, name_ok) {
            let key = names.key(row).and_then(|k| usize::try_from(k).ok());
            if !key.and_then(|k| name_ok.get(k)).copied().unwrap_or(false) {
                return Ok(false);
            }
        }
        if query.errors_only {
            let bits = c.span_bits.ok_or_else(|| corrupt("span bits not read"))?;
            if SpanBits::status_code_of(bits.value(row)) != StatusCode::Error as u8 {
                return Ok(false);
            }
        }
        let resource = c.resource.map(|r| r.value(row) as usize);
        if let (Some(service_ok), Some(resource)) = (&conditions.service_ok, resource)
            && !service_ok.get(resource).copied().ok_or_else(|| corrupt("resource out of range"))?
        {
            return Ok(false);
        }
        for filter in &conditions.filters {
            if resource.and_then(|r| filter.by_resource.get(r)).copied().unwrap_or(false) {
                continue;
            }
            if !self.span_attribute_matches(c, row, filter)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn span_attribute_matches(
        &self,
        c: &FilterColumns<'_>,
        row: usize,
        filter: &PreparedFilter<'_>,
    ) -> Result<bool, BlockError> {
        let bits = c.span_bits.ok_or_else(|| corrupt("span bits not read"))?;
        let shape = SpanBits::shape_of(bits.value(row)).ok_or_else(|| corrupt("bad span bits"))?;
        let wanted = filter.filter.value.as_str();
        let Some(shape) = shape else {
            let packed = c.attributes.ok_or_else(|| corrupt("attributes not read"))?;
            let mut reader = Reader::new(packed.value(row));
            let entries = reader.key_values().map_err(from_corrupt)?;
            let first = entries.iter().find(|kv| kv.key == filter.filter.key.as_str());
            return Ok(first.is_some_and(|kv| value_reads_as(&kv.value, wanted)));
        };
        let place =
            filter.places.get(shape as usize).ok_or_else(|| corrupt("shape out of range"))?;
        Ok(match place {
            KeyPlace::Absent => false,
            KeyPlace::Dedicated(i) => {
                let column = c
                    .dedicated
                    .get(*i)
                    .and_then(Option::as_ref)
                    .ok_or_else(|| corrupt("dedicated column not read"))?;
                match column {
                    DedicatedValues::Str(text) => text.get(row)?.is_some_and(|v| v == wanted),
                    DedicatedValues::Int(ints) => {
                        ints.is_valid(row)
                            && wanted.parse::<i64>().is_ok_and(|w| w == ints.value(row))
                    }
                }
            }
            KeyPlace::Packed { before, tag } => {
                let packed = c.attributes.ok_or_else(|| corrupt("attributes not read"))?;
                let mut reader = Reader::new(packed.value(row));
                for skipped in before {
                    reader.skip_payload(*skipped).map_err(from_corrupt)?;
                }
                let value = reader.payload(*tag).map_err(from_corrupt)?;
                value_reads_as(&value, wanted)
            }
        })
    }

    /// The summary of one trace's rows `first..end` of a summary batch.
    fn summarise(
        &self,
        c: &SummaryColumns<'_>,
        first: usize,
        end: usize,
    ) -> Result<TraceSummary, BlockError> {
        let trace_id = trace_id_at(c.trace_id, first)?;
        let Some(mut start) = c.trace_start.is_valid(first).then(|| c.trace_start.value(first))
        else {
            return Err(corrupt("a trace's first row has no trace start"));
        };
        let mut builder = SummaryBuilder::default();
        for row in first..end {
            start = start.wrapping_add(c.start_gap.value(row) as u64);
            let span_end = start.wrapping_add(c.duration.value(row) as u64);
            let resource = self
                .index()
                .resources
                .get(c.resource.value(row) as usize)
                .ok_or_else(|| corrupt("resource out of range"))?;
            let name = c.name.get(row)?.map(|n| n.as_str()).unwrap_or_default();
            builder.add(
                trace_id,
                resource.service_name(),
                name,
                c.parent.value(row) == ROOT,
                start,
                span_end,
                SpanBits::status_code_of(c.span_bits.value(row)) == StatusCode::Error as u8,
            );
        }
        builder.finish().ok_or_else(|| corrupt("empty trace"))
    }
}
