"""Shared helpers for the propagation scripts: the JSON they print and the file they read.

Each propagation script has two modes:

    headers            print {"tracer": ..., "cases": [...]}: the headers the tracer injected for
                       a few spans, with the ids and sampling state the tracer's API reported
    read <file.json>   read testdata/propagation/to-tracers.json (headers kiseki injected) and
                       print, per case and per propagation style, what the tracer extracted
"""

import json
import sys


def hex_trace_id(value):
    return None if not value else f"{int(value):032x}"


def hex_span_id(value):
    return None if not value else f"{int(value):016x}"


def case(name, description, span, headers):
    """One scenario: `span` holds what the tracer's API reported about the injected span."""
    return {"name": name, "description": description, "span": span, "headers": lowercase(headers)}


def lowercase(headers):
    return {name.lower(): value for name, value in sorted(headers.items())}


def print_json(value):
    json.dump(value, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


def kiseki_cases(path):
    """The cases of to-tracers.json, each with its headers as a dict."""
    with open(path, encoding="utf-8") as f:
        document = json.load(f)
    for item in document["cases"]:
        yield item["name"], dict(item["headers"])


def main(tracer, headers_fn, read_fn):
    mode = sys.argv[1] if len(sys.argv) > 1 else "headers"
    if mode == "headers":
        print_json({"tracer": tracer, "cases": headers_fn()})
    elif mode == "read":
        print_json({"tracer": tracer, "cases": read_fn(sys.argv[2])})
    else:
        sys.exit(f"unknown mode {mode!r}; use 'headers' or 'read <file>'")
