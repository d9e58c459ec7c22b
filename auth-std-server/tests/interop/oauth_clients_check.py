"""The refresh flow (#13) with real, unmodified OAuth clients: Authlib's OAuth2Session
(refresh_token() and its automatic refresh of an expired token) and requests-oauthlib's
OAuth2Session with LegacyApplicationClient (refresh_token() and auto_refresh_url).

usage: oauth_clients_check.py <base url> <username> <password>   -> prints "ok"
"""
import os
import sys
import time

base, user, pw = sys.argv[1], sys.argv[2], sys.argv[3]
token_url = base + "/auth/session"
dashboard = base + "/dashboard/metrics"


def check(cond, what):
    if not cond:
        sys.exit("FAILED: " + what)


# --- Authlib -------------------------------------------------------------------------------
from authlib.integrations.requests_client import OAuth2Session, OAuthError

s = OAuth2Session(client_id="interop", token_endpoint=token_url)
tok = s.fetch_token(token_url, username=user, password=pw)
check("refresh_token" in tok and tok["token_type"].lower() == "bearer", "authlib: password grant")
r = s.get(dashboard)
check(r.status_code == 200 and r.json()["owner"] == user, "authlib: dashboard %s" % r.status_code)
first = tok["refresh_token"]
new = s.refresh_token(token_url)
check(new["refresh_token"] != first, "authlib: refresh rotates")
check(s.get(dashboard).status_code == 200, "authlib: refreshed access token works")
# Automatic refresh: the client sees an expired token and refreshes before the request.
before = s.token["refresh_token"]
s.token["expires_at"] = int(time.time()) - 10
r = s.get(dashboard)
check(r.status_code == 200, "authlib: auto-refresh then dashboard %s" % r.status_code)
check(s.token["refresh_token"] != before, "authlib: auto-refresh rotated the token")
# The first refresh token again: reuse, refused as invalid_grant, and the session is revoked.
try:
    s2 = OAuth2Session(client_id="interop", token_endpoint=token_url)
    s2.refresh_token(token_url, refresh_token=first)
    check(False, "authlib: reuse accepted")
except OAuthError as e:
    check(e.error == "invalid_grant", "authlib: reuse error %s" % e.error)
check(s.get(dashboard, withhold_token=False).status_code == 401, "authlib: session revoked after reuse")

# --- requests-oauthlib ----------------------------------------------------------------------
# Plain HTTP on loopback in this test; the TLS case is #14's.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
from oauthlib.oauth2 import LegacyApplicationClient
from requests_oauthlib import OAuth2Session as RSession

client_id = "interop"
rs = RSession(client=LegacyApplicationClient(client_id=client_id))
tok = rs.fetch_token(token_url=token_url, username=user, password=pw, include_client_id=True)
check("refresh_token" in tok, "requests-oauthlib: password grant")
new = rs.refresh_token(token_url)
check(new["refresh_token"] != tok["refresh_token"], "requests-oauthlib: refresh rotates")
r = rs.get(dashboard)
check(r.status_code == 200 and r.json()["owner"] == user, "requests-oauthlib: dashboard")
# Automatic refresh through auto_refresh_url, on a token that has expired.
saved = {}
expired = dict(new)
expired["expires_at"] = time.time() - 10
expired["expires_in"] = -10
auto = RSession(
    client=LegacyApplicationClient(client_id=client_id),
    token=expired,
    auto_refresh_url=token_url,
    token_updater=saved.update,
)
r = auto.get(dashboard)
check(r.status_code == 200, "requests-oauthlib: auto-refresh then dashboard %s" % r.status_code)
check(saved.get("refresh_token") not in (None, new["refresh_token"]), "requests-oauthlib: token_updater got a new token")
print("ok")
