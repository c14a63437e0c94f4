"""Calls of the second-factor routes (the organization's requirement, sign-in's second step,
enrolment at sign-in); see ../run.py. Run from the auth area, after sign_in: it requires a second
factor of the key owner's organization for a moment, enrols the operator that area created
(ctx["user_email"]) through the sign-in's enrol challenge, signs them in again with a recovery
code, and stops requiring it."""

import base64
import hashlib
import hmac
import struct
import time

V1 = "/api/v1"
PASSWORD = "conformance-password-1"
FAKE_CHALLENGE = "bcsf_" + "A" * 43


def totp(secret, at=None):
    """RFC 6238's code of a base32 secret: HMAC-SHA-1, 30-second steps, 6 digits."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def run(api, ctx):
    route = f"{V1}/organization/second-factor"
    _, before = api.call("GET", route, expect=200)
    api.call("PUT", route, body={"required": "yes"}, expect=400)
    api.call("PUT", route, body={"required": True}, expect=200)
    try:
        enrol_and_sign_in(api, ctx)
    finally:
        api.call("PUT", route, body={"required": bool(before and before["required"])}, expect=200)


def enrol_and_sign_in(api, ctx):
    credentials = {"email": ctx["user_email"], "password": PASSWORD}
    _, answer = api.call("POST", f"{V1}/auth/login", body=credentials, key=False, expect=200)
    challenge = answer["secondFactor"]["challenge"]
    if answer["secondFactor"]["purpose"] != "enrol":
        api.fail(("POST", f"{V1}/auth/login"), f"expected an enrol challenge, got {answer}")

    begin = f"{V1}/auth/second-factor/enrolment"
    finish = f"{V1}/auth/second-factor/enrolment/finish"
    api.call("POST", begin, body={"challenge": FAKE_CHALLENGE}, key=False, expect=401)
    api.call("POST", begin, body={"challenge": "nope"}, key=False, expect=400)
    _, enrolment = api.call("POST", begin, body={"challenge": challenge}, key=False, expect=200)
    api.call("POST", finish, body={"challenge": FAKE_CHALLENGE, "code": "000000"}, key=False, expect=401)
    _, enrolled = api.call("POST", finish, key=False, expect=200,
                           body={"challenge": challenge, "code": totp(enrolment["secret"])})

    verify = f"{V1}/auth/second-factor/verify"
    _, answer = api.call("POST", f"{V1}/auth/login", body=credentials, key=False, expect=200)
    challenge = answer["secondFactor"]["challenge"]
    api.call("POST", verify, body={"challenge": challenge}, key=False, expect=400)
    api.call("POST", verify, body={"challenge": FAKE_CHALLENGE, "code": "123456"}, key=False, expect=401)
    api.call("POST", verify, key=False, expect=200,
             body={"challenge": challenge, "recoveryCode": enrolled["recoveryCodes"][0]})
    # Passkeys are for the server's own pages: a call without a browser's Origin is refused.
    api.call("POST", f"{V1}/auth/second-factor/passkey-options", body={"challenge": challenge},
             key=False, expect=400)
    api.call("POST", f"{V1}/auth/second-factor/verify-passkey", key=False, expect=400, body={
        "challenge": challenge,
        "passkey": {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}})
    api.call("POST", f"{V1}/auth/passkey/options", key=False, expect=400)
    api.call("POST", f"{V1}/auth/passkey/sign-in", key=False, expect=400, body={
        "passkey": {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}})
    # The challenge worked once.
    api.call("POST", verify, key=False, expect=401,
             body={"challenge": challenge, "recoveryCode": enrolled["recoveryCodes"][1]})
