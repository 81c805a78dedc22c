"""What OpenTelemetry Python writes into and reads from propagation headers; see _propagation.py.

Propagators: tracecontext (W3C), b3multi (X-B3-*) and b3 (the single header), from
opentelemetry-api and opentelemetry-propagator-b3. No exporter: spans stay in the process.
"""
# venv: otel

from importlib.metadata import version

from opentelemetry import trace
from opentelemetry.propagators.b3 import B3MultiFormat, B3SingleFormat
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from _propagation import case, hex_span_id, hex_trace_id, kiseki_cases, main

TRACER = f"opentelemetry-python {version('opentelemetry-sdk')}"
PROPAGATORS = {
    "tracecontext": TraceContextTextMapPropagator(),
    "b3multi": B3MultiFormat(),
    "b3": B3SingleFormat(),
}


def inject_all(context):
    headers = {}
    for propagator in PROPAGATORS.values():
        propagator.inject(headers, context=context)
    return headers


def injected(span, parent, name, description):
    context = span.get_span_context()
    facts = {
        "trace_id": hex_trace_id(context.trace_id),
        "span_id": hex_span_id(context.span_id),
        "parent_span_id": hex_span_id(parent.span_id) if parent else None,
        "sampled": context.trace_flags.sampled,
        "trace_state": context.trace_state.to_header(),
    }
    return case(name, description, facts, inject_all(trace.set_span_in_context(span)))


def headers():
    cases = []
    sampled = TracerProvider(sampler=ParentBased(ALWAYS_ON)).get_tracer("kiseki-interop")
    with sampled.start_as_current_span("web.request") as root:
        with sampled.start_as_current_span("http.client") as child:
            cases.append(injected(child, root.get_span_context(), "sampled-child",
                                  "a child of a new sampled root"))
    dropped = TracerProvider(sampler=ParentBased(ALWAYS_OFF)).get_tracer("kiseki-interop")
    with dropped.start_as_current_span("web.request") as root:
        cases.append(injected(root, None, "not-sampled-root", "a root the sampler dropped"))
    incoming = {
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "tracestate": "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
    }
    parent = PROPAGATORS["tracecontext"].extract(incoming)
    with sampled.start_as_current_span("web.request", context=parent) as server:
        cases.append(injected(server, trace.get_current_span(parent).get_span_context(),
                              "continued-from-w3c", "a span continuing " + str(incoming)))
    return cases


def read(path):
    results = []
    for name, headers in kiseki_cases(path):
        by_style = {}
        for style, propagator in PROPAGATORS.items():
            context = trace.get_current_span(propagator.extract(headers)).get_span_context()
            by_style[style] = describe(context)
        results.append({"name": name, "read": by_style})
    return results


def describe(context):
    if not context.is_valid:
        return None
    return {
        "trace_id": hex_trace_id(context.trace_id),
        "span_id": hex_span_id(context.span_id),
        "sampled": context.trace_flags.sampled,
        "trace_flags": int(context.trace_flags),
        "tracestate": context.trace_state.to_header() or None,
    }


if __name__ == "__main__":
    main(TRACER, headers, read)
