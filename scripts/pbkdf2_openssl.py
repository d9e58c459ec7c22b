"""PBKDF2-HMAC-SHA256 through OpenSSL (Python's hashlib), same inputs as the Rust bench.
Prints: OPENSSL <openssl version> median_ms=<ms> runs=<n> dk=<hex>"""
import hashlib, ssl, statistics, time

PASSWORD, SALT, ROUNDS = b"correct horse battery staple", b"0123456789abcdef", 600_000
times, dk = [], None
for _ in range(11):
    t = time.perf_counter()
    dk = hashlib.pbkdf2_hmac("sha256", PASSWORD, SALT, ROUNDS, 32)
    times.append((time.perf_counter() - t) * 1000)
print(f"OPENSSL {ssl.OPENSSL_VERSION.replace(' ', '_')} median_ms={statistics.median(times[1:]):.2f} runs={len(times) - 1} dk={dk.hex()}")
