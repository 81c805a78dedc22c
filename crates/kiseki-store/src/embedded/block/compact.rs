//! Compaction: merges blocks into one by a k-way merge on trace id, streaming each input a
//! batch of rows at a time, so memory stays bounded by the number of inputs, not their size.
//! Parts of one trace from several inputs become one trace; no span is dropped or repeated.

use std::collections::VecDeque;
use std::path::Path;

use kiseki_model::{Span, Str, TraceId};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use super::read::SpanDecoder;
use super::schema::DedicatedType;
use super::{Block, BlockError, BlockId, publish};

/// Rows decoded at a time from each input.
const BATCH_ROWS: usize = 4_096;

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
                        self.decoder.decode(&batch, &self.block.data().columns, &mut |trace| {
                            ready.push_back(trace);
                            Ok(())
                        })?;
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
            self.reader = Some(self.open_group(group)?);
        }
    }

    fn open_group(&self, group: usize) -> Result<ParquetRecordBatchReader, BlockError> {
        let data = self.block.data();
        let loaded = data.load_all(self.block.index(), group)?;
        let metadata = data.metadata().clone();
        let mask = ProjectionMask::all();
        Ok(ParquetRecordBatchReaderBuilder::new_with_metadata(loaded, metadata)
            .with_row_groups(vec![group])
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .build()?)
    }
}

/// Merges `blocks` into a new block `id` at `level` in `blocks_dir`. The inputs stay; the
/// caller removes them ([`Block::remove`]) once the new block is published.
pub fn compact(
    blocks: &[&Block],
    blocks_dir: &Path,
    id: BlockId,
    level: u32,
) -> Result<Block, BlockError> {
    let mut cursors: Vec<TraceCursor<'_>> =
        blocks.iter().map(|block| TraceCursor::new(block)).collect();
    // Every dedicated column of any input, so that no value moves out of its column.
    let mut dedicated: Vec<(Str, DedicatedType)> = Vec::new();
    for block in blocks {
        for entry in &block.index().dedicated {
            if !dedicated.contains(entry) {
                dedicated.push(entry.clone());
            }
        }
    }
    publish(blocks_dir, id, level, dedicated, |writer| {
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
