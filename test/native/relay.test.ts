/**
 * The native TLS relay (native/src/relay.c) against real TLS peers on loopback: Node's tls (OpenSSL 3.5)
 * and Debian's `openssl s_server` (OpenSSL 3.0, classic groups only). Handshake results, admission data,
 * bytes both ways (bulk, checked by digest), half-close in each direction, resumption, resets, the idle
 * timeout and typed errors for bad material.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  connect as tlsConnect,
  createServer as createTlsServer,
  type ConnectionOptions,
  type TLSSocket,
} from 'node:tls';
import {
  RelayConnection,
  RelayContext,
  RelayError,
  type RelayClose,
  type RelayHandshake,
} from '../../lib/native/relay.js';
import { DEFAULT_TLS_GROUPS } from '../../lib/tls-groups.js';
import { createTestPki, type Issued, type TestPki } from '../meshproxy/pki.js';

let pki: TestPki;
test.before(async () => {
  pki = await createTestPki();
});

const material = (leaf: Issued, groups = DEFAULT_TLS_GROUPS) => ({
  cert: Buffer.from(leaf.certPem + pki.meshCA.certPem),
  key: Buffer.from(leaf.keyPem),
  ca: Buffer.from(pki.meshCA.certPem),
  groups,
});

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve(typeof a === 'object' && a !== null ? a.port : 0);
    });
  });
}

interface Relayed {
  readonly handshake: Promise<RelayHandshake>;
  readonly error: Promise<{ code: string; message: string }>;
  readonly closed: Promise<RelayClose>;
  readonly relay: Promise<RelayConnection>;
}

/** A listener whose accepted sockets go to a server-side relay. */
async function relayServer(t: { teardown(fn: () => void): void }, context: RelayContext) {
  const accepted: Relayed[] = [];
  const server = createServer({ pauseOnConnect: true }, (raw) => {
    let onHandshake!: (h: RelayHandshake) => void;
    let onError!: (e: { code: string; message: string }) => void;
    let onClose!: (c: RelayClose) => void;
    const handshake = new Promise<RelayHandshake>((r) => (onHandshake = r));
    const error = new Promise<{ code: string; message: string }>((r) => (onError = r));
    const closed = new Promise<RelayClose>((r) => (onClose = r));
    const relay = new RelayConnection(context, raw, { handshake: onHandshake, error: onError, close: onClose });
    accepted.push({ handshake, error, closed, relay: Promise.resolve(relay) });
  });
  const port = await listen(server);
  t.teardown(() => server.close());
  const next = async (): Promise<Relayed> => {
    while (accepted.length === 0) await new Promise((r) => setTimeout(r, 5));
    return accepted.shift() as Relayed;
  };
  return { port, next };
}

/** A plain app: records what it gets and, after the peer's FIN, answers with `reply` and its own FIN. */
async function app(t: { teardown(fn: () => void): void }, reply: Buffer) {
  let received: Promise<Buffer> | undefined;
  const server = createServer({ allowHalfOpen: true }, (s) => {
    received = new Promise((resolve) => {
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => {
        s.end(reply);
        resolve(Buffer.concat(chunks));
      });
    });
  });
  const port = await listen(server);
  t.teardown(() => server.close());
  return {
    port,
    received: async (): Promise<Buffer> => {
      while (received === undefined) await new Promise((r) => setTimeout(r, 5));
      return received;
    },
  };
}

function plainTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port, allowHalfOpen: true });
    s.once('connect', () => {
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Reads everything until the peer's end; rejects on error. */
function readAll(s: Socket | TLSSocket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('end', () => {
      resolve(Buffer.concat(chunks));
    });
    s.once('error', reject);
  });
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('server relay: a mesh client is verified, negotiates the hybrid group, and bulk bytes pass both ways with half-close', async (t) => {
  const srv = await relayServer(t, new RelayContext('server', material(pki.server)));
  const upload = randomBytes(3 * 1024 * 1024 + 17);
  const download = randomBytes(5 * 1024 * 1024 + 3);
  const a = await app(t, download);
  const client = tlsConnect({
    port: srv.port,
    host: '127.0.0.1',
    cert: pki.client.certPem + pki.meshCA.certPem,
    key: pki.client.keyPem,
    ca: pki.meshCA.certPem,
    checkServerIdentity: () => undefined,
    allowHalfOpen: true,
  } as ConnectionOptions);
  const got = readAll(client);
  const secure = new Promise((resolve) => client.once('secureConnect', resolve));
  const r = await srv.next();
  const hs = await r.handshake;
  t.like(hs, { protocol: 'TLSv1.3', group: 'X25519MLKEM768', resumed: false, verifyError: 0, verifyCode: null });
  t.true(hs.peerCertificate);
  (await r.relay).attach(await plainTo(a.port), 60_000);
  await secure;
  t.true(client.authorized);
  client.end(upload); // the client's FIN reaches the app as a FIN: it answers only then
  t.is(sha(await a.received()), sha(upload));
  t.is(sha(await got), sha(download));
  const closed = await r.closed;
  t.like(closed, { reason: 'done', code: null, fromTls: upload.length, toTls: download.length });
});

test('server relay: a foreign CA, an expired certificate and no certificate are reported, not refused', async (t) => {
  const srv = await relayServer(t, new RelayContext('server', material(pki.server)));
  const cases: [Issued | undefined, string | null, boolean][] = [
    [pki.foreign, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', true],
    [pki.expired, 'CERT_HAS_EXPIRED', true],
    [undefined, null, false],
  ];
  for (const [leaf, code, presented] of cases) {
    const client = tlsConnect({
      port: srv.port,
      host: '127.0.0.1',
      ...(leaf === undefined ? {} : { cert: leaf.certPem, key: leaf.keyPem }),
      ca: pki.meshCA.certPem,
      checkServerIdentity: () => undefined,
    });
    client.on('error', () => undefined);
    const r = await srv.next();
    const hs = await r.handshake;
    t.is(hs.verifyCode, code, String(leaf === undefined ? 'none' : code));
    t.is(hs.peerCertificate, presented);
    (await r.relay).destroy(true);
    t.is((await r.closed).reason, 'destroyed');
    client.destroy();
  }
});

test('server relay: plaintext and a peer that leaves mid-handshake are typed errors, then close', async (t) => {
  const srv = await relayServer(t, new RelayContext('server', material(pki.server)));
  const http = await plainTo(srv.port);
  http.on('error', () => undefined);
  http.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  let r = await srv.next();
  t.is((await r.error).code, 'ERR_SSL_HTTP_REQUEST');
  t.like(await r.closed, { reason: 'error', code: 'ERR_SSL_HTTP_REQUEST' });
  // The reset reaches the client.
  await new Promise<void>((resolve) => {
    http.once('close', () => {
      resolve();
    });
  });

  const leaver = await plainTo(srv.port);
  leaver.on('error', () => undefined);
  leaver.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40, 0x01])); // a ClientHello's first bytes
  r = await srv.next();
  leaver.end();
  t.is((await r.error).code, 'ECONNRESET');
  t.is((await r.closed).reason, 'error');
});

test('client relay: against OpenSSL 3.0 s_server (classic groups) it falls back to X25519, and resumes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'relay-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'cert.pem'), pki.server.certPem + pki.meshCA.certPem);
  await writeFile(join(dir, 'key.pem'), pki.server.keyPem);
  await writeFile(join(dir, 'ca.pem'), pki.meshCA.certPem);
  const port = 20000 + Math.floor(Math.random() * 10000);
  const server = spawn(
    '/usr/bin/openssl',
    [
      's_server',
      '-accept',
      `127.0.0.1:${port}`,
      '-cert',
      join(dir, 'cert.pem'),
      '-key',
      join(dir, 'key.pem'),
      '-CAfile',
      join(dir, 'ca.pem'),
      '-Verify',
      '2',
      '-groups',
      'X25519:P-256',
      '-rev',
      '-naccept',
      '2',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.teardown(() => server.kill());
  let out = '';
  server.stdout.on('data', (c: Buffer) => (out += c.toString()));
  while (!out.includes('ACCEPT')) await new Promise((r) => setTimeout(r, 20));

  const context = new RelayContext('client', material(pki.client), { resume: true });
  for (const round of [1, 2]) {
    const tlsSide = await plainTo(port);
    let onHandshake!: (h: RelayHandshake) => void;
    let onClose!: (c: RelayClose) => void;
    const handshake = new Promise<RelayHandshake>((r) => (onHandshake = r));
    const closed = new Promise<RelayClose>((r) => (onClose = r));
    const relay = new RelayConnection(context, tlsSide, {
      handshake: onHandshake,
      error: () => undefined,
      close: onClose,
    });
    const hs = await handshake;
    t.like(hs, { protocol: 'TLSv1.3', group: 'x25519', verifyError: 0, resumed: round === 2 });
    // The app side: a socket pair through a loopback listener.
    const appSide = createServer({ pauseOnConnect: true });
    const appPort = await listen(appSide);
    const accepted = new Promise<Socket>((r) => appSide.once('connection', r));
    const appClient = await plainTo(appPort);
    relay.attach(await accepted, 60_000);
    appSide.close();
    // s_server -rev answers each line reversed.
    const line = new Promise<string>((resolve) => {
      let acc = '';
      appClient.on('data', (c: Buffer) => {
        acc += c.toString();
        if (acc.includes('\n')) resolve(acc.trim());
      });
    });
    appClient.write(`round${round}\n`);
    t.is(await line, `${round}dnuor`);
    appClient.destroy();
    t.like(await closed, { fromTls: `round${round}\n`.length, toTls: `round${round}\n`.length });
  }
});

test('client relay: a server outside the mesh CA is reported with its verification code', async (t) => {
  const server = createTlsServer({ cert: pki.foreign.certPem, key: pki.foreign.keyPem });
  server.on('secureConnection', (s) => s.end());
  server.on('tlsClientError', () => undefined);
  const port = await listen(server);
  t.teardown(() => server.close());
  const context = new RelayContext('client', material(pki.client));
  const hs = await new Promise<RelayHandshake>((resolve, reject) => {
    void plainTo(port).then((s) => {
      const relay = new RelayConnection(context, s, {
        handshake: (h) => {
          relay.destroy();
          resolve(h);
        },
        error: (e) => {
          reject(new Error(e.code));
        },
        close: () => undefined,
      });
    });
  });
  t.like(hs, { verifyCode: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', peerCertificate: true });
  t.not(hs.verifyError, 0);
});

test('relay: the idle timeout closes a quiet connection; destroy(reset) resets the TLS peer', async (t) => {
  const srv = await relayServer(t, new RelayContext('server', material(pki.server)));
  const a = await app(t, Buffer.alloc(0));
  const connectClient = (): TLSSocket => {
    const c = tlsConnect({
      port: srv.port,
      host: '127.0.0.1',
      cert: pki.client.certPem,
      key: pki.client.keyPem,
      ca: pki.meshCA.certPem,
      checkServerIdentity: () => undefined,
    });
    c.on('error', () => undefined);
    return c;
  };
  connectClient();
  let r = await srv.next();
  await r.handshake;
  (await r.relay).attach(await plainTo(a.port), 150);
  t.is((await r.closed).reason, 'idle');

  const c2 = connectClient();
  const err = new Promise<string>((resolve) =>
    c2.once('error', (e: Error & { code?: string }) => {
      resolve(String(e.code));
    }),
  );
  r = await srv.next();
  await r.handshake;
  (await r.relay).destroy(true);
  t.is(await err, 'ECONNRESET');
});

test('relay context: bad material is a typed error naming the part', (t) => {
  const good = material(pki.server);
  t.throws(() => new RelayContext('server', { ...good, cert: Buffer.from('not a certificate') }), {
    instanceOf: RelayError,
    message: /cert: expected a PEM certificate chain/,
  });
  t.throws(() => new RelayContext('server', { ...good, key: Buffer.from(pki.client.keyPem) }), {
    instanceOf: RelayError,
    message: /key: expected the PEM private key/,
  });
  t.throws(() => new RelayContext('server', { ...good, ca: Buffer.from('') }), {
    instanceOf: RelayError,
    message: /ca: expected at least one PEM certificate/,
  });
  t.throws(() => new RelayContext('client', { ...good, groups: 'NoSuchGroup' }), {
    instanceOf: RelayError,
    message: /groups/,
  });
});
