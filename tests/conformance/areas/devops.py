"""Calls of the devops routes (environments, deployments, backups, maintenance, drain); see ../run.py.

Deployments go through a webhook provider: a small receiver in this process answers every call
with 204, so the server must allow it as a destination (OUTBOUND_ALLOW_DEPLOYMENT_WEBHOOK=127.0.0.1).
A backup is restored into the platform's own database, in maintenance, near the end: what the
run changes after the backup is gone afterwards. Draining the instance is the last call."""

import http.server
import threading
import time

V1 = "/api/v1"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
ENVIRONMENT = "conformance"


def run(api, ctx):
    environments(api)
    deployments(api)
    schedules(api)
    backups(api)
    point_in_time(api)
    # Last: the instance stops being ready; the cancel leaves it as it was.
    _, drained = api.call("POST", f"{V1}/devops/instance/drain", body={"draining": True}, expect=200)
    check(api, drained and drained["draining"], "drain: draining", drained)
    api.call("POST", f"{V1}/devops/instance/drain", body={"waitSeconds": 61}, expect=400)
    _, cancelled = api.call("POST", f"{V1}/devops/instance/drain", body={"draining": False}, expect=200)
    check(api, cancelled and not cancelled["draining"], "drain: cancelled", cancelled)


def environments(api):
    _, state = api.call("GET", f"{V1}/devops/maintenance", expect=200)
    check(api, state and not state["enabled"], "maintenance: off at first", state)
    _, listed = api.call("GET", f"{V1}/environments", expect=200)
    check(api, any(e["name"] == "staging" for e in listed or []), "environments: the defaults", listed)

    _, created = api.call(
        "POST", f"{V1}/environments",
        body={"name": ENVIRONMENT, "description": "made by the conformance run"}, expect=201,
    )
    check(api, created and created["current"]["revision"] == 1, "environments: created at revision 1", created)
    api.call("POST", f"{V1}/environments", body={"name": ENVIRONMENT}, expect=409)
    api.call("POST", f"{V1}/environments", body={"name": "Not A Name"}, expect=400)
    api.call("GET", f"{V1}/environments/{{name}}", path={"name": ENVIRONMENT}, expect=200)
    api.call("GET", f"{V1}/environments/{{name}}", path={"name": "no-such-environment"}, expect=404)

    _, changed = api.call(
        "PUT", f"{V1}/environments/{{name}}/config", path={"name": ENVIRONMENT},
        body={
            "values": {"LOG_LEVEL": "debug", "WORKERS": 4, "FEATURE_SEARCH": True},
            "secrets": {"API_TOKEN": "conformance-secret-value"},
            "message": "first values",
        },
        expect=200,
    )
    check(api, changed and changed["revision"] == 2 and changed["created"], "setConfig: revision 2", changed)
    api.call(
        "PUT", f"{V1}/environments/{{name}}/config", path={"name": ENVIRONMENT},
        body={"values": {"lower_case": 1}}, expect=400,
    )
    _, secret_view = api.call("GET", f"{V1}/environments/{{name}}", path={"name": ENVIRONMENT}, expect=200)
    check(api, 
        secret_view and secret_view["current"]["secrets"]["API_TOKEN"]["value"] == "[redacted]",
        "environments: secrets redacted", secret_view,
    )

    _, first = api.call(
        "GET", f"{V1}/environments/{{name}}/history", path={"name": ENVIRONMENT}, query={"limit": 1}, expect=200,
    )
    check(api, first and first["nextCursor"], "history: a next page", first)
    if first and first["nextCursor"]:
        api.call(
            "GET", f"{V1}/environments/{{name}}/history", path={"name": ENVIRONMENT},
            query={"limit": 1, "cursor": first["nextCursor"]}, expect=200,
        )
    api.call(
        "GET", f"{V1}/environments/{{name}}/history", path={"name": ENVIRONMENT}, query={"limit": 0}, expect=400,
    )

    api.call(
        "GET", f"{V1}/environments/{{name}}/diff", path={"name": ENVIRONMENT}, query={"from": 1, "to": 2},
        expect=200,
    )
    api.call(
        "GET", f"{V1}/environments/{{name}}/diff", path={"name": ENVIRONMENT}, query={"from": 1, "to": 99},
        expect=404,
    )

    _, rolled = api.call(
        "POST", f"{V1}/environments/{{name}}/rollback", path={"name": ENVIRONMENT},
        body={"toRevision": 1, "message": "back to empty"}, expect=200,
    )
    check(api, rolled and rolled["rolledBackFrom"] == 1, "rollback: from revision 1", rolled)
    api.call(
        "POST", f"{V1}/environments/{{name}}/rollback", path={"name": ENVIRONMENT},
        body={"toRevision": 99}, expect=404,
    )

    # Something to compare: staging gets a value and a secret.
    api.call(
        "PUT", f"{V1}/environments/{{name}}/config", path={"name": "staging"},
        body={"values": {"LOG_LEVEL": "info"}, "secrets": {"API_TOKEN": "another-secret"}}, expect=200,
    )
    api.call(
        "GET", f"{V1}/environments/{{a}}/compare/{{b}}", path={"a": ENVIRONMENT, "b": "staging"}, expect=200,
    )
    api.call(
        "GET", f"{V1}/environments/{{a}}/compare/{{b}}", path={"a": ENVIRONMENT, "b": "no-such-environment"},
        expect=404,
    )


def deployments(api):
    receiver = WebhookReceiver()
    try:
        provider = {
            "kind": "webhook",
            "config": {"url": receiver.url, "secret": "conformance-webhook-signing-secret"},
        }
        spec = {
            "strategy": "canary",
            "steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50, "gate": True}],
        }
        _, deployment = api.call(
            "POST", f"{V1}/deployments",
            body={
                "service": "conformance-web", "environment": "staging", "version": "1.1.0",
                "stableVersion": "1.0.0", "spec": spec, "provider": provider,
            },
            expect=201,
        )
        api.call(
            "POST", f"{V1}/deployments",
            body={"service": "conformance-web", "environment": "staging", "version": "not a version",
                  "spec": spec, "provider": provider},
            expect=400,
        )
        if not deployment:
            return
        config = deployment["provider"]["config"]
        check(api, config.get("secret") == "[redacted]", "deployment: the secret redacted", config)
        web = deployment["id"]

        # The indefinite pause, then the gate after the second weight: approve each.
        paused = wait_for(api, web, lambda d: d["status"] == "paused")
        api.call("POST", f"{V1}/deployments/{{id}}/approve", path={"id": web},
                 body={"step": paused.get("currentStep"), "comment": "looks good"}, expect=200)
        wait_for(api, web, lambda d: d["status"] == "paused" and d["currentStep"] > paused.get("currentStep", 0))
        api.call("POST", f"{V1}/deployments/{{id}}/promote", path={"id": web},
                 body={"reason": "conformance run"}, expect=200)
        wait_for(api, web, lambda d: d["status"] == "promoted")
        api.call("POST", f"{V1}/deployments/{{id}}/rollback", path={"id": web},
                 body={"reason": "conformance run"}, expect=200)
        done = wait_for(api, web, lambda d: d["status"] == "rolled_back")
        events = [e["type"] for e in done.get("events", [])]
        check(api, "rolled_back" in events, "deployment: a rolled_back event", events)
        api.call("POST", f"{V1}/deployments/{{id}}/approve", path={"id": web}, body={}, expect=409)

        _, other = api.call(
            "POST", f"{V1}/deployments",
            body={"service": "conformance-api", "environment": "staging", "version": "2.0.0",
                  "spec": {"strategy": "blueGreen", "autoPromote": False}, "provider": provider},
            expect=201,
        )
        if other:
            api.call("POST", f"{V1}/deployments/{{id}}/abort", path={"id": other["id"]},
                     body={"reason": "conformance run"}, expect=200)
            wait_for(api, other["id"], lambda d: d["status"] == "aborted")

        _, page = api.call("GET", f"{V1}/deployments", query={"limit": 1}, expect=200)
        if page and page["nextCursor"]:
            api.call("GET", f"{V1}/deployments", query={"limit": 1, "cursor": page["nextCursor"]}, expect=200)
        _, filtered = api.call(
            "GET", f"{V1}/deployments",
            query={"service": "conformance-web", "status": ["rolled_back", "aborted"]}, expect=200,
        )
        check(api, filtered and [d["id"] for d in filtered["items"]] == [web], "deployments: filtered", filtered)
        api.call("GET", f"{V1}/deployments", query={"status": "nonsense"}, expect=400)

        api.call("GET", f"{V1}/deployments/{{id}}", path={"id": UNKNOWN_ID}, expect=404)
        api.call("GET", f"{V1}/deployments/{{id}}", path={"id": "not-a-uuid"}, expect=400)
        for action in ("approve", "promote", "abort", "rollback"):
            api.call("POST", f"{V1}/deployments/{{id}}/{action}", path={"id": UNKNOWN_ID}, body={}, expect=404)
    finally:
        receiver.close()


def schedules(api):
    _, schedule = api.call(
        "POST", f"{V1}/backup-schedules", body={"cron": "0 3 * * *", "retentionCount": 7}, expect=201,
    )
    api.call("POST", f"{V1}/backup-schedules", body={"cron": "61 * * * *"}, expect=400)
    _, listed = api.call("GET", f"{V1}/backup-schedules", expect=200)
    if not schedule:
        return
    check(api, any(s["id"] == schedule["id"] for s in listed or []), "schedules: listed", listed)
    _, updated = api.call(
        "PATCH", f"{V1}/backup-schedules/{{id}}", path={"id": schedule["id"]},
        body={"enabled": False, "retentionDays": 30}, expect=200,
    )
    check(api, updated and updated["enabled"] is False, "schedules: disabled", updated)
    api.call("PATCH", f"{V1}/backup-schedules/{{id}}", path={"id": UNKNOWN_ID}, body={"enabled": True}, expect=404)
    api.call("DELETE", f"{V1}/backup-schedules/{{id}}", path={"id": schedule["id"]}, expect=200)
    api.call("DELETE", f"{V1}/backup-schedules/{{id}}", path={"id": schedule["id"]}, expect=404)


def point_in_time(api):
    # The conformance platform runs without BACKUP_PITR: the status says so, a base backup is refused.
    _, status = api.call("GET", f"{V1}/point-in-time", expect=200)
    check(api, status is not None and status["enabled"] is False and bool(status["reason"]), "point-in-time: off, with why", status)
    api.call("POST", f"{V1}/point-in-time/base-backups", expect=409)


def backups(api):
    _, backup = api.call("POST", f"{V1}/backups", body={"wait": True}, expect=201)
    api.call("POST", f"{V1}/backups", body={"wait": "yes"}, expect=400)
    _, page = api.call("GET", f"{V1}/backups", query={"limit": 10}, expect=200)
    api.call("GET", f"{V1}/backups/{{id}}", path={"id": UNKNOWN_ID}, expect=404)
    if not backup:
        return
    check(api, backup["status"] == "succeeded", "backup: succeeded", backup)
    check(api, any(b["id"] == backup["id"] for b in (page or {}).get("items", [])), "backups: listed", page)
    api.call("GET", f"{V1}/backups/{{id}}", path={"id": backup["id"]}, expect=200)
    _, verified = api.call("POST", f"{V1}/backups/{{id}}/verify", path={"id": backup["id"]}, expect=200)
    check(api, isinstance(verified, dict) and verified.get("ok") is True, "backup: verified", verified)

    # Maintenance: mutations answer 503; restoring the platform's own database needs it on.
    api.call("PUT", f"{V1}/devops/maintenance", body={"enabled": True, "retryAfterSeconds": 0}, expect=400)
    _, on = api.call(
        "PUT", f"{V1}/devops/maintenance",
        body={"enabled": True, "message": "conformance run: restoring", "retryAfterSeconds": 5}, expect=200,
    )
    check(api, on and on["enabled"], "maintenance: on", on)
    api.call("GET", f"{V1}/devops/maintenance", expect=200)
    api.call("POST", f"{V1}/environments", body={"name": "during-maintenance"}, expect=503)
    _, restored = api.call(
        "POST", f"{V1}/backups/{{id}}/restore", path={"id": backup["id"]}, body={"confirm": True}, expect=200,
    )
    check(api, restored and restored["target"]["platform"], "restore: into the platform's database", restored)
    _, off = api.call("PUT", f"{V1}/devops/maintenance", body={"enabled": False}, expect=200)
    check(api, off and not off["enabled"], "maintenance: off", off)

    api.call("DELETE", f"{V1}/backups/{{id}}", path={"id": backup["id"]}, expect=200)
    api.call("DELETE", f"{V1}/backups/{{id}}", path={"id": backup["id"]}, expect=404)
    api.call("POST", f"{V1}/backups/{{id}}/verify", path={"id": UNKNOWN_ID}, expect=404)
    api.call("POST", f"{V1}/backups/{{id}}/restore", path={"id": UNKNOWN_ID}, body={"confirm": False}, expect=404)


def wait_for(api, deployment_id, done, seconds=60):
    """Reads the deployment until `done(it)`; fails the run when it never is."""
    deadline = time.monotonic() + seconds
    while True:
        _, deployment = api.call("GET", f"{V1}/deployments/{{id}}", path={"id": deployment_id}, expect=200)
        if deployment and done(deployment):
            return deployment
        if time.monotonic() > deadline:
            check(api, False, f"deployment {deployment_id} never reached the state waited for", deployment)
            return deployment or {}
        time.sleep(0.25)


def check(api, condition, what, value):
    """An outcome the run expects beyond the schema (a state, a redaction); a miss fails the run."""
    if not condition:
        api.failures.append(f"{what}: {str(value)[:500]}")


class WebhookReceiver:
    """The deployment provider's receiver: accepts every call (the run checks the platform, not it)."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/deploy"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
