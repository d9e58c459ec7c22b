"""#14 item 4: requests-oauthlib's LegacyApplicationClient logs in over HTTPS, with no
OAUTHLIB_INSECURE_TRANSPORT, trusting the test's self-signed certificate.

usage: tls_login_check.py <https base url> <username> <password> <ca.pem>   -> prints "ok"
"""
import os
import sys

from oauthlib.oauth2 import LegacyApplicationClient
from requests_oauthlib import OAuth2Session

base, user, pw, ca = sys.argv[1:5]
if os.environ.get("OAUTHLIB_INSECURE_TRANSPORT"):
    sys.exit("FAILED: OAUTHLIB_INSECURE_TRANSPORT is set")
s = OAuth2Session(client=LegacyApplicationClient(client_id="tls-check"))
tok = s.fetch_token(token_url=base + "/auth/session", username=user, password=pw, verify=ca)
if "refresh_token" not in tok:
    sys.exit("FAILED: no refresh token")
r = s.get(base + "/dashboard/metrics", verify=ca)
if r.status_code != 200 or r.json().get("owner") != user:
    sys.exit("FAILED: dashboard %s %s" % (r.status_code, r.text))
print("ok")
