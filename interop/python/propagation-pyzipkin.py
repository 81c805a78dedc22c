"""What py_zipkin writes into and reads from B3 headers; see _propagation.py.

py_zipkin writes only the X-B3-* headers (b3multi); it reads those and the single b3 header.
No transport: spans are handed to a handler that drops them.
"""
# venv: pyzipkin

from importlib.metadata import version

from py_zipkin.encoding import Encoding
from py_zipkin.request_helpers import create_http_headers, extract_zipkin_attrs_from_headers
from py_zipkin.zipkin import zipkin_span

from _propagation import case, kiseki_cases, main

TRACER = f"py_zipkin {version('py_zipkin')}"


class Dropped:
    def __call__(self, *args, **kwargs):
        pass

    def get_max_payload_bytes(self):
        return None


def injected(name, description, sample_rate):
    with zipkin_span(service_name="shop-api", span_name="web.request",
                     transport_handler=Dropped(), sample_rate=sample_rate, encoding=Encoding.V2_JSON):
        with zipkin_span(service_name="shop-api", span_name="http.client") as child:
            headers = create_http_headers()
            attrs = child.zipkin_attrs
            facts = {
                "trace_id": attrs.trace_id.rjust(32, "0"),
                "span_id": attrs.span_id,
                "parent_span_id": attrs.parent_span_id,
                "sampled": attrs.is_sampled,
                "debug": attrs.flags == "1",
            }
            return case(name, description, facts, headers)


def headers():
    return [
        injected("sampled-child", "a child of a root sampled at rate 100", 100.0),
        injected("not-sampled-child", "a child of a root sampled at rate 0", 0.0),
    ]


def read(path):
    results = []
    for name, headers in kiseki_cases(path):
        single = {k: v for k, v in headers.items() if k.lower() == "b3"}
        multi = {k: v for k, v in headers.items() if k.lower().startswith("x-b3-")}
        results.append({"name": name, "read": {"b3": describe(single), "b3multi": describe(multi)}})
    return results


class Headers(dict):
    """Header names in any case, as web frameworks hand them to py_zipkin."""

    def __init__(self, headers):
        super().__init__((name.lower(), value) for name, value in headers.items())

    def __contains__(self, name):
        return super().__contains__(name.lower())

    def __getitem__(self, name):
        return super().__getitem__(name.lower())

    def get(self, name, default=None):
        return super().get(name.lower(), default)


def describe(headers):
    attrs = extract_zipkin_attrs_from_headers(Headers(headers), sample_rate=0.0)
    if attrs is None:
        return None
    return {
        "trace_id": attrs.trace_id.rjust(32, "0"),
        "span_id": attrs.span_id,
        "parent_span_id": attrs.parent_span_id,
        "sampled": attrs.is_sampled,
        "debug": attrs.flags == "1",
    }


if __name__ == "__main__":
    main(TRACER, headers, read)
