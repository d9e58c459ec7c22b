#!/usr/bin/env python3
"""Writes the seed corpus (valid and near-valid inputs from the test vectors) into corpus/.

Files are named by their SHA-1, like libFuzzer's own. Re-running is idempotent; minimized
findings from real runs are added to the same folders by `cargo fuzz cmin` / by hand.
"""
import base64, hashlib, hmac, json, os, random

HERE = os.path.dirname(os.path.abspath(__file__))
K1 = b"0123456789abcdef0123456789abcdef"
K2 = b"fedcba9876543210fedcba9876543210"

def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def token(header, payload, key):
    si = b64(json.dumps(header, separators=(",", ":")).encode()) + "." + b64(payload.encode())
    return si + "." + b64(hmac.new(key, si.encode(), hashlib.sha256).digest())

def put(target, data):
    if isinstance(data, str): data = data.encode()
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f: f.write(data)

VECTORS = [
 "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImlhdCI6MTc2NDMzMTIwMCwiZXhwIjoxNzY0MzMzOTAwfQ.PLaKy7y_CrBQTUvn8n1Sla_OJaI7qDQrB2_SNAi9g-M",
 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1aWQiOiJhbGljZSIsImlhdCI6MTc2NDMzMTIwMCwiZXhwIjoxNzY0MzMzOTAwfQ.RQ4v0m6DFRsRNkFOps6yzp5PEKlyNAhTToNeMfHwUmY",
 "eyJhbGciOiJIUzI1NiIsImtpZCI6IjIwMjYtMTEiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJhbGljZSIsImlhdCI6MTc2NDMzMTIwMCwiZXhwIjoxNzY0MzMzOTAwfQ.2ELwsweZ_IhQEkGITGfUBzZR4hvK74qcT71RjmWjBbQ",
 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImlzcyI6ImF1dGguZXhhbXBsZSIsImF1ZCI6WyJkYXNoYm9hcmQiLCJiaWxsaW5nIl0sImlhdCI6MTc2NDMzMTIwMCwibmJmIjoxNzY0MzMxMjAwLCJleHAiOjE3NjQzMzM5MDAsImp0aSI6ImExIn0.XM61OEyOtIGxkPwW0z_gIjKrmDus0xjxAV3D1jKPU5o",
 "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTc2NDMzMzkwMH0.waxiMdLmcEEujsO2XH7x05youzWcXbeYDvSQicfHr1OEhoqBsNSUyVFT4AAfu3N9fRIr4Z_fGTc7HZm3Sh31EA",
 "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6MTc2NDMzMzkwMH0.",
 "eyJhbGciOiJIUzI1NiIsImNyaXQiOlsiZXhwIl0sImV4cCI6MX0.eyJzdWIiOiJhbGljZSIsImV4cCI6MTc2NDMzMzkwMH0.ek9RhogOqAQansFBSbMx0nIKi-eLzmh4KRcVC7PMp2E",
 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbFx1MDA2OWNlIiwiZXhwIjoxNzY0MzMzOTAwfQ.M9DQWMB4C5vi5_yo79Bck0PfyAJJGkyDIctbMms0TFs",
 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MSwiZXhwIjo5OTk5OTk5OTk5fQ.qwXrWPjP2pDqnnOr6jgpyNQ-p6so6dfqIlaVomtBuTA",
 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTc2NDMzMzkwMC41fQ.5CXXoBKh3kiz6yrPte2hLhLZ-A0sxG9MksWc4MtVBHg",
 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImlhdCI6MTc2NDMzMTIwMCwiZXhwIjoxNzY0MzMzOTAwfQ.PLaKy7y_CrBQTUvn8n1Sla_OJaI7qDQrB2_SNAi9g-M=",
 "",
]
PAYLOADS = [
 {"sub": "alice", "iat": 1764331200, "exp": 1764333900},
 {"uid": "alice", "iat": 1764331200, "exp": 1764333900},
 {"sub": "al\u0069ce", "iss": "iss", "aud": ["aud", "x"], "nbf": 1764331200, "exp": 1764333900, "jti": "j"},
 {"sub": "\U0001F600 \"q\" \\", "aud": "aud", "exp": 1764333900},
]
for t in VECTORS: put("token_verify", t)
for p in PAYLOADS:
    canon = json.dumps(p, separators=(",", ":"), ensure_ascii=False)
    put("token_verify", token({"alg": "HS256", "typ": "JWT"}, canon, K1))
    put("token_verify", token({"alg": "HS256", "kid": "k1", "typ": "JWT"}, canon, K1))
    put("token_verify", token({"alg": "HS256", "kid": "k2", "typ": "JWT"}, canon, K2))
    put("token_verify", token({"alg": "HS256", "typ": "JWT"}, json.dumps(p), K1))  # escaped, spaced
    for raw in (canon, json.dumps(p)): put("claims", raw)
# Correctly MACed under K1 over a payload segment that is not strict base64url (#26's fused
# decode checks the payload's encoding only after the MAC): non-zero unused bits, a character
# outside the alphabet, padding, standard-alphabet characters, a dot (four segments).
def maced(signing_input):
    return signing_input + "." + b64(hmac.new(K1, signing_input.encode(), hashlib.sha256).digest())
HEAD = b64(b'{"alg":"HS256","typ":"JWT"}')
PAY = b64(b'{"sub":"alice","exp":1764333900}')  # 43 characters
PAY2 = b64(b'{"sub":"al","exp":1764333900}')  # 39 characters: 2 unused bits in the last
for bad in (PAY2[:-1] + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(PAY2[-1]) | 1],
            PAY[:10] + "#" + PAY[10:], PAY[:10] + " " + PAY[10:], PAY2 + "=", PAY[:10] + "+" + PAY[11:],
            PAY[:10] + "/" + PAY[11:], PAY[:20] + "." + PAY[20:], "." + PAY, PAY + "."):
    put("token_verify", maced(HEAD + "." + bad))
for raw in ['{"exp":"1"}', '{"nbf":"99999999999","exp":1}', '{"exp":1,"exp":2}', '{"exp":1.5}', '{"aud":[1]}',
            '{"sub":"\\ud83d\\ude00","exp":1}', '{"sub":"\\ud83d","exp":1}', '[]', '{', '{"x":{"y":[1,{"z":null}]},"exp":1}']:
    put("claims", raw)
for t in VECTORS[:3]: put("bearer", "Bearer " + t); put("bearer", "bearer   " + t)
for raw in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "BEARER a==", "Bearer a=b", "Bearer \xff", "Token x"]:
    put("bearer", raw.encode("latin-1"))
for raw in ["username=alice&password=p%40ss+w%26rd%3D%C3%BC%2B1&grant_type=password&scope=a+b&client_id=c&client_secret=s",
            "username=a&password=b&username=c", "grant_type=x", "username=%FF&password=x", "username=a&password=%2",
            "user%6Eame=bob&password=pw&&x=%ZZ", "", "=&=&="]:
    put("login_form", raw)
for raw in ["$pbkdf2-sha256$i=1000,l=32$obLD1OX2BxgpOktcbX6PkA$tiuDoyFplz7RtbK706Kl0d9DxyZt8xqNe0y6uzZoj58",
            "$pbkdf2-sha256$i=600000,l=32$obLD1OX2BxgpOktcbX6PkA$tiuDoyFplz7RtbK706Kl0d9DxyZt8xqNe0y6uzZoj58",
            "$pbkdf2-sha256$1000$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE",
            "$pbkdf2-sha256$29000$ABEiM0RVZneImaq7zN3u/w$t.ewNkTwQ38Rdza3x3Vlsk6UGpwPiXMhh77TbhLEvBA",
            "pbkdf2_sha256$1000$seasalt1$He4e+fnbbQ20nfKjwYt48i1a0hFwT8YoI5QWRTXk5jI=",
            "pbkdf2_sha256$1000$seasalt$YIWkt6M1JFXrHg5s0jZjBSc7C2Cz6QvchSJ0h8Y+i7c=",
            "$pbkdf2-sha256$i=1000,l=40$c2FsdFNBTFRzYWx0U0FMVHNhbHRTQUxUc2FsdFNBTFRzYWx0$NIyJ28vTKy8y2BS4EW6EzysXNH68GAAYHE4qH7jdU+HGNVGMfaxH6Q",
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$aGFzaA", "$pbkdf2-sha256$i=1000$x$y$z"]:
    put("password_hash", raw)
rng = random.Random(7)
for n in (0, 8, 32, 64, 200, 600):
    put("sign_verify_roundtrip", bytes(rng.randrange(256) for _ in range(n)))
put("sign_verify_roundtrip", b"\x05alice\x01\x03iss" + bytes(range(64)))
# hmac_differential (#26): key length byte, split byte, then key and message. Keys around the
# 64-byte block (hashed first above it), messages around the one- and two-block padding edges.
for key_len in (0, 1, 32, 63, 64, 65, 131):
    for msg_len in (0, 55, 56, 63, 64, 119, 120, 188, 300):
        split = rng.randrange(256)
        put("hmac_differential", bytes([key_len, split]) + bytes(rng.randrange(256) for _ in range(key_len + msg_len)))
