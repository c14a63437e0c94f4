"""Calls of the organization routes (organizations, platform roles, invitations); see ../run.py.
It acts on an organization and users it creates itself: never on the key owner's organization
nor on the key owner's platform role."""

import uuid

V1 = "/api/v1"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def run(api, ctx):
    if "admin_user_id" not in ctx:
        _, me = api.call("GET", f"{V1}/me", expect=200)
        ctx["admin_user_id"] = me["userId"]
        ctx["organization_id"] = me["organizationId"]
    run_id = uuid.uuid4().hex[:12]

    organization_id, token = organizations(api, ctx, run_id)
    user_id = accept(api, token, run_id)
    platform_roles(api, ctx, user_id)
    if organization_id:
        _, deleted = api.call("DELETE", f"{V1}/organizations/{{id}}", path={"id": organization_id}, expect=200)
        if deleted and deleted["members"] != 1:
            api.fail(("DELETE", f"{V1}/organizations/{{id}}"), f"expected 1 member gone, got {deleted}")
        api.call("GET", f"{V1}/organizations/{{id}}", path={"id": organization_id}, expect=404)
        api.call("DELETE", f"{V1}/organizations/{{id}}", path={"id": organization_id}, expect=404)
    # Refused: the caller's own organization.
    api.call("DELETE", f"{V1}/organizations/{{id}}", path={"id": ctx["organization_id"]}, expect=400)
    invitations(api, run_id)


def organizations(api, ctx, run_id):
    """Creates, lists, reads, renames, suspends and resumes an organization; returns its id and
    its first admin's invitation token."""
    body = {"name": f"Conformance {run_id}", "admin": {"email": f"owner-{run_id}@conformance.test"}}
    _, created = api.call("POST", f"{V1}/organizations", body=body, expect=201)
    api.call("POST", f"{V1}/organizations", body={"name": "", "admin": {"email": "nope"}}, expect=400)
    if not created:
        return None, None
    organization_id = created["organization"]["id"]

    _, page = api.call("GET", f"{V1}/organizations", query={"limit": 1}, expect=200)
    if page and page["nextCursor"]:
        api.call("GET", f"{V1}/organizations", query={"limit": 1, "cursor": page["nextCursor"]}, expect=200)
    api.call("GET", f"{V1}/organizations", query={"limit": 101}, expect=400)

    api.call("GET", f"{V1}/organizations/{{id}}", path={"id": organization_id}, expect=200)
    api.call("GET", f"{V1}/organizations/{{id}}", path={"id": UNKNOWN_ID}, expect=404)
    api.call("GET", f"{V1}/organizations/{{id}}", path={"id": "not-a-uuid"}, expect=400)

    _, renamed = api.call("PATCH", f"{V1}/organizations/{{id}}", path={"id": organization_id},
                          body={"name": f"Conformance {run_id} renamed"}, expect=200)
    if renamed and not renamed["name"].endswith("renamed"):
        api.fail(("PATCH", f"{V1}/organizations/{{id}}"), f"not renamed: {renamed}")
    api.call("PATCH", f"{V1}/organizations/{{id}}", path={"id": organization_id}, body={"name": ""}, expect=400)

    suspend = f"{V1}/organizations/{{id}}/suspend"
    _, suspended = api.call("POST", suspend, path={"id": organization_id},
                            body={"reason": "conformance run"}, expect=200)
    if suspended and suspended["suspendedAt"] is None:
        api.fail(("POST", suspend), f"not suspended: {suspended}")
    api.call("POST", suspend, path={"id": organization_id}, body={}, expect=400)
    api.call("POST", suspend, path={"id": UNKNOWN_ID}, body={"reason": "conformance run"}, expect=404)

    resume = f"{V1}/organizations/{{id}}/resume"
    _, resumed = api.call("POST", resume, path={"id": organization_id}, expect=200)
    if resumed and resumed["suspendedAt"] is not None:
        api.fail(("POST", resume), f"still suspended: {resumed}")
    api.call("POST", resume, path={"id": UNKNOWN_ID}, expect=404)
    return organization_id, created["token"]


def accept(api, token, run_id):
    """Joins the new organization with its first admin's token; returns the new user's id."""
    route = f"{V1}/invitations/accept"
    api.call("POST", route, key=False, body={"token": token or "bc_inv_x", "password": "short"}, expect=400)
    if not token:
        return None
    body = {"token": token, "password": f"conformance-{run_id}-password", "name": "Conformance Owner"}
    _, accepted = api.call("POST", route, key=False, body=body, expect=200)
    return accepted["user"]["id"] if accepted else None


def platform_roles(api, ctx, user_id):
    """Gives the new user a platform role and takes it away again; the key owner's stays."""
    _, holders = api.call("GET", f"{V1}/platform/roles", expect=200)
    if holders is not None and ctx["admin_user_id"] not in [h["userId"] for h in holders]:
        api.fail(("GET", f"{V1}/platform/roles"), "the key owner is not among the platform role holders")
    route = f"{V1}/platform/roles/{{userId}}"
    api.call("PUT", route, path={"userId": UNKNOWN_ID}, body={"platformRole": "operator"}, expect=404)
    api.call("PUT", route, path={"userId": UNKNOWN_ID}, body={"platformRole": "owner"}, expect=400)
    if not user_id:
        return
    _, user = api.call("PUT", route, path={"userId": user_id}, body={"platformRole": "operator"}, expect=200)
    if user and user["platformRole"] != "operator":
        api.fail(("PUT", route), f"platform role not given: {user}")
    _, holders = api.call("GET", f"{V1}/platform/roles", expect=200)
    if holders is not None and user_id not in [h["userId"] for h in holders]:
        api.fail(("GET", f"{V1}/platform/roles"), "the new platform operator is not listed")
    api.call("PUT", route, path={"userId": user_id}, body={"platformRole": None}, expect=200)


def invitations(api, run_id):
    """Invites into the caller's organization, lists, and revokes the invitation."""
    body = {"email": f"invitee-{run_id}@conformance.test", "role": "viewer", "expiresInHours": 1}
    _, issued = api.call("POST", f"{V1}/invitations", body=body, expect=201)
    api.call("POST", f"{V1}/invitations", body={"email": "not-an-email", "role": "viewer"}, expect=400)

    _, page = api.call("GET", f"{V1}/invitations", query={"limit": 1}, expect=200)
    if page and page["nextCursor"]:
        api.call("GET", f"{V1}/invitations", query={"limit": 1, "cursor": page["nextCursor"]}, expect=200)
    api.call("GET", f"{V1}/invitations", query={"limit": 0}, expect=400)

    route = f"{V1}/invitations/{{id}}/revoke"
    if issued:
        invitation_id = issued["invitation"]["id"]
        _, revoked = api.call("POST", route, path={"id": invitation_id}, expect=200)
        if revoked and revoked["status"] != "revoked":
            api.fail(("POST", route), f"not revoked: {revoked}")
        api.call("POST", route, path={"id": invitation_id}, expect=200)
    api.call("POST", route, path={"id": UNKNOWN_ID}, expect=404)
