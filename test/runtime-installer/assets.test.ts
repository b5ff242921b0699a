import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { abortStaging, commitStaging, newStaging, stageAsset, type AssetSpec } from '../../runtime-installer/assets.js';
import { DEFAULT_HTTP_OPTIONS } from '../../runtime-installer/asset-source.js';
import { HostRoot } from '../../runtime-installer/host-root.js';
import { parseSri, type Sri } from '../../lib/node-install/sri.js';
import { silentLogger } from '../../lib/log.js';
import { serveHttp } from '../helpers/http-server.js';

const http = { ...DEFAULT_HTTP_OPTIONS, attempts: 3, timeoutMs: 2000, backoffMs: 20, progressIntervalMs: 50 };

function sri(data: Buffer, alg: 'sha256' | 'sha384' | 'sha512' = 'sha256'): Sri {
  const s = parseSri(`${alg}-${createHash(alg).update(data).digest('base64')}`);
  if (typeof s === 'string') throw new Error(s);
  return s;
}

function tmp(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), `ri-assets-${process.pid}-`));
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Stages and commits inside the HostRoot of `root` (default: the directory of the first spec's test dir). */
async function install(specs: AssetSpec[], log = silentLogger(), root = rootOf(specs)) {
  const host = HostRoot.open(root);
  try {
    const staging = newStaging();
    try {
      for (const s of specs) await stageAsset(s, staging, { log, http, host });
    } catch (err) {
      await abortStaging(staging, host);
      throw err;
    }
    return await commitStaging(staging, host);
  } finally {
    host.close();
  }
}

/** The test's temporary directory: every destination lives below it. */
function rootOf(specs: AssetSpec[]): string {
  const m = /^(.*\/ri-assets-[^/]+)\//.exec(specs[0]?.dest ?? '');
  if (m === null) throw new Error('destinations must lie in a tmp() directory');
  return m[1] as string;
}

function serve(
  t: ExecutionContext,
  handler: (path: string, res: ServerResponse, hit: number) => void,
): Promise<string> {
  const hits = new Map<string, number>();
  return serveHttp(t, (req, res) => {
    const n = (hits.get(req.url ?? '') ?? 0) + 1;
    hits.set(req.url ?? '', n);
    handler(req.url ?? '', res, n);
  });
}

const tempsIn = (dir: string) => readdirSync(dir).filter((n) => n.includes('.contrast-tmp-'));

test('file://: copies, then skips identical content, then replaces changed content', async (t) => {
  const dir = tmp(t);
  const src = join(dir, 'src.bin');
  writeFileSync(src, randomBytes(100_000));
  const dest = join(dir, 'host/opt/edgeless/h/share/img');
  const spec = { url: new URL(`file://${src}`), dest, integrity: undefined, executable: false };
  t.deepEqual(await install([spec]), { changed: 1, unchanged: 0 });
  t.deepEqual(readFileSync(dest), readFileSync(src));
  t.is(statSync(dest).mode & 0o777, 0o644);
  const ino = statSync(dest).ino;
  t.deepEqual(await install([spec]), { changed: 0, unchanged: 1 });
  t.is(statSync(dest).ino, ino, 'untouched');
  writeFileSync(src, randomBytes(100_000));
  t.deepEqual(await install([{ ...spec, integrity: sri(readFileSync(src), 'sha384') }]), { changed: 1, unchanged: 0 });
  t.deepEqual(readFileSync(dest), readFileSync(src));
  t.deepEqual(tempsIn(join(dir, 'host/opt/edgeless/h/share')), []);
});

test('file://: integrity mismatch replaces nothing and removes what staging created', async (t) => {
  const dir = tmp(t);
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  writeFileSync(a, 'aaa');
  writeFileSync(b, 'bbb');
  const err = await t.throwsAsync(
    install([
      { url: new URL(`file://${a}`), dest: join(dir, 'host/new/a'), integrity: undefined, executable: false },
      {
        url: new URL(`file://${b}`),
        dest: join(dir, 'host/new/deeper/b'),
        integrity: sri(Buffer.from('not b'), 'sha512'),
        executable: false,
      },
    ]),
  );
  t.is((err as { code?: string }).code, 'ERR_INTEGRITY');
  t.false(existsSync(join(dir, 'host')), 'directories created by staging are gone');
  // An existing destination keeps its bytes.
  mkdirSync(join(dir, 'host'));
  writeFileSync(join(dir, 'host/b'), 'old');
  await t.throwsAsync(
    install([
      { url: new URL(`file://${b}`), dest: join(dir, 'host/b'), integrity: sri(Buffer.from('x')), executable: false },
    ]),
  );
  t.is(readFileSync(join(dir, 'host/b'), 'utf8'), 'old');
  t.deepEqual(readdirSync(join(dir, 'host')), ['b']);
});

test('file://: missing source is a fetch error', async (t) => {
  const dir = tmp(t);
  const err = await t.throwsAsync(
    install([{ url: new URL(`file://${dir}/absent`), dest: join(dir, 'x'), integrity: undefined, executable: false }]),
  );
  t.is((err as { code?: string }).code, 'ERR_FETCH');
  const err2 = await t.throwsAsync(
    install([
      {
        url: new URL(`file://${dir}/absent`),
        dest: join(dir, 'x'),
        integrity: sri(Buffer.from('x')),
        executable: false,
      },
    ]),
  );
  t.is((err2 as { code?: string }).code, 'ERR_FETCH');
  t.deepEqual(readdirSync(dir), []);
});

test('busy executable is replaced by a new inode; the running process keeps the old one; 0755 every run', async (t) => {
  const dir = tmp(t);
  const dest = join(dir, 'bin/shim');
  mkdirSync(join(dir, 'bin'));
  copyFileSync('/bin/sleep', dest);
  const running = spawn(dest, ['30'], { stdio: 'ignore' });
  t.teardown(() => running.kill('SIGKILL'));
  await new Promise((r) => running.once('spawn', r));
  const src = join(dir, 'new-shim');
  writeFileSync(src, '#!/bin/sh\necho new\n');
  t.is(
    t.throws<NodeJS.ErrnoException>(() => {
      writeFileSync(dest, 'x');
    }).code,
    'ETXTBSY',
  );
  await install([{ url: new URL(`file://${src}`), dest, integrity: undefined, executable: true }]);
  t.is(readFileSync(dest, 'utf8'), '#!/bin/sh\necho new\n');
  t.is(statSync(dest).mode & 0o777, 0o755);
  t.is(running.exitCode, null, 'the running binary was not disturbed');
  const { chmodSync } = await import('node:fs');
  chmodSync(dest, 0o600);
  t.deepEqual(await install([{ url: new URL(`file://${src}`), dest, integrity: undefined, executable: true }]), {
    changed: 0,
    unchanged: 1,
  });
  t.is(statSync(dest).mode & 0o777, 0o755);
});

test('http: download with SRI, skip when the destination already matches', async (t) => {
  const body = randomBytes(300_000);
  const base = await serve(t, (_p, res) => {
    res.end(body);
  });
  const dir = tmp(t);
  const spec = {
    url: new URL(`${base}/img`),
    dest: join(dir, 'img'),
    integrity: sri(body, 'sha512'),
    executable: false,
  };
  t.deepEqual(await install([spec]), { changed: 1, unchanged: 0 });
  t.deepEqual(readFileSync(join(dir, 'img')), body);
  t.deepEqual(await install([spec]), { changed: 0, unchanged: 1 });
});

test('http: transient 503 and a dropped connection are retried; 404 is not', async (t) => {
  const body = randomBytes(50_000);
  const base = await serve(t, (p, res, hit) => {
    if (p === '/flaky' && hit === 1) {
      res.statusCode = 503;
      res.end();
      return;
    }
    if (p === '/drop' && hit === 1) {
      res.setHeader('content-length', body.length);
      res.write(body.subarray(0, 1000));
      res.destroy();
      return;
    }
    if (p === '/missing') {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.end(body);
  });
  const dir = tmp(t);
  for (const p of ['flaky', 'drop']) {
    await install([{ url: new URL(`${base}/${p}`), dest: join(dir, p), integrity: sri(body), executable: false }]);
    t.deepEqual(readFileSync(join(dir, p)), body);
  }
  const err = await t.throwsAsync(
    install([{ url: new URL(`${base}/missing`), dest: join(dir, 'missing'), integrity: sri(body), executable: false }]),
  );
  t.is((err as { code?: string }).code, 'ERR_FETCH');
  t.regex(err.message, /attempt 1 of 3.*HTTP status 404/);
  t.false(existsSync(join(dir, 'missing')));
  t.deepEqual(tempsIn(dir), []);
});

test('http: a stalled server times out, an unreachable one fails after retries', async (t) => {
  const base = await serve(t, (_p, res) => {
    res.setHeader('content-length', 10);
    res.flushHeaders(); /* never sends the body */
  });
  const dir = tmp(t);
  const stall = await t.throwsAsync(
    install([
      { url: new URL(`${base}/stall`), dest: join(dir, 's'), integrity: sri(Buffer.from('x')), executable: false },
    ]),
  );
  t.regex(stall.message, /attempt 3 of 3.*no data for 2000 ms/);
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  closed.close();
  const refused = await t.throwsAsync(
    install([
      {
        url: new URL(`http://127.0.0.1:${port}/x`),
        dest: join(dir, 'u'),
        integrity: sri(Buffer.from('x')),
        executable: false,
      },
    ]),
  );
  t.is((refused as { code?: string }).code, 'ERR_FETCH');
  t.regex(refused.message, /ECONNREFUSED/);
  t.deepEqual(readdirSync(dir), []);
});

test('http: integrity mismatch replaces nothing; progress is logged for slow downloads', async (t) => {
  const body = randomBytes(64 * 1024);
  const base = await serve(t, (_p, res) => {
    res.setHeader('content-length', body.length);
    let i = 0;
    const tick = setInterval(() => {
      res.write(body.subarray(i, i + 8192));
      i += 8192;
      if (i >= body.length) {
        clearInterval(tick);
        res.end();
      }
    }, 30);
  });
  const dir = tmp(t);
  writeFileSync(join(dir, 'img'), 'old');
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'info' },
    {
      write: (l: string) => {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      },
    },
  );
  const err = await t.throwsAsync(
    install(
      [
        {
          url: new URL(`${base}/img`),
          dest: join(dir, 'img'),
          integrity: sri(Buffer.from('other')),
          executable: false,
        },
      ],
      log,
    ),
  );
  t.is((err as { code?: string }).code, 'ERR_INTEGRITY');
  t.is(readFileSync(join(dir, 'img'), 'utf8'), 'old');
  t.deepEqual(readdirSync(dir), ['img']);
  const progress = lines.filter((l) => l['msg'] === 'downloading');
  t.true(progress.length >= 1);
  t.is(progress[0]?.['total'], body.length);
  t.is(typeof progress[0]?.['bytes'], 'number');
  t.is(typeof progress[0]?.['mibPerSecond'], 'number');
});
