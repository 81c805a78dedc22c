//! Jaeger's Thrift structs (`jaeger.thrift`, `agent.thrift`) read and written with either protocol.
//!
//! HTTP 14268 carries a bare `Batch`; the agent's UDP ports carry an `emitBatch` call whose
//! argument struct holds the `Batch` in field 1. Ids are signed i64 halves, times microseconds.

use kiseki_model::{AnyValue, SpanId, Str, TraceId};

use super::error::DecodeError;
use super::wire::{
    JaegerSpan, Log, Process, RefType, Reference, TagSink, micros_to_nanos, nanos_to_micros,
};
use crate::limits;
use crate::thrift::{FieldType, ThriftReader, ThriftWriter};

/// What one `Batch` holds.
#[derive(Debug, Default)]
pub(crate) struct ThriftBatch {
    pub process: Option<Process>,
    pub spans: Vec<JaegerSpan>,
}

/// Most list elements reserved ahead; longer lists grow as they are read.
const MAX_RESERVE: usize = 64;

const EMIT_BATCH: &str = "emitBatch";
const EMIT_ZIPKIN_BATCH: &str = "emitZipkinBatch";
/// Thrift message types: a call, and a call that expects no reply.
const MESSAGE_CALL: u8 = 1;
const MESSAGE_ONEWAY: u8 = 4;

/// Reads an `emitBatch` message: its header, then the argument struct with the batch.
pub(crate) fn read_emit_batch<'a>(
    reader: &mut impl ThriftReader<'a>,
) -> Result<ThriftBatch, DecodeError> {
    let header = reader.read_message_begin()?;
    match header.name {
        EMIT_BATCH => {}
        EMIT_ZIPKIN_BATCH => return Err(DecodeError::ZipkinBatch),
        other => return Err(DecodeError::UnknownMessage(other.chars().take(64).collect())),
    }
    // Older Thrift generators send oneway calls as plain calls.
    if header.kind != MESSAGE_ONEWAY && header.kind != MESSAGE_CALL {
        return Err(DecodeError::MessageType(header.kind));
    }
    let mut batch = None;
    reader.read_struct_begin()?;
    while let Some(field) = reader.read_field_begin()? {
        match field.id {
            1 => {
                field.expect(FieldType::Struct)?;
                batch = Some(read_batch(reader)?);
            }
            _ => reader.skip(field.ty)?,
        }
    }
    reader.read_struct_end()?;
    batch.ok_or(DecodeError::MissingBatch)
}

/// Reads one `Batch` struct.
pub(crate) fn read_batch<'a>(
    reader: &mut impl ThriftReader<'a>,
) -> Result<ThriftBatch, DecodeError> {
    let mut batch = ThriftBatch::default();
    reader.read_struct_begin()?;
    while let Some(field) = reader.read_field_begin()? {
        match field.id {
            1 => {
                field.expect(FieldType::Struct)?;
                batch.process = Some(read_process(reader)?);
            }
            2 => {
                field.expect(FieldType::List)?;
                let count = read_struct_list_begin(reader, field.id)?;
                batch.spans.reserve(count.min(MAX_RESERVE));
                for index in 0..count {
                    let span = read_span(reader).map_err(|e| e.in_span(index))?;
                    batch.spans.push(span);
                }
            }
            _ => reader.skip(field.ty)?,
        }
    }
    reader.read_struct_end()?;
    Ok(batch)
}

/// Starts a list whose elements must be structs; an empty list may declare any element type.
fn read_struct_list_begin<'a>(
    reader: &mut impl ThriftReader<'a>,
    field: i16,
) -> Result<usize, DecodeError> {
    let (element, count) = reader.read_list_begin()?;
    if count > 0 && element != FieldType::Struct {
        return Err(DecodeError::ListElement {
            field,
            found: element,
            expected: FieldType::Struct,
        });
    }
    Ok(count)
}

fn read_process<'a>(reader: &mut impl ThriftReader<'a>) -> Result<Process, DecodeError> {
    let mut process = Process::default();
    reader.read_struct_begin()?;
    while let Some(field) = reader.read_field_begin()? {
        match field.id {
            1 => {
                field.expect(FieldType::Binary)?;
                process.service_name = Str::new(reader.read_string()?);
            }
            2 => {
                field.expect(FieldType::List)?;
                process.tags = read_tags(reader, field.id)?.finish();
            }
            _ => reader.skip(field.ty)?,
        }
    }
    reader.read_struct_end()?;
    Ok(process)
}

/// The fields of a `Span` as read, before they are checked.
#[derive(Default)]
struct RawSpan {
    trace_id_low: i64,
    trace_id_high: i64,
    span_id: i64,
    parent_span_id: i64,
    operation_name: Str,
    references: Vec<Reference>,
    flags: i32,
    start_time: i64,
    duration: i64,
    tags: Option<TagSink>,
    logs: Vec<Log>,
}

fn read_span<'a>(reader: &mut impl ThriftReader<'a>) -> Result<JaegerSpan, DecodeError> {
    let mut raw = RawSpan::default();
    reader.read_struct_begin()?;
    while let Some(field) = reader.read_field_begin()? {
        match field.id {
            1 => raw.trace_id_low = read_i64(reader, field)?,
            2 => raw.trace_id_high = read_i64(reader, field)?,
            3 => raw.span_id = read_i64(reader, field)?,
            4 => raw.parent_span_id = read_i64(reader, field)?,
            5 => {
                field.expect(FieldType::Binary)?;
                raw.operation_name = Str::new(reader.read_string()?);
            }
            6 => {
                field.expect(FieldType::List)?;
                let count = read_struct_list_begin(reader, field.id)?;
                raw.references.reserve(count.min(MAX_RESERVE));
                for index in 0..count {
                    limits::check_link_count(raw.references.len())?;
                    let reference = read_reference(reader).map_err(|e| e.in_reference(index))?;
                    raw.references.push(reference);
                }
            }
            7 => {
                field.expect(FieldType::I32)?;
                raw.flags = reader.read_i32()?;
            }
            8 => raw.start_time = read_i64(reader, field)?,
            9 => raw.duration = read_i64(reader, field)?,
            10 => {
                field.expect(FieldType::List)?;
                raw.tags = Some(read_tags(reader, field.id)?);
            }
            11 => {
                field.expect(FieldType::List)?;
                let count = read_struct_list_begin(reader, field.id)?;
                raw.logs.reserve(count.min(MAX_RESERVE));
                for _ in 0..count {
                    limits::check_event_count(raw.logs.len())?;
                    raw.logs.push(read_log(reader)?);
                }
            }
            _ => reader.skip(field.ty)?,
        }
    }
    reader.read_struct_end()?;

    let trace_id = TraceId::from_halves(raw.trace_id_high as u64, raw.trace_id_low as u64)
        .ok_or(DecodeError::ZeroTraceId)?;
    let span_id = SpanId::new(raw.span_id as u64).ok_or(DecodeError::ZeroSpanId)?;
    let start_time_unix_nano = micros_to_nanos(raw.start_time)
        .ok_or(DecodeError::TimeOutOfRange { what: "start time" })?;
    let end_time_unix_nano = raw
        .start_time
        .checked_add(raw.duration)
        .and_then(micros_to_nanos)
        .ok_or(DecodeError::TimeOutOfRange { what: "start time plus duration" })?;
    Ok(JaegerSpan {
        trace_id,
        span_id,
        parent_span_id: SpanId::new(raw.parent_span_id as u64),
        operation_name: raw.operation_name,
        references: raw.references,
        // The bits are what matters; a negative i32 keeps them.
        flags: raw.flags as u32,
        start_time_unix_nano,
        end_time_unix_nano,
        tags: raw.tags.map(TagSink::finish).unwrap_or_default(),
        logs: raw.logs,
    })
}

fn read_i64<'a>(
    reader: &mut impl ThriftReader<'a>,
    field: crate::thrift::Field,
) -> Result<i64, DecodeError> {
    field.expect(FieldType::I64)?;
    Ok(reader.read_i64()?)
}

fn read_reference<'a>(reader: &mut impl ThriftReader<'a>) -> Result<Reference, DecodeError> {
    let (mut ref_type, mut low, mut high, mut span_id) = (0, 0, 0, 0);
    reader.read_struct_begin()?;
    while let Some(field) = reader.read_field_begin()? {
        match field.id {
            1 => {
                field.expect(FieldType::I32)?;
                ref_type = reader.read_i32()?;
            }
            2 => low = read_i64(reader, field)?,
            3 => high = read_i64(reader, field)?,
            4 => span_id = read_i64(reader, field)?,
            _ => reader.skip(field.ty)?,
        }
    }
    reader.read_struct_end()?;
    Ok(Reference {
        ref_type: RefType::from_number(ref_type),
        trace_id: TraceId::from_halves(high as u64, low as u64).ok_or(DecodeError::ZeroTraceId)?,
        span_id: SpanId::new(span_id as u64).ok_or(DecodeError::ZeroSpanId)?,
    })
}

fn read_log<'a>(reader: &mut impl ThriftReader<'a>) -> Result<Log, DecodeError> {
    let mut timestamp = 0;
    let mut fields = None;
    reader.read_struct_begin()?;
    while let Some(field) = reader.read_field_begin()? {
        match field.id {
            1 => timestamp = read_i64(reader, field)?,
            2 => {
                field.expect(FieldType::List)?;
                fields = Some(read_tags(reader, field.id)?);
            }
            _ => reader.skip(field.ty)?,
        }
    }
    reader.read_struct_end()?;
    let time_unix_nano =
        micros_to_nanos(timestamp).ok_or(DecodeError::TimeOutOfRange { what: "log timestamp" })?;
    Ok(Log { time_unix_nano, fields: fields.map(TagSink::finish).unwrap_or_default() })
}

/// Jaeger's `TagType` numbers.
const TAG_STRING: i32 = 0;
const TAG_DOUBLE: i32 = 1;
const TAG_BOOL: i32 = 2;
const TAG_LONG: i32 = 3;
const TAG_BINARY: i32 = 4;

/// Reads a `list<Tag>` after its field header.
fn read_tags<'a>(reader: &mut impl ThriftReader<'a>, field: i16) -> Result<TagSink, DecodeError> {
    let count = read_struct_list_begin(reader, field)?;
    let mut sink = TagSink::new();
    for _ in 0..count {
        let (key, value) = read_tag(reader)?;
        sink.insert(key, value)?;
    }
    Ok(sink)
}

/// One `Tag`: the value field that its type names; a missing value reads as the type's zero.
fn read_tag<'a>(reader: &mut impl ThriftReader<'a>) -> Result<(Str, AnyValue), DecodeError> {
    let mut key = "";
    let mut value_type = TAG_STRING;
    let (mut text, mut double, mut boolean, mut long, mut binary) = ("", 0.0, false, 0, &[][..]);
    reader.read_struct_begin()?;
    while let Some(field) = reader.read_field_begin()? {
        match field.id {
            1 => {
                field.expect(FieldType::Binary)?;
                key = reader.read_string()?;
            }
            2 => {
                field.expect(FieldType::I32)?;
                value_type = reader.read_i32()?;
            }
            3 => {
                field.expect(FieldType::Binary)?;
                text = reader.read_string()?;
            }
            4 => {
                field.expect(FieldType::Double)?;
                double = reader.read_double()?;
            }
            5 => {
                field.expect(FieldType::Bool)?;
                boolean = reader.read_bool()?;
            }
            6 => long = read_i64(reader, field)?,
            7 => {
                field.expect(FieldType::Binary)?;
                binary = reader.read_binary()?;
            }
            _ => reader.skip(field.ty)?,
        }
    }
    reader.read_struct_end()?;
    let value = match value_type {
        TAG_STRING => AnyValue::Str(Str::new(text)),
        TAG_DOUBLE => AnyValue::Double(double),
        TAG_BOOL => AnyValue::Bool(boolean),
        TAG_LONG => AnyValue::Int(long),
        TAG_BINARY => AnyValue::Bytes(binary.to_vec()),
        other => return Err(DecodeError::UnknownTagType { key: key.into(), value_type: other }),
    };
    Ok((Str::new(key), value))
}

/// Writes an `emitBatch` oneway call holding one batch.
pub(crate) fn write_emit_batch(
    writer: &mut impl ThriftWriter,
    process: &Process,
    spans: &[JaegerSpan],
) {
    writer.write_message_begin(EMIT_BATCH, MESSAGE_ONEWAY, 0);
    writer.write_struct_begin();
    writer.write_field_begin(FieldType::Struct, 1);
    write_batch(writer, process, spans);
    writer.write_field_stop();
    writer.write_struct_end();
}

/// Writes one `Batch` struct.
pub(crate) fn write_batch(writer: &mut impl ThriftWriter, process: &Process, spans: &[JaegerSpan]) {
    writer.write_struct_begin();
    writer.write_field_begin(FieldType::Struct, 1);
    write_process(writer, process);
    writer.write_field_begin(FieldType::List, 2);
    writer.write_list_begin(FieldType::Struct, spans.len());
    for span in spans {
        write_span(writer, span);
    }
    writer.write_field_stop();
    writer.write_struct_end();
}

fn write_process(writer: &mut impl ThriftWriter, process: &Process) {
    writer.write_struct_begin();
    writer.write_field_begin(FieldType::Binary, 1);
    writer.write_string(&process.service_name);
    if !process.tags.is_empty() {
        writer.write_field_begin(FieldType::List, 2);
        write_tags(writer, &process.tags);
    }
    writer.write_field_stop();
    writer.write_struct_end();
}

fn write_span(writer: &mut impl ThriftWriter, span: &JaegerSpan) {
    let start = nanos_to_micros(span.start_time_unix_nano);
    // Both ends in whole microseconds, so that start plus duration reads back as the end.
    let duration = nanos_to_micros(span.end_time_unix_nano).wrapping_sub(start);
    writer.write_struct_begin();
    write_i64_field(writer, 1, span.trace_id.low() as i64);
    write_i64_field(writer, 2, span.trace_id.high() as i64);
    write_i64_field(writer, 3, span.span_id.get() as i64);
    write_i64_field(writer, 4, span.parent_span_id.map_or(0, |id| id.get() as i64));
    writer.write_field_begin(FieldType::Binary, 5);
    writer.write_string(&span.operation_name);
    if !span.references.is_empty() {
        writer.write_field_begin(FieldType::List, 6);
        writer.write_list_begin(FieldType::Struct, span.references.len());
        for reference in &span.references {
            writer.write_struct_begin();
            writer.write_field_begin(FieldType::I32, 1);
            writer.write_i32(reference.ref_type.number());
            write_i64_field(writer, 2, reference.trace_id.low() as i64);
            write_i64_field(writer, 3, reference.trace_id.high() as i64);
            write_i64_field(writer, 4, reference.span_id.get() as i64);
            writer.write_field_stop();
            writer.write_struct_end();
        }
    }
    writer.write_field_begin(FieldType::I32, 7);
    writer.write_i32(span.flags as i32);
    write_i64_field(writer, 8, start);
    write_i64_field(writer, 9, duration);
    if !span.tags.is_empty() {
        writer.write_field_begin(FieldType::List, 10);
        write_tags(writer, &span.tags);
    }
    if !span.logs.is_empty() {
        writer.write_field_begin(FieldType::List, 11);
        writer.write_list_begin(FieldType::Struct, span.logs.len());
        for log in &span.logs {
            writer.write_struct_begin();
            write_i64_field(writer, 1, nanos_to_micros(log.time_unix_nano));
            writer.write_field_begin(FieldType::List, 2);
            write_tags(writer, &log.fields);
            writer.write_field_stop();
            writer.write_struct_end();
        }
    }
    writer.write_field_stop();
    writer.write_struct_end();
}

fn write_i64_field(writer: &mut impl ThriftWriter, id: i16, value: i64) {
    writer.write_field_begin(FieldType::I64, id);
    writer.write_i64(value);
}

/// Writes a `list<Tag>`; values are scalars (see [`super::wire::scalar_tag_value`]), anything
/// else is written as its text.
fn write_tags(writer: &mut impl ThriftWriter, tags: &kiseki_model::Attributes) {
    writer.write_list_begin(FieldType::Struct, tags.len());
    for kv in tags {
        writer.write_struct_begin();
        writer.write_field_begin(FieldType::Binary, 1);
        writer.write_string(&kv.key);
        let value_type = match &kv.value {
            AnyValue::Double(_) => TAG_DOUBLE,
            AnyValue::Bool(_) => TAG_BOOL,
            AnyValue::Int(_) => TAG_LONG,
            AnyValue::Bytes(_) => TAG_BINARY,
            _ => TAG_STRING,
        };
        writer.write_field_begin(FieldType::I32, 2);
        writer.write_i32(value_type);
        match &kv.value {
            AnyValue::Double(value) => {
                writer.write_field_begin(FieldType::Double, 4);
                writer.write_double(*value);
            }
            AnyValue::Bool(value) => {
                writer.write_field_begin(FieldType::Bool, 5);
                writer.write_bool(*value);
            }
            AnyValue::Int(value) => write_i64_field(writer, 6, *value),
            AnyValue::Bytes(value) => {
                writer.write_field_begin(FieldType::Binary, 7);
                writer.write_binary(value);
            }
            AnyValue::Str(value) => {
                writer.write_field_begin(FieldType::Binary, 3);
                writer.write_string(value);
            }
            other => {
                writer.write_field_begin(FieldType::Binary, 3);
                writer.write_string(&other.to_string());
            }
        }
        writer.write_field_stop();
        writer.write_struct_end();
    }
}
