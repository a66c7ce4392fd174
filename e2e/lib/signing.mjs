// Signed HTTP between the edge and the origin, exactly as core/src/signing.rs does it: one
// keyring per direction (`outbox`: Journey objects → origin, `rollups`: origin → query Worker),
// header `k=<key id>,t=<unix s>,v2=<hex HMAC-SHA256(key, "<direction>\n<t>\n<METHOD>\n<path>\n<body>")>`.
// Without explicit keys each direction's key is derived from the shared EDGE_ORIGIN_SECRET.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The key derived for `direction` from the shared secret (id `shared`). */
export const derivedKey = (secret, direction) => createHmac('sha256', secret).update(`attrib-signing-v2/${direction}`).digest();

function mac(key, direction, t, method, path, body) {
  return createHmac('sha256', key).update(`${direction}\n${t}\n${method}\n${path}\n`).update(body).digest();
}

/** The signature header for `body` at `path`, signed with the key derived from `secret`. */
export function signHeader(secret, direction, path, body, { t = Math.floor(Date.now() / 1000), method = 'POST', keyId = 'shared', key } = {}) {
  const k = key ?? derivedKey(secret, direction);
  return `k=${keyId},t=${t},v2=${mac(k, direction, t, method, path, body).toString('hex')}`;
}

/** Checks a header against the key derived from `secret` (key id `shared`). */
export function verifyHeader(secret, direction, path, header, body, method = 'POST') {
  const parts = Object.fromEntries((header ?? '').split(',').map((p) => p.split('=')));
  if (parts.k !== 'shared' || !parts.t || !parts.v2) return false;
  const expected = mac(derivedKey(secret, direction), direction, parts.t, method, path, body);
  const given = Buffer.from(parts.v2, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
