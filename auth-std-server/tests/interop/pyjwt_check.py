"""PyJWT interop: decode a token from the server, and mint one for the server to accept.

usage: pyjwt_check.py decode <secret> <token>   -> prints the subject
       pyjwt_check.py encode <secret> <sub>     -> prints a token valid for 60 s
"""
import sys
import time

import jwt

mode, secret, arg = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == "decode":
    claims = jwt.decode(arg, secret, algorithms=["HS256"], options={"require": ["exp", "iat"]})
    print(claims["sub"])
else:
    now = int(time.time())
    print(jwt.encode({"sub": arg, "iat": now, "exp": now + 60}, secret, algorithm="HS256"))
