//! Searching one block: prune by the index (catalog, time range, row-group times), read only
//! the columns the query needs, test each span, and summarise the matching traces from cheap
//! columns.

use std::cmp::Reverse;
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

/// The columns a search reads, typed.
struct SearchColumns<'a> {
    trace_id: &'a arrow_array::FixedSizeBinaryArray,
    trace_start: &'a PrimitiveArray<UInt64Type>,
    start_gap: &'a PrimitiveArray<Int64Type>,
    duration: &'a PrimitiveArray<Int64Type>,
    resource: &'a PrimitiveArray<UInt32Type>,
    parent: &'a PrimitiveArray<Int32Type>,
    span_bits: &'a PrimitiveArray<UInt64Type>,
    name: TextColumn<'a>,
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

/// A span row as the summary and the time/duration filters see it.
struct Row {
    start: u64,
    end: u64,
}

impl Block {
    /// Summaries (of this block's part of each trace) of up to `query.effective_limit()` newest
    /// traces with a span matching `query`, newest first.
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
        let service_ok: Vec<bool> = index
            .resources
            .iter()
            .map(|r| query.service.as_deref().is_none_or(|s| r.service_name() == s))
            .collect();
        let filters: Vec<PreparedFilter<'_>> =
            query.attributes.iter().map(|f| self.prepare(f)).collect();

        let columns = &self.data().columns;
        let mut roots = vec![
            columns.trace_id,
            columns.trace_start,
            columns.start_gap,
            columns.duration,
            columns.resource,
            columns.parent,
            columns.span_bits,
            columns.name,
        ];
        let needs_packed = filters.iter().any(|f| {
            f.places.iter().any(|p| matches!(p, KeyPlace::Packed { .. }))
                || self.has_inline_shapes()
        });
        if needs_packed {
            roots.push(columns.attributes);
        }
        let mut needed_dedicated = vec![false; index.dedicated.len()];
        for filter in &filters {
            for place in &filter.places {
                if let KeyPlace::Dedicated(i) = place {
                    needed_dedicated[*i] = true;
                }
            }
        }
        for (i, needed) in needed_dedicated.iter().enumerate() {
            if *needed {
                roots.push(columns.dedicated[i]);
            }
        }

        // The newest `limit` summaries so far, oldest on top.
        let mut newest: BinaryHeap<Reverse<(u64, Reverse<TraceId>)>> = BinaryHeap::new();
        let mut summaries: Vec<TraceSummary> = Vec::new();
        for (group, info) in index.row_groups.iter().enumerate() {
            let cannot_match = info.max_start < query.start_unix_nano
                || info.min_start > query.end_unix_nano
                || query.min_duration_nanos.is_some_and(|min| info.max_duration < min)
                || query.max_duration_nanos.is_some_and(|max| info.min_duration > max)
                || (query.errors_only && info.error_count == 0);
            if cannot_match {
                continue;
            }
            for batch in self.data().read(index, group, &roots, None, None)? {
                let c = self.search_columns(&batch, &needed_dedicated)?;
                let name_ok: Vec<bool> = c
                    .name
                    .values()
                    .iter()
                    .map(|n| query.operation.as_deref().is_none_or(|o| n == o))
                    .collect();
                let mut row = 0;
                let rows = batch.num_rows();
                while row < rows {
                    // One trace: rows from `row` up to the next trace start.
                    let first = row;
                    let trace_start = c.trace_start.is_valid(row).then(|| c.trace_start.value(row));
                    let Some(trace_start) = trace_start else {
                        return Err(corrupt("a trace's first row has no trace start"));
                    };
                    let mut end = row + 1;
                    while end < rows && c.trace_start.is_null(end) {
                        end += 1;
                    }
                    row = end;
                    let mut times = Vec::with_capacity(end - first);
                    let mut start = trace_start;
                    let mut matched = false;
                    for r in first..end {
                        start = start.wrapping_add(c.start_gap.value(r) as u64);
                        let span_end = start.wrapping_add(c.duration.value(r) as u64);
                        times.push(Row { start, end: span_end });
                        if !matched {
                            matched = self.row_matches(
                                query,
                                &c,
                                r,
                                start,
                                span_end,
                                &service_ok,
                                &name_ok,
                                &filters,
                            )?;
                        }
                    }
                    if !matched {
                        continue;
                    }
                    let trace_id = trace_id_at(c.trace_id, first)?;
                    // Rows are sorted by start, so the first row starts the trace's part.
                    let key = (trace_start, Reverse(trace_id));
                    if newest.len() >= limit
                        && newest.peek().is_some_and(|Reverse(oldest)| key <= *oldest)
                    {
                        continue;
                    }
                    newest.push(Reverse(key));
                    if newest.len() > limit {
                        newest.pop();
                    }
                    summaries.push(self.summarise(&c, trace_id, first, &times)?);
                }
            }
        }
        summaries.sort_by(|a, b| {
            b.start_unix_nano.cmp(&a.start_unix_nano).then_with(|| a.trace_id.cmp(&b.trace_id))
        });
        summaries.truncate(limit);
        Ok(summaries)
    }

    /// Summaries of this block's part of each of `trace_ids` (absent traces are left out).
    pub fn summaries(&self, trace_ids: &[TraceId]) -> Result<Vec<TraceSummary>, BlockError> {
        let index = self.index();
        let mut by_group: Vec<Vec<TraceId>> = vec![Vec::new(); index.row_groups.len()];
        for &trace_id in trace_ids {
            if self.index().bloom.may_contain(trace_id) {
                for group in self.row_groups_of(trace_id) {
                    by_group[group].push(trace_id);
                }
            }
        }
        let columns = &self.data().columns;
        let roots = [
            columns.trace_id,
            columns.trace_start,
            columns.start_gap,
            columns.duration,
            columns.resource,
            columns.parent,
            columns.span_bits,
            columns.name,
        ];
        let mut summaries = Vec::new();
        for (group, wanted) in by_group.iter().enumerate() {
            if wanted.is_empty() {
                continue;
            }
            for batch in self.data().read(index, group, &roots, None, Some(wanted))? {
                let c = self.search_columns(&batch, &[])?;
                let rows = batch.num_rows();
                let mut row = 0;
                while row < rows {
                    let first = row;
                    let Some(trace_start) =
                        c.trace_start.is_valid(row).then(|| c.trace_start.value(row))
                    else {
                        return Err(corrupt("a trace's first row has no trace start"));
                    };
                    let mut end = row + 1;
                    while end < rows && c.trace_start.is_null(end) {
                        end += 1;
                    }
                    row = end;
                    let mut start = trace_start;
                    let times: Vec<Row> = (first..end)
                        .map(|r| {
                            start = start.wrapping_add(c.start_gap.value(r) as u64);
                            Row { start, end: start.wrapping_add(c.duration.value(r) as u64) }
                        })
                        .collect();
                    summaries.push(self.summarise(
                        &c,
                        trace_id_at(c.trace_id, first)?,
                        first,
                        &times,
                    )?);
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

    fn search_columns<'a>(
        &self,
        batch: &'a RecordBatch,
        needed_dedicated: &[bool],
    ) -> Result<SearchColumns<'a>, BlockError> {
        use super::schema as s;
        let by_name = |name: &str| {
            batch.column_by_name(name).ok_or_else(|| corrupt(format!("no column {name}")))
        };
        let dedicated = self
            .index()
            .dedicated
            .iter()
            .enumerate()
            .map(|(i, (key, kind))| {
                if !needed_dedicated.get(i).copied().unwrap_or(false) {
                    return Ok(None);
                }
                let array = by_name(&s::dedicated_column(key))?;
                DedicatedValues::new(array, *kind, key).map(Some)
            })
            .collect::<Result<_, BlockError>>()?;
        Ok(SearchColumns {
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
            attributes: batch.column_by_name(s::ATTRIBUTES).and_then(|c| c.as_binary_opt::<i32>()),
            dedicated,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn row_matches(
        &self,
        query: &TraceQuery,
        c: &SearchColumns<'_>,
        row: usize,
        start: u64,
        end: u64,
        service_ok: &[bool],
        name_ok: &[bool],
        filters: &[PreparedFilter<'_>],
    ) -> Result<bool, BlockError> {
        let duration = end.saturating_sub(start);
        let resource = c.resource.value(row) as usize;
        let basic = start >= query.start_unix_nano
            && start <= query.end_unix_nano
            && service_ok.get(resource).copied().ok_or_else(|| corrupt("resource out of range"))?
            && c.name
                .key(row)
                .and_then(|k| name_ok.get(usize::try_from(k).ok()?))
                .copied()
                .unwrap_or(false)
            && query.min_duration_nanos.is_none_or(|min| duration >= min)
            && query.max_duration_nanos.is_none_or(|max| duration <= max)
            && (!query.errors_only
                || SpanBits::status_code_of(c.span_bits.value(row)) == StatusCode::Error as u8);
        if !basic {
            return Ok(false);
        }
        for filter in filters {
            if filter.by_resource.get(resource).copied().unwrap_or(false) {
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
        c: &SearchColumns<'_>,
        row: usize,
        filter: &PreparedFilter<'_>,
    ) -> Result<bool, BlockError> {
        let shape =
            SpanBits::shape_of(c.span_bits.value(row)).ok_or_else(|| corrupt("bad span bits"))?;
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

    fn summarise(
        &self,
        c: &SearchColumns<'_>,
        trace_id: TraceId,
        first: usize,
        times: &[Row],
    ) -> Result<TraceSummary, BlockError> {
        let mut builder = SummaryBuilder::default();
        for (i, time) in times.iter().enumerate() {
            let row = first + i;
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
                time.start,
                time.end,
                SpanBits::status_code_of(c.span_bits.value(row)) == StatusCode::Error as u8,
            );
        }
        builder.finish().ok_or_else(|| corrupt("empty trace"))
    }
}
