/**
 * Key exchange of the initializer's aTLS client (OpenSSL session in the addon): the post-quantum hybrid
 * X25519MLKEM768 with our aTLS server (Node 26, OpenSSL 3.5), X25519 with `openssl s_server` from
 * Debian (OpenSSL 3.0, classic groups only), the groups list as configured, and a bad list refused.
 */
import test from 'ava';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atlsConnect } from '../../lib/atls/client.js';
import { InsecureIssuer } from '../../lib/attestation/insecure.js';
import { NativeTlsError, NativeTlsSession } from '../../lib/native/tls.js';
import { DEFAULT_TLS_GROUPS, tlsGroupName } from '../../lib/tls-groups.js';
import { captureLogs, dial, startAtlsServer } from './helpers/harness.js';
import { freePort, opensslSelfSigned, runOpenssl, sServerArgs, subjEscape } from './helpers/openssl-peer.js';

const issuer = new InsecureIssuer(Buffer.alloc(32, 7));

async function handshake(
  port: number,
  groups?: string,
): Promise<{ group: string | null; logged: Record<string, unknown> }> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const logs = captureLogs();
  const stream = await atlsConnect(await dial(port), {
    issuer,
    privateKey,
    timeoutMs: 10_000,
    logger: logs.logger,
    ...(groups === undefined ? {} : { groups }),
  });
  stream.destroy();
  return { group: stream.tlsInfo.group, logged: await logs.waitFor((l) => l['msg'] === 'aTLS handshake done') };
}

test('with the default groups, our aTLS server and client negotiate X25519MLKEM768, and the debug log says so', async (t) => {
  const server = await startAtlsServer(t);
  const r = await handshake(server.port, DEFAULT_TLS_GROUPS);
  t.is(r.group, 'X25519MLKEM768');
  t.is(r.logged['group'], 'X25519MLKEM768');
});

test('the groups option (CONTRAST_TLS_GROUPS in the initializer) narrows the client: X25519 only gives X25519', async (t) => {
  const server = await startAtlsServer(t);
  const r = await handshake(server.port, 'X25519');
  t.is(tlsGroupName(r.group ?? ''), 'X25519');
  t.is(r.logged['group'], 'X25519');
});

test('a classic-only server (Debian openssl s_server, OpenSSL 3.0) still completes, with X25519', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), `atls-groups-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const names = await opensslSelfSigned(dir, 'names', `/CN=${subjEscape(randomBytes(32).toString('base64'))}`);
  const srv = await opensslSelfSigned(dir, 'server', '/CN=server');
  const port = await freePort();
  const server = runOpenssl(sServerArgs(port, srv, '-CAfile', names.cert, '-alpn', 'h2', '-tls1_3'));
  t.teardown(() => server.stop());
  await server.waitFor('ACCEPT');
  const r = await handshake(port, DEFAULT_TLS_GROUPS);
  t.is(r.logged['group'], 'X25519');
  t.is(r.logged['version'], 'TLSv1.3');
});

test('a groups list OpenSSL does not know is ERR_TLS_INVALID_ARG', (t) => {
  const err = t.throws(() => new NativeTlsSession({ groups: 'X25519:NoSuchGroup' }), { instanceOf: NativeTlsError });
  t.is(err.code, 'ERR_TLS_INVALID_ARG');
  t.regex(err.message, /groups/);
});
