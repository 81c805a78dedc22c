"""Schema-less decoders that pull span identities out of captured requests.

Used to check that a capture really carries the spans its emitter reported. Each decoder returns
a list of {"trace_id", "span_id", "parent_span_id", "name", "service", "error"} (ids as lowercase
hex, trace ids 32 digits), or None when the request is not a span-carrying request.
Needs `msgpack` and `thrift` (the `capture` virtualenv has both).
"""

import gzip
import json
import zlib

U64 = (1 << 64) - 1


# --- protobuf wire format, no schema -------------------------------------------------------------

def _varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def pb(buf):
    """Splits one protobuf message into {field_number: [values]} (bytes for length-delimited)."""
    out = {}
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            length, i = _varint(buf, i)
            value, i = buf[i:i + length], i + length
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        out.setdefault(field, []).append(value)
    return out


def _one(fields, n, default=None):
    values = fields.get(n)
    return values[0] if values else default


def _hex(b, width):
    return b.hex().rjust(width, "0") if b else None


def _pb_str_attr(kvs, wanted, key_field=1, value_field=2, str_field=1):
    for kv in kvs:
        f = pb(kv)
        if _one(f, key_field, b"").decode() == wanted:
            return _one(pb(_one(f, value_field, b"")), str_field, b"").decode()
    return None


def otlp_proto(body):
    spans = []
    for rs in pb(body).get(1, []):
        rs = pb(rs)
        service = _pb_str_attr(pb(_one(rs, 1, b"")).get(1, []), "service.name")
        for ss in rs.get(2, []):
            for sp in pb(ss).get(2, []):
                sp = pb(sp)
                status = pb(_one(sp, 15, b""))
                spans.append({
                    "trace_id": _hex(_one(sp, 1), 32),
                    "span_id": _hex(_one(sp, 2), 16),
                    "parent_span_id": _hex(_one(sp, 4), 16),
                    "name": _one(sp, 5, b"").decode(),
                    "service": service,
                    "error": _one(status, 3, 0) == 2,
                })
    return spans


def _json_id(value, width):
    """An OTLP JSON id: hex as the OTLP spec says, or base64 as generic protobuf JSON would."""
    if not value:
        return None
    if len(value) == width and all(c in "0123456789abcdefABCDEF" for c in value):
        return value.lower()
    import base64
    return base64.b64decode(value).hex().rjust(width, "0")


def otlp_json(body):
    spans = []
    for rs in json.loads(body).get("resourceSpans", []):
        service = None
        for kv in (rs.get("resource") or {}).get("attributes", []):
            if kv.get("key") == "service.name":
                service = kv.get("value", {}).get("stringValue")
        for ss in rs.get("scopeSpans", []):
            for sp in ss.get("spans", []):
                code = (sp.get("status") or {}).get("code", 0)
                spans.append({
                    "trace_id": _json_id(sp.get("traceId"), 32),
                    "span_id": _json_id(sp.get("spanId"), 16),
                    "parent_span_id": _json_id(sp.get("parentSpanId"), 16),
                    "name": sp.get("name"),
                    "service": service,
                    "error": code in (2, "STATUS_CODE_ERROR"),
                })
    return spans


def zipkin_proto(body):
    spans = []
    for sp in pb(body).get(1, []):
        sp = pb(sp)
        tags = {}
        for entry in sp.get(11, []):
            e = pb(entry)
            tags[_one(e, 1, b"").decode()] = _one(e, 2, b"").decode()
        spans.append({
            "trace_id": _hex(_one(sp, 1), 32),
            "span_id": _hex(_one(sp, 3), 16),
            "parent_span_id": _hex(_one(sp, 2), 16),
            "name": _one(sp, 5, b"").decode(),
            "service": _one(pb(_one(sp, 8, b"")), 1, b"").decode() or None,
            "error": "error" in tags,
        })
    return spans


def jaeger_proto(body):
    spans = []
    for batch in pb(body).get(1, []):
        batch = pb(batch)
        batch_service = _one(pb(_one(batch, 2, b"")), 1, b"").decode() or None
        for sp in batch.get(1, []):
            sp = pb(sp)
            parent = None
            for ref in sp.get(4, []):
                ref = pb(ref)
                if _one(ref, 3, 0) == 0:
                    parent = _hex(_one(ref, 2), 16)
            error = False
            for kv in sp.get(8, []):
                kv = pb(kv)
                if _one(kv, 1, b"") == b"error" and _one(kv, 4, 0):
                    error = True
            own = _one(pb(_one(sp, 10, b"")), 1, b"").decode() or None
            spans.append({
                "trace_id": _hex(_one(sp, 1), 32),
                "span_id": _hex(_one(sp, 2), 16),
                "parent_span_id": parent,
                "name": _one(sp, 3, b"").decode(),
                "service": own or batch_service,
                "error": error,
            })
    return spans


# --- thrift, no generated code -------------------------------------------------------------------

def _thrift_value(p, ttype):
    from thrift.Thrift import TType
    if ttype == TType.STRUCT:
        p.readStructBegin()
        out = {}
        while True:
            _, ftype, fid = p.readFieldBegin()
            if ftype == TType.STOP:
                break
            out[fid] = _thrift_value(p, ftype)
            p.readFieldEnd()
        p.readStructEnd()
        return out
    if ttype in (TType.LIST, TType.SET):
        etype, size = p.readListBegin() if ttype == TType.LIST else p.readSetBegin()
        items = [_thrift_value(p, etype) for _ in range(size)]
        p.readListEnd() if ttype == TType.LIST else p.readSetEnd()
        return items
    if ttype == TType.MAP:
        ktype, vtype, size = p.readMapBegin()
        items = {_thrift_value(p, ktype): _thrift_value(p, vtype) for _ in range(size)}
        p.readMapEnd()
        return items
    return {
        TType.BOOL: p.readBool, TType.BYTE: p.readByte, TType.I16: p.readI16,
        TType.I32: p.readI32, TType.I64: p.readI64, TType.DOUBLE: p.readDouble,
        TType.STRING: p.readBinary,
    }[ttype]()


def _protocol(body, compact):
    from thrift.protocol import TBinaryProtocol, TCompactProtocol
    from thrift.transport import TTransport
    transport = TTransport.TMemoryBuffer(body)
    if compact:
        return TCompactProtocol.TCompactProtocol(transport)
    return TBinaryProtocol.TBinaryProtocol(transport)


def _jaeger_batch(batch):
    service = batch.get(1, {}).get(1, b"").decode() or None
    spans = []
    for sp in batch.get(2, []):
        parent = sp.get(4, 0) & U64
        if not parent:
            for ref in sp.get(6, []):
                if ref.get(1) == 0:
                    parent = ref.get(4, 0) & U64
        error = any(t.get(1) == b"error" and t.get(5) for t in sp.get(10, []))
        spans.append({
            "trace_id": f"{sp.get(2, 0) & U64:016x}{sp.get(1, 0) & U64:016x}",
            "span_id": f"{sp.get(3, 0) & U64:016x}",
            "parent_span_id": f"{parent:016x}" if parent else None,
            "name": sp.get(5, b"").decode(),
            "service": service,
            "error": error,
        })
    return spans


def jaeger_thrift_udp(body):
    from thrift.Thrift import TType
    compact = body[:1] == b"\x82"
    p = _protocol(body, compact)
    p.readMessageBegin()
    args = _thrift_value(p, TType.STRUCT)
    return _jaeger_batch(args.get(1, {}))


def jaeger_thrift_http(body):
    from thrift.Thrift import TType
    return _jaeger_batch(_thrift_value(_protocol(body, False), TType.STRUCT))


def zipkin_v1_thrift(body):
    from thrift.Thrift import TType
    p = _protocol(body, False)
    etype, size = p.readListBegin()
    out = []
    for _ in range(size):
        sp = _thrift_value(p, etype)
        service = None
        for a in sp.get(6, []) + sp.get(8, []):
            if a.get(3, {}) and isinstance(a.get(3), dict):
                service = service or a[3].get(3, b"").decode() or None
            if a.get(4, {}) and isinstance(a.get(4), dict):
                service = service or a[4].get(3, b"").decode() or None
        parent = sp.get(5, 0) & U64
        out.append({
            "trace_id": f"{sp.get(12, 0) & U64:016x}{sp.get(1, 0) & U64:016x}",
            "span_id": f"{sp.get(4, 0) & U64:016x}",
            "parent_span_id": f"{parent:016x}" if parent else None,
            "name": sp.get(3, b"").decode(),
            "service": service,
            "error": any(b.get(1) == b"error" for b in sp.get(8, [])),
        })
    return out


# --- JSON (Zipkin) and msgpack (Datadog) ---------------------------------------------------------

def zipkin_json(body):
    spans = []
    for sp in json.loads(body):
        if "localEndpoint" in sp or "tags" in sp or "kind" in sp:
            service = (sp.get("localEndpoint") or {}).get("serviceName")
            error = "error" in (sp.get("tags") or {})
        else:
            service = None
            for a in sp.get("annotations", []) + sp.get("binaryAnnotations", []):
                service = service or (a.get("endpoint") or {}).get("serviceName")
            error = any(b.get("key") == "error" for b in sp.get("binaryAnnotations", []))
        spans.append({
            "trace_id": sp["traceId"].lower().rjust(32, "0"),
            "span_id": sp["id"].lower(),
            "parent_span_id": (sp.get("parentId") or "").lower() or None,
            "name": sp.get("name"),
            "service": service,
            "error": error,
        })
    return spans


def _dd_spans(chunks):
    spans = []
    for chunk in chunks:
        tid_high = next((s["meta"]["_dd.p.tid"] for s in chunk if "_dd.p.tid" in s.get("meta", {})), "0")
        for s in chunk:
            parent = s.get("parent_id", 0)
            spans.append({
                "trace_id": f"{int(tid_high, 16):016x}{s.get('trace_id', 0):016x}",
                "span_id": f"{s.get('span_id', 0):016x}",
                "parent_span_id": f"{parent:016x}" if parent else None,
                "name": s.get("name"),
                "service": s.get("service"),
                "error": bool(s.get("error", 0)),
            })
    return spans


def datadog(body, path):
    import msgpack
    data = msgpack.unpackb(body, raw=False, strict_map_key=False)
    if path == "/v0.5/traces":
        table, traces = data
        chunks = []
        for trace in traces:
            chunk = []
            for a in trace:
                chunk.append({
                    "service": table[a[0]], "name": table[a[1]], "resource": table[a[2]],
                    "trace_id": a[3], "span_id": a[4], "parent_id": a[5], "error": a[8],
                    "meta": {table[k]: table[v] for k, v in a[9].items()},
                })
            chunks.append(chunk)
        return _dd_spans(chunks)
    return _dd_spans(data)


# --- dispatch ------------------------------------------------------------------------------------

def _plain(meta, body):
    enc = {k.lower(): v for k, v in meta.get("headers", {}).items()}.get("content-encoding", "")
    if "gzip" in enc:
        return gzip.decompress(body)
    if "deflate" in enc:
        return zlib.decompress(body)
    return body


def spans_of(meta, body):
    """The spans a captured request carries, or None if it is not a span-carrying request."""
    port, path = meta["port"], meta["path"]
    body = _plain(meta, body)
    ctype = {k.lower(): v for k, v in meta.get("headers", {}).items()}.get("content-type", "")
    if port in (4317, 4318) and path.endswith(("/v1/traces", "TraceService/Export")):
        if "json" in ctype:
            return otlp_json(body)
        return otlp_proto(body)
    if port == 9411 and path in ("/api/v1/spans", "/api/v2/spans"):
        if "json" in ctype or body[:1] == b"[":
            return zipkin_json(body)
        if path == "/api/v2/spans":
            return zipkin_proto(body)
        return zipkin_v1_thrift(body)
    if port in (6831, 6832):
        return jaeger_thrift_udp(body)
    if port == 14268 and path == "/api/traces":
        return jaeger_thrift_http(body)
    if port == 14250 and path.endswith("CollectorService/PostSpans"):
        return jaeger_proto(body)
    if port == 8126 and path.endswith("/traces"):
        return datadog(body, path)
    return None
