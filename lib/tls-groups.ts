/**
 * TLS key-exchange groups of the mesh (meshproxy ingress and egress, the initializer's aTLS client):
 * one OpenSSL groups list, `CONTRAST_TLS_GROUPS`, validated at start, and the negotiated group of a
 * connection under one name whichever side asks.
 *
 * The default offers the post-quantum hybrid X25519MLKEM768 first and sends key shares for it and for
 * X25519 (`*`), so that a peer with only classic groups (OpenSSL 3.0, Go before 1.24) completes with
 * X25519 without a HelloRetryRequest round trip, and mesh-to-mesh connections negotiate the hybrid.
 */
import { createSecureContext, type TLSSocket } from 'node:tls';
import type { EnvReader } from './config.js';

export const TLS_GROUPS_ENV = 'CONTRAST_TLS_GROUPS';
export const DEFAULT_TLS_GROUPS = '*X25519MLKEM768:*X25519:P-256:P-384';

/**
 * The groups list from the environment (default DEFAULT_TLS_GROUPS). OpenSSL's own parser (through
 * a throw-away SecureContext) decides what is valid: a name it does not know is a problem naming the
 * variable. Syntax: names separated by `:`, `*` before a name to send a key share for it, `?` to skip
 * a name this OpenSSL does not know, `/` between preference tuples.
 */
export function readTlsGroups(r: EnvReader): string {
  const found = r.lookup(TLS_GROUPS_ENV);
  if (found === undefined) return DEFAULT_TLS_GROUPS;
  const value = found.value.trim();
  const problem = checkTlsGroups(value);
  if (problem !== undefined) {
    r.problem(`${found.name}=${found.value}: ${problem}`);
    return DEFAULT_TLS_GROUPS;
  }
  return value;
}

/** Undefined when OpenSSL accepts `list`, else what was expected. */
export function checkTlsGroups(list: string): string | undefined {
  const expected = `expected TLS groups known to OpenSSL ${process.versions.openssl} separated by ':' (e.g. ${DEFAULT_TLS_GROUPS})`;
  if (!/^[A-Za-z0-9_*?:/ -]+$/.test(list) || list.split(/[:/]/).some((g) => g.replace(/^[*?]+/, '').trim() === ''))
    return expected;
  try {
    createSecureContext({ ecdhCurve: list });
    return undefined;
  } catch {
    return expected;
  }
}

/** TLS NamedGroup code points (IANA) -> the names used in logs and counters. */
const GROUP_NAMES: ReadonlyMap<number, string> = new Map([
  [0x0017, 'secp256r1'],
  [0x0018, 'secp384r1'],
  [0x0019, 'secp521r1'],
  [0x001d, 'X25519'],
  [0x001e, 'X448'],
  [0x0100, 'ffdhe2048'],
  [0x0101, 'ffdhe3072'],
  [0x0102, 'ffdhe4096'],
  [0x0103, 'ffdhe6144'],
  [0x0104, 'ffdhe8192'],
  [0x11eb, 'SecP256r1MLKEM768'],
  [0x11ec, 'X25519MLKEM768'],
  [0x11ed, 'SecP384r1MLKEM1024'],
  [0x0200, 'MLKEM512'],
  [0x0201, 'MLKEM768'],
  [0x0202, 'MLKEM1024'],
]);

/** OpenSSL's curve names (getEphemeralKeyInfo) for the same groups. */
const ALIASES: ReadonlyMap<string, string> = new Map([
  ['prime256v1', 'secp256r1'],
  ['P-256', 'secp256r1'],
  ['P-384', 'secp384r1'],
  ['P-521', 'secp521r1'],
  ['x25519', 'X25519'],
  ['x448', 'X448'],
]);

/** One name per group, whichever OpenSSL API named it. */
export function tlsGroupName(openssl: string): string {
  return ALIASES.get(openssl) ?? openssl;
}

export function groupName(codePoint: number): string {
  return GROUP_NAMES.get(codePoint) ?? `0x${codePoint.toString(16).padStart(4, '0')}`;
}

/**
 * The group a finished handshake used, or undefined when the socket cannot tell (TLS 1.2 without
 * (EC)DHE, or before the handshake). A client socket reports it directly; a server socket has no API
 * for it, so it is read from the session (OpenSSL's SSL_SESSION encoding keeps it as `[19] kex_group`).
 */
export function negotiatedGroup(socket: TLSSocket): string | undefined {
  const info = socket.getEphemeralKeyInfo();
  if (info !== null && typeof info === 'object' && 'name' in info && typeof info.name === 'string')
    return tlsGroupName(info.name);
  const session = socket.getSession();
  if (session === undefined) return undefined;
  const id = sessionKexGroup(session);
  return id === undefined ? undefined : groupName(id);
}

/** `[19] kex_group` of a DER SSL_SESSION (a SEQUENCE of context-tagged fields), or undefined. */
export function sessionKexGroup(der: Buffer): number | undefined {
  const outer = header(der, 0);
  if (outer === undefined || der[0] !== 0x30) return undefined;
  let at = outer.body;
  const end = Math.min(der.length, outer.body + outer.length);
  while (at < end) {
    const field = header(der, at);
    if (field === undefined) return undefined;
    if (der[at] === 0xb3) {
      // [19] constructed, holding an INTEGER
      const int = header(der, field.body);
      if (int === undefined || der[field.body] !== 0x02 || int.length < 1 || int.length > 4) return undefined;
      return der.subarray(int.body, int.body + int.length).reduce((n, b) => n * 256 + b, 0);
    }
    at = field.body + field.length;
  }
  return undefined;
}

function header(der: Buffer, at: number): { body: number; length: number } | undefined {
  const tag = der[at];
  const first = der[at + 1];
  if (tag === undefined || first === undefined || (tag & 0x1f) === 0x1f) return undefined; // high tag numbers do not occur here
  if (first < 0x80) return { body: at + 2, length: first };
  const n = first & 0x7f;
  if (n < 1 || n > 3 || at + 2 + n > der.length) return undefined;
  let length = 0;
  for (const b of der.subarray(at + 2, at + 2 + n)) length = length * 256 + b;
  return { body: at + 2 + n, length };
}
