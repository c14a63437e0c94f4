"""Calls of the performance routes (traffic figures, queries, cache, bottlenecks, capacity,
alert rules and webhooks); see ../run.py."""

import secrets

V1 = "/api/v1"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def run(api, ctx):
    figures(api)
    queries(api)
    cache(api)
    api.call("GET", f"{V1}/performance/bottlenecks", expect=200)
    api.call("GET", f"{V1}/performance/capacity", expect=200)
    alert_rules(api, ctx)
    alert_webhooks(api, ctx)


def figures(api):
    api.call("GET", f"{V1}/performance/overview", expect=200)
    api.call("GET", f"{V1}/performance/overview", key=False, expect=401)
    api.call("GET", f"{V1}/performance/routes", expect=200)
    api.call("GET", f"{V1}/performance/routes",
             query={"kind": "procedure", "sort": "p99", "order": "asc", "minRequests": 1, "limit": 5},
             expect=200)
    api.call("GET", f"{V1}/performance/routes", query={"limit": 501}, expect=400)
    api.call("GET", f"{V1}/performance/history", expect=200)
    api.call("GET", f"{V1}/performance/history", query={"range": "15m", "procedure": "performance.overview"},
             expect=200)
    api.call("GET", f"{V1}/performance/history", query={"range": "2d"}, expect=400)
    api.call("GET", f"{V1}/performance/history", key=False, expect=401)
    # The overview calls above are recorded under their procedure's path.
    template = f"{V1}/performance/procedures/{{path}}"
    api.call("GET", template, path={"path": "performance.overview"}, expect=200)
    api.call("GET", template, path={"path": "no.such.procedure"}, expect=404)


def queries(api):
    _, report = api.call("GET", f"{V1}/performance/queries", expect=200)
    api.call("GET", f"{V1}/performance/queries", query={"sort": "p95", "limit": 5, "includeSlow": False},
             expect=200)
    api.call("GET", f"{V1}/performance/queries", query={"sort": "slowest"}, expect=400)
    template = f"{V1}/performance/queries/{{fingerprint}}/explain"
    api.call("GET", template, path={"fingerprint": "not-a-fingerprint"}, expect=400)
    api.call("GET", template, path={"fingerprint": "0123456789abcdef"}, expect=404)
    # The server's own queries: the first select PostgreSQL can plan without values.
    selects = [s["fingerprint"] for s in (report or {}).get("shapes", []) if s["operation"] == "select"]
    for fingerprint in selects:
        status, _ = api.call("GET", template, path={"fingerprint": fingerprint})
        if status == 200:
            return
    api.fail(("GET", template), f"GET {template}: no select shape of {len(selects)} could be explained")


def cache(api):
    _, stats = api.call("GET", f"{V1}/performance/cache", expect=200)
    registered = (stats or {}).get("warmers", {}).get("registered", [])
    api.call("POST", f"{V1}/performance/cache/warm", body={}, expect=200)
    if registered:
        api.call("POST", f"{V1}/performance/cache/warm", body={"warmers": registered[:1]}, expect=200)
    api.call("POST", f"{V1}/performance/cache/warm", body={"warmers": []}, expect=400)
    api.call("POST", f"{V1}/performance/cache/invalidate", body={"tag": "conformance"}, expect=200)
    api.call("POST", f"{V1}/performance/cache/invalidate", body={"key": "a", "tag": "b"}, expect=400)


def alert_rules(api, ctx):
    rules = f"{V1}/performance/alert-rules"
    rule = f"{rules}/{{id}}"
    _, listed = api.call("GET", rules, expect=200)
    _, created = api.call("POST", rules, body={
        "name": f"ConformanceDbDown_{secrets.token_hex(4)}",
        "expression": "db_up",
        "comparator": "<",
        "threshold": 0.5,
        "forSeconds": 60,
        "labels": {"team": "partners"},
        "annotations": {"summary": "The database does not answer"},
    }, expect=201)
    api.call("POST", rules, body={"name": "Broken", "expression": "rate(", "comparator": ">",
                                  "threshold": 1}, expect=400)
    rule_id = (created or {}).get("id", UNKNOWN_ID)
    ctx["alert_rule_id"] = rule_id
    api.call("PATCH", rule, path={"id": rule_id}, body={"threshold": 0.9, "enabled": False}, expect=200)
    api.call("PATCH", rule, path={"id": UNKNOWN_ID}, body={"threshold": 1}, expect=404)
    platform = [r for r in (listed or []) if r["scope"] == "platform"]
    if platform:
        api.call("PATCH", rule, path={"id": platform[0]["id"]}, body={"threshold": 1}, expect=403)
    history = f"{V1}/performance/alerts/history"
    api.call("GET", history, expect=200)
    api.call("GET", history, query={"ruleId": rule_id, "limit": 10}, expect=200)
    api.call("GET", history, query={"cursor": "not-a-cursor"}, expect=400)
    api.call("DELETE", rule, path={"id": rule_id}, expect=200)
    api.call("DELETE", rule, path={"id": rule_id}, expect=404)


def alert_webhooks(api, ctx):
    webhooks = f"{V1}/performance/alert-webhooks"
    webhook = f"{webhooks}/{{id}}"
    # Never called during the run: no alert of this organization fires.
    _, created = api.call("POST", webhooks, body={
        "name": "conformance", "url": "https://hooks.example.com/beauty-crafter/alerts",
    }, expect=201)
    api.call("POST", webhooks, body={"name": "internal", "url": "http://127.0.0.1:9093/hook"}, expect=400)
    api.call("POST", webhooks, body={"name": "ftp", "url": "ftp://hooks.example.com/"}, expect=400)
    api.call("GET", webhooks, expect=200)
    webhook_id = (created or {}).get("id", UNKNOWN_ID)
    api.call("DELETE", webhook, path={"id": webhook_id}, expect=200)
    api.call("DELETE", webhook, path={"id": webhook_id}, expect=404)
    api.call("DELETE", webhook, path={"id": "not-a-uuid"}, expect=400)
