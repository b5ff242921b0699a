/**
 * Downloads: a per-artifact total deadline (explicit or derived from the minimum rate) against a
 * loopback server that serves at a trickle; progress lines with bytes, rate and ETA; HTTP_PROXY /
 * HTTPS_PROXY / NO_PROXY through a real CONNECT proxy on loopback, end to end through the installer.
 */
import test, { type ExecutionContext } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Logger } from '../../lib/log.js';
import {
  DEFAULT_HTTP_OPTIONS,
  readHttpSource,
  type ByteSink,
  type HttpOptions,
} from '../../runtime-installer/asset-source.js';
import { parseInstallerConfig, parseRate } from '../../runtime-installer/config.js';
import { serveHttp } from '../helpers/http-server.js';
import { createFakeNode, runInstaller, shippedManifest } from './helpers/host.js';

function serve(t: ExecutionContext, handler: (res: ServerResponse, hit: number) => void): Promise<string> {
  let hits = 0;
  return serveHttp(t, (_req, res) => {
    handler(res, ++hits);
  });
}

/** Sends one byte every `everyMs` until the connection goes (bounded by the test's own deadline). */
function trickle(res: ServerResponse, length: number | undefined, everyMs: number): void {
  if (length !== undefined) res.setHeader('content-length', length);
  res.flushHeaders();
  const timer = setInterval(() => {
    res.write('x');
  }, everyMs);
  res.on('close', () => {
    clearInterval(timer);
  });
}

function collector(): ByteSink & { bytes: number } {
  const sink = {
    bytes: 0,
    reset: () => {
      sink.bytes = 0;
      return Promise.resolve();
    },
    write: (c: Buffer) => {
      sink.bytes += c.length;
      return Promise.resolve();
    },
  };
  return sink;
}

function capture(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    log: pino(
      { level: 'info' },
      {
        write: (l: string) => {
          lines.push(JSON.parse(l) as Record<string, unknown>);
        },
      },
    ),
  };
}

const base: HttpOptions = {
  ...DEFAULT_HTTP_OPTIONS,
  attempts: 3,
  backoffMs: 20,
  timeoutMs: 30_000,
  progressIntervalMs: 100,
};

test('a trickling server (1 byte / 50 ms) fails at the derived deadline: grace + Content-Length at the minimum rate', async (t) => {
  const url = await serve(t, (res) => {
    trickle(res, 1024 * 1024, 50);
  });
  const { log, lines } = capture();
  // 2 s grace + 1 MiB at 1 MiB/s: about 3 s for the whole artifact, all attempts together.
  const err = await t.throwsAsync(
    readHttpSource(new URL(`${url}/img`), collector(), { ...base, graceMs: 2000, minBytesPerSecond: 1024 * 1024 }, log),
  );
  t.is((err as { code?: string }).code, 'ERR_FETCH');
  t.regex(
    err.message,
    /attempt 1 of 3.*deadline for this artifact passed.*2000 ms \+ Content-Length at 1048576 bytes\/s/,
  );
  const progress = lines.filter((l) => l['msg'] === 'downloading');
  t.true(progress.length >= 1, 'progress lines while it trickles');
  const last = progress.at(-1) ?? {};
  t.is(last['total'], 1024 * 1024);
  t.true(typeof last['bytes'] === 'number' && last['bytes'] > 0);
  t.is(typeof last['mibPerSecond'], 'number');
  t.is(typeof last['etaSeconds'], 'number');
});

test('an explicit deadline bounds all attempts of one artifact: retries stop when it has passed', async (t) => {
  const url = await serve(t, (res, hit) => {
    if (hit === 1) {
      res.statusCode = 503;
      res.end();
      return;
    }
    trickle(res, 100_000, 50);
  });
  const err = await t.throwsAsync(
    readHttpSource(new URL(`${url}/img`), collector(), { ...base, attempts: 10, deadlineMs: 3000 }, capture().log),
  );
  t.regex(
    err.message,
    /attempt [2-9] of 10.*deadline for this artifact passed \(CONTRAST_INSTALLER_FETCH_DEADLINE=3000 ms\)/,
  );
});

test('without Content-Length the average rate after the grace time must stay above the minimum', async (t) => {
  const url = await serve(t, (res) => {
    trickle(res, undefined, 20);
  });
  const err = await t.throwsAsync(
    readHttpSource(
      new URL(`${url}/img`),
      collector(),
      { ...base, attempts: 2, graceMs: 300, minBytesPerSecond: 10_000 },
      capture().log,
    ),
  );
  t.regex(err.message, /attempt 2 of 2.*average rate \d+ bytes\/s after \d+ s: expected at least 10000 bytes\/s/);
});

test('a fast download finishes well inside its derived deadline', async (t) => {
  const body = randomBytes(200_000);
  const url = await serve(t, (res) => {
    res.end(body);
  });
  const sink = collector();
  await readHttpSource(new URL(`${url}/img`), sink, { ...base, graceMs: 1000, minBytesPerSecond: 1024 }, capture().log);
  t.is(sink.bytes, body.length);
});

test('configuration: rates, deadline and proxy variables are parsed at the edge', (t) => {
  t.is(parseRate('1MiB'), 1048576);
  t.is(parseRate('512KiB/s'), 524288);
  t.is(parseRate('65536'), 65536);
  t.is(parseRate('fast'), undefined);
  t.is(parseRate('0'), undefined);
  const cfg = parseInstallerConfig('Metal-QEMU-SNP', {
    CONTRAST_INSTALLER_FETCH_MIN_RATE: '256KiB',
    CONTRAST_INSTALLER_FETCH_DEADLINE: '10m',
    https_proxy: 'http://lower.example:3128',
    HTTPS_PROXY: 'http://upper.example:3128',
    HTTP_PROXY: 'http://plain.example:8080',
    NO_PROXY: 'localhost,.svc',
  });
  t.is(cfg.http.minBytesPerSecond, 262144);
  t.is(cfg.http.deadlineMs, 600_000);
  t.deepEqual(cfg.http.proxy, {
    httpsProxy: 'http://lower.example:3128',
    httpProxy: 'http://plain.example:8080',
    noProxy: 'localhost,.svc',
  });
  const d = parseInstallerConfig('Metal-QEMU-SNP', {});
  t.is(d.http.deadlineMs, 0);
  t.is(d.http.minBytesPerSecond, 1024 * 1024);
  const err = t.throws(() =>
    parseInstallerConfig('Metal-QEMU-SNP', { HTTP_PROXY: 'ftp://x', CONTRAST_INSTALLER_FETCH_MIN_RATE: 'fast' }),
  );
  t.is((err as { code?: string }).code, 'ERR_CONFIG');
  t.regex(err.message, /HTTP_PROXY=ftp:\/\/x: expected a proxy URL/);
  t.regex(err.message, /CONTRAST_INSTALLER_FETCH_MIN_RATE=fast: expected a rate/);
});

/** A minimal forward proxy: CONNECT tunnels and absolute-URI requests, recording what went through. */
async function proxy(t: ExecutionContext): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method ?? ''} ${req.url ?? ''}`);
    const target = new URL(req.url ?? '');
    const up = connect(Number(target.port), target.hostname, () => {
      up.write(
        `${req.method ?? 'GET'} ${target.pathname}${target.search} HTTP/1.1\r\nhost: ${target.host}\r\nconnection: close\r\n\r\n`,
      );
    });
    up.on('error', () => {
      res.destroy();
    });
    res.socket?.pipe(up);
    up.pipe(res.socket as Socket);
  });
  const sockets = new Set<Socket>();
  server.on('connect', (req, client: Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url ?? ''}`);
    const [host, port] = (req.url ?? '').split(':');
    const up = connect(Number(port), host ?? '', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    sockets.add(up).add(client);
    up.on('error', () => {
      client.destroy();
    });
    client.on('error', () => {
      up.destroy();
    });
  });
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.closeAllConnections();
    server.close();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

for (const c of [
  { name: 'HTTP_PROXY', env: (p: string) => ({ HTTP_PROXY: p }), through: true },
  { name: 'http_proxy (lowercase)', env: (p: string) => ({ http_proxy: p }), through: true },
  {
    name: 'NO_PROXY bypasses the proxy',
    env: (p: string) => ({ HTTP_PROXY: p, NO_PROXY: '127.0.0.1' }),
    through: false,
  },
  {
    name: 'no_proxy (lowercase) bypasses the proxy',
    env: (p: string) => ({ HTTPS_PROXY: p, HTTP_PROXY: p, no_proxy: 'localhost,127.0.0.1' }),
    through: false,
  },
]) {
  test(`installer downloads: ${c.name}`, async (t) => {
    const n = createFakeNode();
    t.teardown(() => {
      n.cleanup();
    });
    mkdirSync(n.targetConfigDir);
    writeFileSync(join(n.targetConfigDir, 'restart-systemd-unit'), 'false');
    const blob = randomBytes(50_000);
    const origin = await serve(t, (res) => {
      res.end(blob);
    });
    const p = await proxy(t);
    const manifest = shippedManifest(n, { handler: 'contrast-cc-metal-qemu-snp-proxy001' }) as { files: unknown[] };
    manifest.files.push({
      url: `${origin}/kata-initrd.zst`,
      path: '/opt/edgeless/@@runtimeName@@/share/kata-initrd.zst',
      integrity: `sha256-${createHash('sha256').update(blob).digest('base64')}`,
    });
    n.writeManifest(manifest);
    const r = await runInstaller(['Metal-QEMU-SNP'], n.env(c.env(p.url)));
    t.is(r.code, 0, r.stderr);
    t.deepEqual(
      readFileSync(join(n.host, 'opt/edgeless/contrast-cc-metal-qemu-snp-proxy001/share/kata-initrd.zst')),
      blob,
    );
    const host = new URL(origin).host;
    if (c.through)
      t.true(
        p.seen.some((s) => s.includes(host)),
        `proxy saw: ${p.seen.join(', ')}`,
      );
    else t.deepEqual(p.seen, []);
  });
}
