"""Calls of the auth routes (who you are, users, API keys, the audit log); see ../run.py."""

import uuid

from . import second_factor

V1 = "/api/v1"
UNKNOWN = "00000000-0000-4000-8000-000000000000"
PASSWORD = "conformance-password-1"


def run(api, ctx):
    _, me = api.call("GET", f"{V1}/me", expect=200)
    ctx["admin_user_id"] = me["userId"]
    ctx["organization_id"] = me["organizationId"]
    api.call("GET", f"{V1}/me", key=False, expect=401)
    _, _ = api.call("GET", f"{V1}/api-keys/{{id}}", path={"id": me["apiKeyId"]}, expect=200)
    api.call("GET", f"{V1}/api-keys/{{id}}", path={"id": "not-a-uuid"}, expect=400)
    api.call("GET", f"{V1}/api-keys/{{id}}", path={"id": UNKNOWN}, expect=404)

    users(api, ctx)
    sign_in(api, ctx)
    second_factor.run(api, ctx)
    api_keys(api, ctx)
    # Before the audit log: the rotation is an event of the platform's log, which is empty until then.
    api.call("POST", f"{V1}/platform/signing-keys/rotate", expect=200)
    audit(api, ctx)


def users(api, ctx):
    tag = uuid.uuid4().hex[:12]
    # An operator left alive for later areas (ctx["user_id"]), and one to change, disable, remove.
    _, kept = api.call("POST", f"{V1}/users", expect=201, body={
        "email": f"operator-{tag}@conformance.example", "password": PASSWORD,
        "name": "Conformance operator", "role": "operator"})
    ctx["user_id"] = kept["id"]
    ctx["user_email"] = kept["email"]
    _, other = api.call("POST", f"{V1}/users", expect=201, body={
        "email": f"viewer-{tag}@conformance.example", "password": PASSWORD, "role": "viewer"})
    api.call("POST", f"{V1}/users", expect=400, body={
        "email": "not-an-email", "password": "short", "role": "viewer"})

    _, page = api.call("GET", f"{V1}/users", query={"limit": 1}, expect=200)
    if page["nextCursor"]:
        api.call("GET", f"{V1}/users", query={"limit": 100, "cursor": page["nextCursor"]}, expect=200)
    api.call("GET", f"{V1}/users", query={"limit": 0}, expect=400)

    user = {"id": other["id"]}
    api.call("PATCH", f"{V1}/users/{{id}}", path=user, body={"name": "Renamed", "role": "operator"},
             expect=200)
    api.call("PATCH", f"{V1}/users/{{id}}", path={"id": UNKNOWN}, body={"name": "Nobody"}, expect=404)
    api.call("POST", f"{V1}/users/{{id}}/disable", path=user, expect=200)
    api.call("POST", f"{V1}/users/{{id}}/disable", path={"id": UNKNOWN}, expect=404)
    api.call("DELETE", f"{V1}/users/{{id}}", path=user, expect=200)
    api.call("DELETE", f"{V1}/users/{{id}}", path=user, expect=404)


def sign_in(api, ctx):
    _, issued = api.call("POST", f"{V1}/auth/login", expect=200, body={
        "email": ctx["user_email"], "password": PASSWORD})
    api.call("POST", f"{V1}/auth/login", body={"email": "not-an-email", "password": "x"}, expect=400)
    api.call("POST", f"{V1}/auth/refresh", body={"refreshToken": issued["refreshToken"]}, expect=200)
    api.call("POST", f"{V1}/auth/refresh", body={"refreshToken": "x" * 200}, expect=400)


def api_keys(api, ctx):
    # A second key to act on: the run's own key is never revoked nor rotated.
    _, created = api.call("POST", f"{V1}/api-keys", expect=201, body={
        "name": "conformance second key",
        "scopes": ["auth:read", "system:read"],
        "remaining": 100,
        "rateLimits": [{"name": "burst", "limit": 100, "periodMs": 60000}],
    })
    key_id = {"id": created["apiKey"]["id"]}
    api.call("POST", f"{V1}/api-keys", body={"name": "", "scopes": ["no:such"]}, expect=400)

    _, page = api.call("GET", f"{V1}/api-keys", query={"limit": 1, "ownerId": ctx["admin_user_id"]},
                       expect=200)
    if page["nextCursor"]:
        api.call("GET", f"{V1}/api-keys", query={"cursor": page["nextCursor"]}, expect=200)
    api.call("GET", f"{V1}/api-keys", query={"cursor": "not a cursor!"}, expect=400)

    api.call("PATCH", f"{V1}/api-keys/{{id}}", path=key_id,
             body={"name": "conformance second key (renamed)", "expiresAt": None}, expect=200)
    api.call("PATCH", f"{V1}/api-keys/{{id}}", path={"id": UNKNOWN}, body={"enabled": False}, expect=404)

    # VALID (with uses left and a rate limit), INSUFFICIENT_SCOPE, and NOT_FOUND answer differently.
    api.call("POST", f"{V1}/api-keys/verify", body={"key": created["key"], "scope": "auth:read"}, expect=200)
    api.call("POST", f"{V1}/api-keys/verify", body={"key": created["key"], "scope": "devops:write"},
             expect=200)
    api.call("POST", f"{V1}/api-keys/verify", body={"key": "bc_live_nothing"}, expect=200)
    api.call("POST", f"{V1}/api-keys/verify", body={"key": created["key"], "scope": "no:such"}, expect=400)

    # The verifications above, counted by outcome; an unknown range is refused.
    _, usage = api.call("GET", f"{V1}/api-keys/{{id}}/usage", path=key_id, query={"range": "7d"}, expect=200)
    if usage and (usage["totals"]["valid"] < 1 or usage["totals"]["insufficient_scope"] < 1):
        api.fail(("GET", f"{V1}/api-keys/{{id}}/usage"),
                 f"usage does not count the verifications above: {usage['totals']}")
    api.call("GET", f"{V1}/api-keys/{{id}}/usage", path=key_id, query={"range": "1y"}, expect=400)
    api.call("GET", f"{V1}/api-keys/{{id}}/usage", path={"id": UNKNOWN}, expect=404)

    _, rotated = api.call("POST", f"{V1}/api-keys/{{id}}/rotate", path=key_id,
                          body={"gracePeriodSeconds": 60}, expect=200)
    api.call("POST", f"{V1}/api-keys/{{id}}/rotate", path={"id": UNKNOWN}, expect=404)
    api.call("POST", f"{V1}/api-keys/{{id}}/revoke", path={"id": rotated["apiKey"]["id"]}, expect=200)
    api.call("POST", f"{V1}/api-keys/{{id}}/revoke", path={"id": UNKNOWN}, expect=404)


def audit(api, ctx):
    _, page = api.call("GET", f"{V1}/audit-events", query={"limit": 2}, expect=200)
    if page["nextCursor"]:
        api.call("GET", f"{V1}/audit-events", query={"limit": 2, "cursor": page["nextCursor"]}, expect=200)
    api.call("GET", f"{V1}/audit-events", query={"type": "user_created"}, expect=200)
    api.call("GET", f"{V1}/audit-events", query={"cursor": "abc"}, expect=400)
    # Filters: by actor and time range; the names of actors come with the events.
    _, mine = api.call("GET", f"{V1}/audit-events",
                       query={"actorUserId": ctx["admin_user_id"], "since": "2000-01-01T00:00:00Z"}, expect=200)
    if mine and any(event["actorUserId"] != ctx["admin_user_id"] for event in mine["items"]):
        api.fail(("GET", f"{V1}/audit-events"), "the actorUserId filter let another actor's events through")
    api.call("GET", f"{V1}/audit-events", query={"actorUserId": "not-a-uuid"}, expect=400)
    api.call("GET", f"{V1}/audit-events",
             query={"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"}, expect=400)
    _, page = api.call("GET", f"{V1}/platform/audit-events", query={"limit": 1}, expect=200)
    if page["nextCursor"]:
        api.call("GET", f"{V1}/platform/audit-events", query={"cursor": page["nextCursor"]}, expect=200)
    api.call("GET", f"{V1}/platform/audit-events", query={"type": "nope"}, expect=400)
