"""EdDSA interop (#27): verify our server's token from its JWKS URL with PyJWT's PyJWKClient
and with joserfc, both unmodified. Exits non-zero, with the reason on stderr, if either refuses
a good token or accepts a tampered one.

usage: eddsa_check.py <jwks_url> <token>   -> prints the subject
"""
import json
import sys
import urllib.request

import jwt
from jwt import PyJWKClient
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

url, token = sys.argv[1], sys.argv[2]

# PyJWT: the client fetches the set and picks the key by the token's kid.
key = PyJWKClient(url).get_signing_key_from_jwt(token)
claims = jwt.decode(token, key.key, algorithms=["EdDSA"], options={"require": ["exp", "iat"]})

# joserfc: the key set as fetched.
with urllib.request.urlopen(url) as r:
    assert "max-age" in r.headers.get("Cache-Control", ""), r.headers
    keyset = KeySet.import_key_set(json.load(r))
decoded = jose_jwt.decode(token, keyset, algorithms=["EdDSA"])
assert decoded.claims["sub"] == claims["sub"], (decoded.claims, claims)

# A tampered signature is refused by both.
head, body, sig = token.split(".")
bad = f"{head}.{body}.{sig[:10]}{'A' if sig[10] != 'A' else 'B'}{sig[11:]}"
for name, check in [
    ("PyJWT", lambda: jwt.decode(bad, key.key, algorithms=["EdDSA"])),
    ("joserfc", lambda: jose_jwt.decode(bad, keyset, algorithms=["EdDSA"])),
]:
    try:
        check()
    except Exception:
        continue
    sys.exit(f"{name} accepted a tampered token")
print(claims["sub"])
