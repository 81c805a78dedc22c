#!/usr/bin/env python3
# venv: jaeger-client
"""jaeger-client (Python, OpenTracing API) with its default reporter: compact Thrift emitBatch over UDP 6831.

One 128-bit trace: a server root with typed tags and a log, an HTTP client span, a database span,
a producer span, a consumer span that FOLLOWS_FROM the producer, and a span that fails with an
exception (OpenTracing sets error=true and logs event=error with error.kind/error.object/stack).
"""

import logging
import time

from jaeger_client import Config
from opentracing import follows_from
from opentracing.ext import tags as ext

from _emit import HOST, PORTS, Recorded, print_result

SERVICE = "inventory"
EMITTER = "jaeger-client"


class CouponExpired(ValueError):
    pass


def main():
    logging.basicConfig(level=logging.WARNING)
    config = Config(
        config={
            "sampler": {"type": "const", "param": 1},
            "local_agent": {"reporting_host": HOST, "reporting_port": PORTS["jaeger-compact"]},
            "generate_128bit_trace_id": True,
            "logging": False,
            "tags": {
                "hostname": "interop-host-1",
                "ip": "10.1.2.5",
                "service.version": "1.4.2",
                "deployment.environment": "staging",
            },
        },
        service_name=SERVICE,
        validate=True,
    )
    tracer = config.initialize_tracer()
    rec = Recorded()

    def note(span, name, error=False):
        rec.add(span.trace_id, span.span_id, span.parent_id, name, SERVICE, error)

    with tracer.start_active_span("GET /stock/{sku}", tags={
        ext.SPAN_KIND: ext.SPAN_KIND_RPC_SERVER,
        ext.HTTP_METHOD: "GET",
        ext.HTTP_URL: "http://inventory.internal/stock/42",
        ext.HTTP_STATUS_CODE: 200,
        "user.name": "Jürgen Müller 軌跡 🚀",
        "stock.ratio": 0.75,
        "stock.cached": False,
        "stock.count": 1099511627777,
    }) as scope:
        root = scope.span
        note(root, "GET /stock/{sku}")
        root.log_kv({"event": "cache.miss", "cache.key": "sku-42", "cache.attempt": 2,
                     "cache.ratio": 0.5, "cache.cold": True})

        with tracer.start_active_span("POST /reserve", tags={
            ext.SPAN_KIND: ext.SPAN_KIND_RPC_CLIENT,
            ext.HTTP_METHOD: "POST",
            ext.HTTP_URL: "http://warehouse.internal:8080/reserve",
            ext.PEER_SERVICE: "warehouse",
            ext.PEER_HOST_IPV4: "10.9.8.7",
            ext.PEER_PORT: 8080,
        }) as child:
            note(child.span, "POST /reserve")
            time.sleep(0.002)
            child.span.set_tag(ext.HTTP_STATUS_CODE, 201)

        with tracer.start_active_span("SELECT stock", tags={
            ext.SPAN_KIND: ext.SPAN_KIND_RPC_CLIENT,
            ext.DATABASE_TYPE: "sql",
            ext.DATABASE_INSTANCE: "inventory",
            ext.DATABASE_STATEMENT: "SELECT count FROM stock WHERE sku = ?",
            ext.PEER_SERVICE: "postgresql",
        }) as child:
            note(child.span, "SELECT stock")

        with tracer.start_active_span("orders publish", tags={
            ext.SPAN_KIND: ext.SPAN_KIND_PRODUCER,
            ext.MESSAGE_BUS_DESTINATION: "orders",
        }) as child:
            note(child.span, "orders publish")
            producer_ctx = child.span.context

        with tracer.start_active_span("orders process", references=[follows_from(producer_ctx)], tags={
            ext.SPAN_KIND: ext.SPAN_KIND_CONSUMER,
            ext.MESSAGE_BUS_DESTINATION: "orders",
        }) as child:
            note(child.span, "orders process")

        try:
            with tracer.start_active_span("validate-coupon") as child:
                note(child.span, "validate-coupon", error=True)
                child.span.set_tag("coupon.code", "SPRING24")
                raise CouponExpired("coupon SPRING24 expired — gültig bis 2024-01-01")
        except CouponExpired:
            pass

    time.sleep(0.5)
    tracer.close()
    time.sleep(1.5)
    print_result(EMITTER, rec)


main()
