"""The FastAPI app's side of the move (#24): hashes made exactly as the seed makes them
(passlib 1.7.4's CryptContext(schemes=["bcrypt"]) over bcrypt 4.0.1), and a token minted as
the seed mints it (PyJWT, HS256, `uid`, `iat`, `exp`, the seed's secret).

usage: fastapi_seed.py hash <ident 2a|2b|2y> <rounds> <password as hex>   -> prints the hash
       fastapi_seed.py verify <password as hex> <hash>                     -> prints True/False
       fastapi_seed.py token <secret> <uid>                                -> prints a token
"""
import sys
import time

from passlib.context import CryptContext

mode = sys.argv[1]
if mode == "hash":
    ident, rounds, password = sys.argv[2], int(sys.argv[3]), bytes.fromhex(sys.argv[4])
    # The seed's context, with the ident and rounds the test asks for.
    ctx = CryptContext(schemes=["bcrypt"], deprecated="auto",
                       bcrypt__ident=ident, bcrypt__rounds=rounds)
    print(ctx.hash(password.decode("utf-8")))
elif mode == "verify":
    ctx = CryptContext(schemes=["bcrypt"], deprecated="auto")
    print(ctx.verify(bytes.fromhex(sys.argv[2]).decode("utf-8"), sys.argv[3]))
else:
    import jwt

    secret, uid = sys.argv[2], sys.argv[3]
    now = int(time.time())
    print(jwt.encode({"uid": uid, "iat": now, "exp": now + 45 * 60}, secret, algorithm="HS256"))
