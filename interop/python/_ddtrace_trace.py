"""The traces every ddtrace emitter sends; the emitters differ only in the agent API version.

Configured through the environment as an application would be (DD_* variables are set before
ddtrace is imported). Trace 1: a web root with an HTTP client, a database span of another
service, a Kafka producer, an internal span that records a handled exception as an event and
links to the producer, and a span that fails with an exception; a manual keep (priority 2).
Trace 2: a Kafka consumer root linked to the producer, with one child.
"""

import os
import time

from _emit import Recorded, print_result, url

os.environ.setdefault("DD_TRACE_AGENT_URL", url("datadog"))
os.environ.setdefault("DD_SERVICE", "shop-api")
os.environ.setdefault("DD_ENV", "staging")
os.environ.setdefault("DD_VERSION", "1.4.2")
os.environ.setdefault("DD_TAGS", "team:checkout,region:eu-west-1")
os.environ.setdefault("DD_HOSTNAME", "interop-host-1")
os.environ.setdefault("DD_TRACE_REPORT_HOSTNAME", "true")
os.environ.setdefault("DD_INSTRUMENTATION_TELEMETRY_ENABLED", "true")


class CouponExpired(ValueError):
    pass


def run(emitter):
    from ddtrace.constants import MANUAL_KEEP_KEY
    from ddtrace.trace import tracer

    rec = Recorded()

    def note(span, error=False):
        rec.add(span.trace_id, span.span_id, span.parent_id, span.name, span.service, error)

    with tracer.trace("web.request", service="shop-api", resource="GET /checkout/{id}",
                      span_type="web") as root:
        note(root)
        root.set_tag(MANUAL_KEEP_KEY)
        root.set_tag("span.kind", "server")
        root.set_tag("component", "kiseki-interop")
        root.set_tag("http.method", "GET")
        root.set_tag("http.url", "http://shop.example/checkout/42")
        root.set_tag("http.route", "/checkout/{id}")
        root.set_tag("http.status_code", "200")
        root.set_tag("usr.name", "Jürgen Müller 軌跡 🚀")
        root.set_tag("cart.gift", True)
        root.set_tag("cart.skus", ["sku-1", "sku-ü"])
        root.set_tag("cart.items", 3)
        root.set_metric("cart.total", 129.95)
        root.set_metric("cart.delta", -7)

        with tracer.trace("http.request", resource="POST /charge", span_type="http") as span:
            note(span)
            span.set_tag("span.kind", "client")
            span.set_tag("http.method", "POST")
            span.set_tag("http.url", "http://payments.internal:8080/charge")
            span.set_tag("http.status_code", "201")
            span.set_tag("out.host", "payments.internal")
            span.set_tag("network.destination.port", 8080)
            span.set_tag("peer.service", "payments")
            time.sleep(0.002)

        with tracer.trace("postgres.query", service="shop-db",
                          resource="SELECT id, total FROM orders WHERE id = $1", span_type="sql") as span:
            note(span)
            span.set_tag("span.kind", "client")
            span.set_tag("db.system", "postgresql")
            span.set_tag("db.name", "shop")
            span.set_tag("out.host", "db.internal")
            span.set_metric("db.row_count", 1)
            time.sleep(0.001)

        with tracer.trace("kafka.produce", resource="Produce Topic orders", span_type="worker") as producer:
            note(producer)
            producer.set_tag("span.kind", "producer")
            producer.set_tag("messaging.system", "kafka")
            producer.set_tag("kafka.topic", "orders")
            producer.set_tag("kafka.message_key", "order-42")
            producer_ctx = producer.context

        with tracer.trace("compute-price", resource="compute-price") as span:
            note(span)
            span.set_tag("pricing.rule", "spring-sale")
            span.link_span(producer_ctx, {"link.reason": "published-before-pricing", "link.order": 1})
            try:
                raise KeyError("sku-42")
            except KeyError as exc:
                span.record_exception(exc, {"cache.attempt": 2, "cache.cold": True,
                                            "cache.tiers": ["l1", "l2"]})

        try:
            with tracer.trace("coupon.validate", resource="validate-coupon") as span:
                note(span, error=True)
                span.set_tag("coupon.code", "SPRING24")
                raise CouponExpired("coupon SPRING24 expired — gültig bis 2024-01-01")
        except CouponExpired:
            pass

    with tracer.trace("kafka.consume", resource="Consume Topic orders", span_type="worker") as consumer:
        note(consumer)
        consumer.set_tag("span.kind", "consumer")
        consumer.set_tag("messaging.system", "kafka")
        consumer.set_tag("kafka.topic", "orders")
        consumer.link_span(producer_ctx, {"messaging.kafka.message.key": "order-42"})
        with tracer.trace("reserve-stock", resource="reserve-stock") as span:
            note(span)
            span.set_metric("stock.reserved", 3)

    tracer.flush()
    tracer.shutdown(timeout=10)
    print_result(emitter, rec)
