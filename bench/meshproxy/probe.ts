/**
 * Where the meshproxy's time and memory go, one workload at a time (no peers): starts the app and the
 * two meshproxy sides, runs wrk, and prints CPU per request from /proc and each side's RSS, VmHWM and
 * anonymous memory after every workload.
 *
 *   npm run build:ts && npx tsx bench/meshproxy/probe.ts
 *
 * Environment: PROBE_WORKLOADS (`ka,conn,bulk,upload`), PROBE_SECONDS (4), BENCH_NODE_FLAGS (e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof`, `--perf-basic-prof` for `perf record -p`), BENCH_MESHPROXY_MAIN
 * (another build of main.js, for A/B runs; it must sit inside this checkout to find node_modules),
 * BENCH_DEBUG (pass the peers' stdout and stderr through, e.g. with BENCH_NODE_FLAGS=--trace-gc).
 * Every CONTRAST_* variable of this process goes to both sides (e.g. CONTRAST_MESHPROXY_DATA_PATH=node,
 * CONTRAST_MESHPROXY_SESSION_RESUMPTION=false).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createTestPki, writeTlsDir } from '../../test/meshproxy/pki.js';
import { EGRESS, startApp, startMeshproxy, type Dirs } from './peers.js';
import { cpuTicks } from './proc.js';

const run = promisify(execFile);
const UPLOAD_SCRIPT = fileURLToPath(new URL('upload.lua', import.meta.url));

async function memory(pids: number[]): Promise<string> {
  const parts: string[] = [];
  for (const pid of pids) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    const mib = (re: RegExp, s: string): string => (Number(re.exec(s)?.[1]) / 1024).toFixed(1);
    parts.push(
      `pid ${pid}: rss ${mib(/VmRSS:\s+(\d+)/, status)} hwm ${mib(/VmHWM:\s+(\d+)/, status)} anon ${mib(/Anonymous:\s+(\d+)/, rollup)} MiB`,
    );
  }
  return parts.join('; ');
}

const root = await mkdtemp(join(tmpdir(), 'meshproxy-probe-'));
try {
  const pki = await createTestPki();
  const dirs: Dirs = {
    root,
    pem: join(root, 'pem'),
    clientTls: join(root, 'client-tls'),
    serverTls: join(root, 'server-tls'),
  };
  await mkdir(dirs.pem);
  await writeTlsDir(dirs.clientTls, pki.meshCA, pki.client);
  await writeTlsDir(dirs.serverTls, pki.meshCA, pki.server);
  const app = await startApp(dirs);
  const settings = Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] => e[0].startsWith('CONTRAST_') && e[1] !== undefined,
    ),
  );
  const proxy = await startMeshproxy(dirs, undefined, settings).catch(async (err: unknown) => {
    await app.stop();
    throw err;
  });
  try {
    const url = `http://${EGRESS.host}:${EGRESS.port}`;
    const d = `${process.env['PROBE_SECONDS'] ?? '4'}s`;
    process.stdout.write(`start: ${await memory(proxy.pids)}\n`);
    await run('wrk', ['-t1', '-c4', '-d1s', `${url}/small`]);
    process.stdout.write(`warm: ${await memory(proxy.pids)}\n`);
    const workloads: Record<string, string[]> = {
      ka: ['-t1', '-c16', `-d${d}`, `${url}/small`],
      conn: ['-t1', '-c16', `-d${d}`, '-H', 'Connection: close', `${url}/small`],
      bulk: ['-t1', '-c4', `-d${d}`, `${url}/bulk`],
      upload: ['-t1', '-c4', `-d${d}`, '-s', UPLOAD_SCRIPT, `${url}/upload`],
    };
    for (const name of (process.env['PROBE_WORKLOADS'] ?? 'ka,conn,bulk,upload').split(',')) {
      const args = workloads[name];
      if (args === undefined)
        throw new Error(`PROBE_WORKLOADS: unknown workload ${name} (expected ka, conn, bulk, upload)`);
      const before = await cpuTicks(proxy.pids);
      const { stdout } = await run('wrk', args, { maxBuffer: 1 << 20 });
      const ticks = (await cpuTicks(proxy.pids)) - before;
      const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
      const rate = /Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? '?';
      const transfer = /Transfer\/sec:\s+(\S+)/.exec(stdout)?.[1] ?? '?';
      process.stdout.write(
        `${name}: ${requests} requests, ${rate}/s, ${transfer}/s, proxy CPU ${((ticks * 10_000) / Math.max(1, requests)).toFixed(1)} µs/request; ${await memory(proxy.pids)}\n`,
      );
    }
  } finally {
    await proxy.stop();
    await app.stop();
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
