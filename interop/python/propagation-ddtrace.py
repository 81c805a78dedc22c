"""What ddtrace (Python) writes into and reads from propagation headers; see _propagation.py.

Styles: datadog, tracecontext, b3multi (X-B3-*) and b3 (the single header). Spans are never sent:
the agent URL points at a closed port and nothing is flushed before exit.
"""
# venv: ddtrace

import os

os.environ.setdefault("DD_TRACE_PROPAGATION_STYLE", "datadog,tracecontext,b3multi,b3")
os.environ.setdefault("DD_TRACE_AGENT_URL", "http://127.0.0.1:9")
os.environ.setdefault("DD_INSTRUMENTATION_TELEMETRY_ENABLED", "false")
os.environ.setdefault("DD_REMOTE_CONFIGURATION_ENABLED", "false")
os.environ.setdefault("DD_TRACE_STARTUP_LOGS", "false")
os.environ.setdefault("DD_SERVICE", "shop-api")

import ddtrace  # noqa: E402
from ddtrace.constants import MANUAL_DROP_KEY, MANUAL_KEEP_KEY  # noqa: E402
from ddtrace.internal.settings._config import config  # noqa: E402
from ddtrace.propagation.http import _PROP_STYLES, HTTPPropagator  # noqa: E402
from ddtrace.trace import tracer  # noqa: E402

from _propagation import case, hex_span_id, hex_trace_id, kiseki_cases, main  # noqa: E402

TRACER = f"ddtrace {ddtrace.__version__} (Python)"
STYLES = ["datadog", "tracecontext", "b3multi", "b3"]


def injected(span, name, description):
    headers = {}
    HTTPPropagator.inject(span.context, headers)
    context = span.context
    facts = {
        "trace_id": hex_trace_id(span.trace_id),
        "span_id": hex_span_id(span.span_id),
        "parent_span_id": hex_span_id(span.parent_id),
        "sampling_priority": context.sampling_priority,
        "origin": context.dd_origin,
        "tags": {k: v for k, v in context._meta.items() if k.startswith("_dd.p.") and k != "_dd.p.tid"},
    }
    return case(name, description, facts, headers)


def headers():
    cases = []
    with tracer.trace("web.request") as root:
        with tracer.trace("http.client") as child:
            cases.append(injected(child, "auto-keep", "a child of a new root, default sampler"))
    with tracer.trace("web.request") as root:
        root.set_tag(MANUAL_KEEP_KEY)
        root.context.dd_origin = "synthetics"
        with tracer.trace("http.client") as child:
            cases.append(injected(child, "manual-keep-synthetics", "manual.keep and an origin"))
    with tracer.trace("web.request") as root:
        root.set_tag(MANUAL_DROP_KEY)
        cases.append(injected(root, "manual-drop", "manual.drop on the root"))
    with tracer.trace("web.request") as root:
        root.set_tag(MANUAL_KEEP_KEY)
        # What ddtrace's user tracking propagates (base64, so its padding shows the escapes).
        root.context._meta["_dd.p.usr.id"] = "YmF6NjQ="
        cases.append(injected(root, "propagated-user-id", "a _dd.p.usr.id trace tag"))
    incoming = {
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "tracestate": "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
    }
    tracer.context_provider.activate(HTTPPropagator.extract(incoming))
    with tracer.trace("web.request") as server:
        cases.append(injected(server, "continued-from-w3c", "a span continuing " + str(incoming)))
    tracer.context_provider.activate(None)
    config._128_bit_trace_id_enabled = False
    with tracer.trace("web.request") as root:
        cases.append(injected(root, "64-bit-trace-id", "128-bit trace ids turned off"))
    config._128_bit_trace_id_enabled = True
    return cases


def read(path):
    results = []
    for name, headers in kiseki_cases(path):
        normalized = {key.lower(): value for key, value in headers.items()}
        by_style = {}
        for style in STYLES:
            context = _PROP_STYLES[style]._extract(normalized)
            by_style[style] = describe(context)
        by_style["all"] = describe(HTTPPropagator.extract(headers))
        results.append({"name": name, "read": by_style})
    return results


def describe(context):
    if context is None or not context.trace_id:
        return None
    meta = context._meta
    return {
        "trace_id": hex_trace_id(context.trace_id),
        "span_id": hex_span_id(context.span_id),
        "sampling_priority": context.sampling_priority,
        "origin": context.dd_origin,
        "tags": {k: v for k, v in sorted(meta.items()) if k.startswith("_dd.p.")},
        "last_parent_id": meta.get("_dd.parent_id"),
        "tracestate": meta.get("tracestate"),
        "propagation_error": meta.get("_dd.propagation_error"),
    }


if __name__ == "__main__":
    main(TRACER, headers, read)
