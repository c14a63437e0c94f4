"""Calls of the auth routes (who you are, users, API keys, the audit log); see ../run.py."""

V1 = "/api/v1"


def run(api, ctx):
    _, me = api.call("GET", f"{V1}/me", expect=200)
    ctx["admin_user_id"] = me["userId"]
    ctx["organization_id"] = me["organizationId"]
    api.call("GET", f"{V1}/me", key=False, expect=401)
    _, _ = api.call("GET", f"{V1}/api-keys/{{id}}", path={"id": me["apiKeyId"]}, expect=200)
    api.call("GET", f"{V1}/api-keys/{{id}}", path={"id": "not-a-uuid"}, expect=400)
    api.call("GET", f"{V1}/api-keys/{{id}}", path={"id": "00000000-0000-4000-8000-000000000000"}, expect=404)
