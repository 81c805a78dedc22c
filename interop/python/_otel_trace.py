"""The trace every OpenTelemetry SDK emitter sends, whatever its exporter.

Trace 1: a SERVER root with CLIENT (HTTP), CLIENT (database), PRODUCER, an INTERNAL span with
events and a link, and an INTERNAL span that fails with an exception. Trace 2: a CONSUMER root
linked to the PRODUCER span of trace 1, with one INTERNAL child. Works with SDK 1.21 and 1.45.
"""

import time

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from _emit import Recorded

SERVICE = "checkout"
RESOURCE = {
    "service.name": SERVICE,
    "service.version": "1.4.2",
    "deployment.environment": "staging",
    "host.name": "interop-host-1",
}


def provider_with(exporter):
    provider = TracerProvider(resource=Resource.create(RESOURCE))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


class CouponExpired(ValueError):
    pass


def _check_coupon(code):
    raise CouponExpired(f"coupon {code} expired — gültig bis 2024-01-01")


def emit_traces(provider):
    """Creates both traces, shuts the provider down (which flushes), returns what was recorded."""
    tracer = provider.get_tracer("kiseki.interop", "0.1.0")
    rec = Recorded()

    def note(span, name, error=False):
        ctx = span.get_span_context()
        parent = span.parent.span_id if span.parent else None
        rec.add(ctx.trace_id, ctx.span_id, parent, name, SERVICE, error)

    with tracer.start_as_current_span(
        "GET /checkout/{id}",
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": "GET",
            "url.path": "/checkout/42",
            "url.scheme": "http",
            "http.route": "/checkout/{id}",
            "http.response.status_code": 200,
            "enduser.id": "Jürgen Müller 軌跡 🚀",
            "app.cart.total": 129.95,
            "app.cart.gift": True,
            "app.cart.delta": -7,
            "app.cart.big": 1099511627777,
            "app.cart.items": ["sku-1", "sku-ü"],
            "app.cart.quantities": [1, 3],
            "app.cart.prices": [19.99, 54.98],
            "app.cart.flags": [True, False],
        },
    ) as root:
        note(root, "GET /checkout/{id}")

        with tracer.start_as_current_span(
            "POST",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": "POST",
                "url.full": "http://payments.internal:8080/charge",
                "server.address": "payments.internal",
                "server.port": 8080,
                "peer.service": "payments",
                "http.response.status_code": 201,
            },
        ) as span:
            note(span, "POST")
            time.sleep(0.002)

        with tracer.start_as_current_span(
            "SELECT shop.orders",
            kind=SpanKind.CLIENT,
            attributes={
                "db.system": "postgresql",
                "db.name": "shop",
                "db.statement": "SELECT id, total FROM orders WHERE id = $1",
                "db.operation": "SELECT",
                "server.address": "db.internal",
                "server.port": 5432,
            },
        ) as span:
            note(span, "SELECT shop.orders")
            time.sleep(0.001)

        with tracer.start_as_current_span(
            "orders publish",
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": "orders",
                "messaging.operation": "publish",
                "messaging.kafka.message.key": "order-42",
            },
        ) as producer:
            note(producer, "orders publish")
            producer_ctx = producer.get_span_context()

        with tracer.start_as_current_span(
            "compute-price",
            kind=SpanKind.INTERNAL,
            attributes={"app.pricing.rule": "spring-sale"},
            links=[Link(producer_ctx, {"link.reason": "published-before-pricing", "link.order": 1})],
        ) as span:
            note(span, "compute-price")
            span.add_event("cache.miss", {
                "cache.key": "sku-42",
                "cache.attempt": 2,
                "cache.ratio": 0.5,
                "cache.cold": True,
                "cache.tiers": ["l1", "l2"],
            })
            span.add_event("price.computed")

        try:
            with tracer.start_as_current_span("validate-coupon", kind=SpanKind.INTERNAL) as span:
                note(span, "validate-coupon", error=True)
                span.set_attribute("app.coupon.code", "SPRING24")
                _check_coupon("SPRING24")
        except CouponExpired:
            pass

        root.set_status(Status(StatusCode.OK))

    with tracer.start_as_current_span(
        "orders process",
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": "orders",
            "messaging.operation": "process",
        },
        links=[Link(producer_ctx, {"messaging.kafka.message.key": "order-42"})],
    ) as consumer:
        note(consumer, "orders process")
        with tracer.start_as_current_span("reserve-stock") as span:
            note(span, "reserve-stock")
            span.set_attribute("app.stock.reserved", 3)

    provider.shutdown()
    return rec
