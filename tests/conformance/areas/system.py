"""Calls of the system routes (health, info, status, self-test, annotations); see ../run.py."""

import uuid

V1 = "/api/v1"


def run(api, ctx):
    api.call("GET", f"{V1}/system/health", key=False, expect=200)
    api.call("GET", f"{V1}/system/info", key=False, expect=200)

    _, status = api.call("GET", f"{V1}/system/status", expect=200)
    api.call("GET", f"{V1}/system/status", key=False, expect=401)

    api.call("POST", f"{V1}/system/self-test", expect=200)
    if status:
        names = [component["name"] for component in status["components"]][:1]
        api.call("POST", f"{V1}/system/self-test", body={"components": names}, expect=200)
    api.call("POST", f"{V1}/system/self-test", body={"components": ["no-such-component"]}, expect=400)
    api.call("POST", f"{V1}/system/self-test", body={"unknown": True}, expect=400)

    tag = "conformance"
    key = f"conformance-{uuid.uuid4().hex}"
    _, first = api.call("POST", f"{V1}/annotations", body={"text": "conformance run started", "tags": [tag]},
                        expect=201)
    _, retried = api.call("POST", f"{V1}/annotations", body={"text": "retried", "idempotencyKey": key},
                          expect=201)
    _, again = api.call("POST", f"{V1}/annotations", body={"text": "retried", "idempotencyKey": key},
                        expect=201)
    if retried and again and retried["id"] != again["id"]:
        api.fail(("POST", f"{V1}/annotations"), "the same idempotency key recorded two annotations")
    api.call("POST", f"{V1}/annotations", body={"text": "   "}, expect=400)
    api.call("POST", f"{V1}/annotations", body={"text": "x", "tags": ["Not A Tag"]}, expect=400)

    _, page = api.call("GET", f"{V1}/annotations", query={"limit": 1}, expect=200)
    if page and page["nextCursor"]:
        api.call("GET", f"{V1}/annotations", query={"limit": 1, "cursor": page["nextCursor"]}, expect=200)
    _, tagged = api.call("GET", f"{V1}/annotations", query={"tag": tag}, expect=200)
    if first and tagged and first["id"] not in [item["id"] for item in tagged["items"]]:
        api.fail(("GET", f"{V1}/annotations"), "the tagged annotation is not in its tag's list")
    api.call("GET", f"{V1}/annotations", query={"limit": 0}, expect=400)
    api.call("GET", f"{V1}/annotations", query={"cursor": "not-a-cursor"}, expect=400)
