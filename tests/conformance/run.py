#!/usr/bin/env python3
"""A partner's program, in Python's standard library only: it reads the platform's OpenAPI
document, calls every route the document lists with an API key, and checks each answer (its
status and its JSON) against the document's schema for that status.

    python3 tests/conformance/run.py --base http://127.0.0.1:3000 --key bc_live_...

Exit 0 when every documented route was called and every answer matched; it prints
"conformance: N of N routes matched the document". Each area's calls are in areas/<area>.py.
"""

import argparse
import importlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from validator import validate  # noqa: E402

# The order matters: later areas use what earlier ones created (ctx).
AREAS = ["system", "auth", "organizations", "performance", "devops"]


class Api:
    """Calls routes and checks every answer against the document."""

    def __init__(self, base, key, document):
        self.base = base.rstrip("/")
        self.key = key
        self.document = document
        self.operations = {}
        for template, item in document["paths"].items():
            for method, operation in item.items():
                self.operations[(method.upper(), template)] = operation
        self.called = set()
        self.failed = set()
        self.failures = []

    def fail(self, route, message):
        self.failed.add(route)
        self.failures.append(message)

    def call(self, method, template, path=None, query=None, body=None, expect=None, key=None):
        """Calls `method template` (template as the document writes it, e.g.
        /api/v1/api-keys/{id}) with path parameters, query parameters (a list value repeats
        the parameter) and a JSON body. Checks the answer against the document; when `expect`
        is given, the status must be it. Returns (status, parsed JSON or None)."""
        route = (method, template)
        operation = self.operations.get(route)
        if operation is None:
            self.fail(route, f"{method} {template}: not in the document")
            return None, None
        url = self.base + template
        for name, value in (path or {}).items():
            url = url.replace("{" + name + "}", urllib.parse.quote(str(value), safe=""))
        if query:
            url += "?" + urllib.parse.urlencode(
                [(k, json.dumps(v) if isinstance(v, dict) else encode(v)) for k, vs in query.items()
                 for v in (vs if isinstance(vs, list) else [vs])]
            )
        headers = {"accept": "application/json"}
        if key is not False:
            headers["x-api-key"] = key or self.key
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        self.called.add(route)
        where = f"{method} {template} -> {status}"
        parsed = json.loads(text) if text else None
        if expect is not None and status != expect:
            self.fail(route, f"{where}: expected {expect}; body {text[:300]}")
        declared = operation["responses"].get(str(status))
        if declared is None:
            self.fail(route, f"{where}: the document declares no {status} answer; body {text[:300]}")
            return status, parsed
        declared = self.resolve(declared)
        content = declared.get("content")
        if content is None:
            if text:
                self.fail(route, f"{where}: the document says no content, got {text[:200]}")
            return status, parsed
        schema = content["application/json"]["schema"]
        errors = validate(parsed, schema, self.document)
        if errors:
            self.fail(route, f"{where}: the answer does not match its schema: {errors[:5]}")
        return status, parsed

    def resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            node = pointer(self.document, node["$ref"])
        return node


def encode(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def pointer(document, ref):
    node = document
    for part in ref.lstrip("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--key", required=True, help="an API key of a platform admin, every scope")
    parser.add_argument("--areas", default=",".join(AREAS))
    args = parser.parse_args()

    with urllib.request.urlopen(args.base.rstrip("/") + "/api/openapi.json", timeout=30) as response:
        document = json.load(response)
    api = Api(args.base, args.key, document)
    ctx = {}
    areas = args.areas.split(",")
    for area in areas:
        importlib.import_module(f"areas.{area}").run(api, ctx)

    wanted = {
        op for op in api.operations
        if any(tag in areas for tag in area_tags(api.operations[op], areas))
    }
    missing = sorted(wanted - api.called)
    for route in missing:
        api.fail(route, f"{route[0]} {route[1]}: in the document, never called")
    matched = len(wanted - api.failed)
    for failure in api.failures:
        print("FAIL", failure)
    print(f"conformance: {matched} of {len(wanted)} routes matched the document")
    sys.exit(1 if api.failures else 0)


def area_tags(operation, areas):
    """The area an operation belongs to: its tRPC path's first segment, with auth.organizations,
    auth.platformRoles and auth.invitations in the organizations area."""
    procedure = operation["operationId"]
    if procedure.split(".")[1:2] and procedure.split(".")[1] in ("organizations", "platformRoles", "invitations"):
        return ["organizations"]
    return [procedure.split(".")[0]]


if __name__ == "__main__":
    main()
