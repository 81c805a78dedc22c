"""The traces every py_zipkin emitter sends; the emitters differ only in the encoding.

py_zipkin hands each encoded batch to a transport the application supplies; this one POSTs it
to the Zipkin collector with the path and Content-Type of the encoding. Trace 1 (128-bit id):
a SERVER root with a timestamped annotation, a CLIENT span with an `sa` remote endpoint, a
PRODUCER span, a local span, and a span that fails with an exception (py_zipkin adds the
`error` binary annotation). Trace 2 (64-bit id): a SERVER root, a CONSUMER child and a local
span under it that has no annotation at all.
"""

import time
from urllib.request import Request, urlopen

from py_zipkin.encoding import Encoding
from py_zipkin.transport import BaseTransportHandler
from py_zipkin.zipkin import Kind, zipkin_span

from _emit import Recorded, print_result, url

SERVICE = "legacy-cart"
ROUTES = {
    "V1_JSON": ("/api/v1/spans", "application/json"),
    "V1_THRIFT": ("/api/v1/spans", "application/x-thrift"),
    "V2_JSON": ("/api/v2/spans", "application/json"),
    "V2_PROTO3": ("/api/v2/spans", "application/x-protobuf"),
}


class HttpTransport(BaseTransportHandler):
    def __init__(self, encoding):
        self.path, self.content_type = ROUTES[encoding.name]

    def get_max_payload_bytes(self):
        return None

    def send(self, payload):
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        request = Request(url("zipkin", self.path), payload, {"Content-Type": self.content_type})
        with urlopen(request, timeout=10) as response:
            if response.status // 100 != 2:
                raise RuntimeError(f"zipkin answered {response.status}")


class CouponExpired(ValueError):
    pass


def run(emitter, encoding):
    transport = HttpTransport(encoding)
    rec = Recorded()

    def note(span, name, error=False):
        attrs = span.zipkin_attrs
        rec.add(attrs.trace_id, attrs.span_id, attrs.parent_span_id, name, SERVICE, error)

    with zipkin_span(
        service_name=SERVICE,
        span_name="GET /cart/{id}",
        kind=Kind.SERVER,
        transport_handler=transport,
        encoding=encoding,
        sample_rate=100.0,
        use_128bit_trace_id=True,
        host="10.1.2.3",
        port=8080,
        binary_annotations={
            "http.method": "GET",
            "http.path": "/cart/42",
            "http.route": "/cart/{id}",
            "user.name": "Jürgen Müller 軌跡 🚀",
        },
    ) as root:
        note(root, "GET /cart/{id}")
        root.add_annotation("cache.miss")

        with zipkin_span(service_name=SERVICE, span_name="POST /charge", kind=Kind.CLIENT,
                         binary_annotations={"http.method": "POST",
                                             "http.url": "http://payments.internal:8080/charge"}) as span:
            note(span, "POST /charge")
            span.add_sa_binary_annotation(port=8080, service_name="payments", host="10.9.8.7")
            span.update_binary_annotations({"http.status_code": "201"})
            time.sleep(0.002)

        with zipkin_span(service_name=SERVICE, span_name="orders publish", kind=Kind.PRODUCER,
                         binary_annotations={"messaging.system": "kafka",
                                             "messaging.destination": "orders"}) as span:
            note(span, "orders publish")

        with zipkin_span(service_name=SERVICE, span_name="compute-price",
                         binary_annotations={"pricing.rule": "spring-sale"}) as span:
            note(span, "compute-price")
            span.add_annotation("price.computed")

        try:
            with zipkin_span(service_name=SERVICE, span_name="validate-coupon",
                             binary_annotations={"coupon.code": "SPRING24"}) as span:
                note(span, "validate-coupon", error=True)
                raise CouponExpired("coupon SPRING24 expired — gültig bis 2024-01-01")
        except CouponExpired:
            pass

        root.update_binary_annotations({"http.status_code": "200"})

    # The span that opens a trace in py_zipkin is always encoded as SERVER (or CLIENT), whatever
    # `kind` says, so the consumer is a child here.
    with zipkin_span(
        service_name=SERVICE,
        span_name="POST /orders/{id}/ship",
        kind=Kind.SERVER,
        transport_handler=transport,
        encoding=encoding,
        sample_rate=100.0,
        host="10.1.2.3",
        binary_annotations={"http.method": "POST", "http.route": "/orders/{id}/ship"},
    ) as root:
        note(root, "POST /orders/{id}/ship")
        with zipkin_span(service_name=SERVICE, span_name="orders process", kind=Kind.CONSUMER,
                         binary_annotations={"messaging.system": "kafka",
                                             "messaging.destination": "orders"}) as consumer:
            note(consumer, "orders process")
            with zipkin_span(service_name=SERVICE, span_name="reserve-stock") as span:
                note(span, "reserve-stock")

    print_result(emitter, rec)
