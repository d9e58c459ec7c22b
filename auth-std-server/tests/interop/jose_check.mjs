// EdDSA interop (#27): Node's `jose`, unmodified, verifies our token from the JWKS URL
// (createRemoteJWKSet + jwtVerify) and refuses a tampered copy.
// usage: node jose_check.mjs <jwks_url> <token>   -> prints the subject
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [url, token] = process.argv.slice(2);
const jwks = createRemoteJWKSet(new URL(url));
const { payload, protectedHeader } = await jwtVerify(token, jwks, { algorithms: ['EdDSA'] });
if (protectedHeader.alg !== 'EdDSA') throw new Error(`alg ${protectedHeader.alg}`);
const [h, b, s] = token.split('.');
const bad = `${h}.${b}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
let refused = false;
try {
  await jwtVerify(bad, jwks, { algorithms: ['EdDSA'] });
} catch {
  refused = true;
}
if (!refused) throw new Error('jose accepted a tampered token');
console.log(payload.sub);
