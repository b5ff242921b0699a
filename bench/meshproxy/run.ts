/**
 * Mesh-hop benchmark: meshproxy against haproxy and nginx (stream) doing the same hop on this machine
 * (client -> egress proxy -> mutual TLS -> ingress proxy -> app), one process per side for every peer.
 *
 *   npm run build:ts && npx tsx bench/meshproxy/run.ts [--rounds 3] [--seconds 5]
 *     [--variant '<label>=<node flags and NAME=value settings>']... [--no-resumption]
 *
 * A variant is the meshproxy once more with other Node/V8 flags or environment (e.g.
 * `semi-space 1 MiB=--max-semi-space-size=1`, `X25519 only=CONTRAST_TLS_GROUPS=X25519`), as one more
 * peer in the same interleaved rounds, so that a trade-off is measured like for like. --no-resumption
 * turns TLS session resumption off for every peer: every new connection is then a full handshake
 * (certificates, signatures, verification) on the hop.
 *
 * Needs: wrk, haproxy, nginx + libnginx-mod-stream (Debian). The app is nginx serving HTTP (1 KiB body
 * for small requests, 4 MiB for bulk), shared by all peers. Peers run in turn, in a rotated order per
 * round, each in fresh processes; the table shows medians and the per-round ratio spread.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTestPki, writeTlsDir } from '../../test/meshproxy/pki.js';
import {
  EGRESS,
  UPLOAD_BYTES,
  startApp,
  startHaproxy,
  startMeshproxy,
  startNginx,
  type Dirs,
  type Running,
} from './peers.js';
import { cpuTicks } from './proc.js';
import { fileURLToPath } from 'node:url';
import { loadAverage, stealPercent } from './load.js';

const UPLOAD_SCRIPT = fileURLToPath(new URL('upload.lua', import.meta.url));

const run = promisify(execFile);

interface Sample {
  kaRps: number;
  kaP99Ms: number;
  kaCpuUsPerReq: number;
  connPerS: number;
  connP99Ms: number;
  connCpuUsPerConn: number;
  bulkMBps: number;
  uploadMBps: number;
  peakRssEgressMiB: number;
  peakRssIngressMiB: number;
  anonEgressMiB: number;
  anonIngressMiB: number;
}

const METRICS: { key: keyof Sample; label: string; better: 'higher' | 'lower' }[] = [
  { key: 'kaRps', label: 'small requests/s (1 KiB, keep-alive)', better: 'higher' },
  { key: 'kaP99Ms', label: 'small p99 latency (ms)', better: 'lower' },
  { key: 'kaCpuUsPerReq', label: 'proxy CPU per small request (µs)', better: 'lower' },
  { key: 'connPerS', label: 'new mutual-TLS connections/s', better: 'higher' },
  { key: 'connP99Ms', label: 'new-connection p99 latency (ms)', better: 'lower' },
  { key: 'connCpuUsPerConn', label: 'proxy CPU per new connection (µs)', better: 'lower' },
  { key: 'bulkMBps', label: 'bulk download MB/s (4 MiB responses)', better: 'higher' },
  { key: 'uploadMBps', label: 'bulk upload MB/s (4 MiB POST bodies)', better: 'higher' },
  { key: 'peakRssEgressMiB', label: 'peak RSS, egress side (MiB)', better: 'lower' },
  { key: 'peakRssIngressMiB', label: 'peak RSS, ingress side (MiB)', better: 'lower' },
  { key: 'anonEgressMiB', label: 'anonymous memory, egress side (MiB, max after a workload)', better: 'lower' },
  { key: 'anonIngressMiB', label: 'anonymous memory, ingress side (MiB, max after a workload)', better: 'lower' },
];

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function peakRssMiB(pids: number[]): Promise<number> {
  let kib = 0;
  for (const pid of pids) kib += Number(/VmHWM:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kib / 1024;
}

/** Private memory (heap, V8, buffers) without the shared file pages of the binary that RSS includes. */
async function anonMiB(pid: number): Promise<number> {
  return Number(/RssAnon:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
}

function ms(value: string, unit: string): number {
  const v = Number(value);
  return unit === 'us' ? v / 1000 : unit === 's' ? v * 1000 : v;
}

async function wrk(args: string[], pids: number[]): Promise<{ rps: number; p99: number; mbps: number; cpuUs: number }> {
  const before = await cpuTicks(pids);
  const { stdout } = await run('wrk', args, { maxBuffer: 1 << 20 });
  const after = await cpuTicks(pids);
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const p = /99%\s+([\d.]+)(us|ms|s)/.exec(stdout);
  const t = /Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB)/.exec(stdout);
  const scale: Record<string, number> = { B: 1 / 1048576, KB: 1 / 1024, MB: 1, GB: 1024 };
  if (/Socket errors|Non-2xx/.test(stdout) && process.env['BENCH_DEBUG'] !== undefined) process.stderr.write(stdout);
  return {
    rps,
    p99: p === null ? NaN : ms(p[1] ?? '', p[2] ?? 'ms'),
    mbps: t === null ? NaN : Number(t[1]) * (scale[t[2] ?? 'MB'] ?? 1) * 1.048576,
    cpuUs: ((after - before) * 10_000) / Math.max(1, requests),
  };
}

async function measure(peer: Running, seconds: number): Promise<Sample> {
  const url = `http://${EGRESS.host}:${EGRESS.port}`;
  const d = `${seconds}s`;
  await run('wrk', ['-t1', '-c4', '-d1s', `${url}/small`]); // warm-up (JIT, session caches)
  const [egressPid, ingressPid] = peer.pids;
  const anon = { egress: 0, ingress: 0 };
  const rss = async (phase: string): Promise<void> => {
    anon.egress = Math.max(anon.egress, await anonMiB(egressPid ?? -1));
    anon.ingress = Math.max(anon.ingress, await anonMiB(ingressPid ?? -1));
    if (process.env['BENCH_DEBUG'] !== undefined)
      process.stderr.write(`${peer.name} after ${phase}: peak RSS ${(await peakRssMiB(peer.pids)).toFixed(1)} MiB\n`);
  };
  await rss('start');
  const ka = await wrk(['-t1', '-c16', `-d${d}`, '--latency', `${url}/small`], peer.pids);
  await rss('keep-alive');
  const conn = await wrk(['-t1', '-c16', `-d${d}`, '--latency', '-H', 'Connection: close', `${url}/small`], peer.pids);
  await rss('new connections');
  const bulk = await wrk(['-t1', '-c4', `-d${d}`, `${url}/bulk`], peer.pids);
  await rss('bulk');
  const upload = await wrk(['-t1', '-c4', `-d${d}`, '-s', UPLOAD_SCRIPT, `${url}/upload`], peer.pids);
  await rss('upload');
  return {
    kaRps: ka.rps,
    kaP99Ms: ka.p99,
    kaCpuUsPerReq: ka.cpuUs,
    connPerS: conn.rps,
    connP99Ms: conn.p99,
    connCpuUsPerConn: conn.cpuUs,
    bulkMBps: bulk.mbps,
    uploadMBps: (upload.rps * UPLOAD_BYTES) / 1e6,
    peakRssEgressMiB: await peakRssMiB([egressPid ?? -1]),
    peakRssIngressMiB: await peakRssMiB([ingressPid ?? -1]),
    anonEgressMiB: anon.egress,
    anonIngressMiB: anon.ingress,
  };
}

/**
 * `--variant '<label>=<settings>'`: the meshproxy with other settings, named `meshproxy (<label>)`.
 * Settings are space-separated: `--...` is a Node flag, `NAME=value` an environment variable.
 */
function variantsOf(argv: readonly string[]): { name: string; flags: string[]; env: Record<string, string> }[] {
  const out: { name: string; flags: string[]; env: Record<string, string> }[] = [];
  argv.forEach((a, i) => {
    if (a !== '--variant') return;
    const spec = argv[i + 1] ?? '';
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new Error(`--variant ${spec}: expected '<label>=<node flags and NAME=value settings>'`);
    const flags: string[] = [];
    const env: Record<string, string> = {};
    for (const token of spec.slice(eq + 1).split(' ')) {
      const name = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(token);
      if (name?.[1] !== undefined) env[name[1]] = name[2] ?? '';
      else if (token.startsWith('--')) flags.push(token);
      else if (token !== '') throw new Error(`--variant ${spec}: ${token} is neither --<node flag> nor NAME=value`);
    }
    out.push({ name: `meshproxy (${spec.slice(0, eq)})`, flags, env });
  });
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2;
}

function fmt(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

async function main(): Promise<void> {
  const rounds = arg('--rounds', 3);
  const seconds = arg('--seconds', 5);
  const root = await mkdtemp(join(tmpdir(), 'meshproxy-bench-'));
  try {
    const pki = await createTestPki();
    const pem = join(root, 'pem');
    await mkdir(pem);
    const chainOf = (leaf: string): string => leaf + pki.meshCA.certPem;
    await writeFile(join(pem, 'ca.pem'), pki.meshCA.certPem);
    await writeFile(join(pem, 'client-chain.pem'), chainOf(pki.client.certPem));
    await writeFile(join(pem, 'client-key.pem'), pki.client.keyPem);
    await writeFile(join(pem, 'server-chain.pem'), chainOf(pki.server.certPem));
    await writeFile(join(pem, 'server-key.pem'), pki.server.keyPem);
    await writeFile(join(pem, 'client-combined.pem'), chainOf(pki.client.certPem) + pki.client.keyPem);
    await writeFile(join(pem, 'server-combined.pem'), chainOf(pki.server.certPem) + pki.server.keyPem);
    const resumption = !process.argv.includes('--no-resumption');
    const dirs: Dirs = {
      root,
      pem,
      clientTls: join(root, 'client-tls'),
      serverTls: join(root, 'server-tls'),
      resumption,
    };
    await writeTlsDir(dirs.clientTls, pki.meshCA, pki.client);
    await writeTlsDir(dirs.serverTls, pki.meshCA, pki.server);

    const app = await startApp(dirs);
    const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
    const variants = variantsOf(process.argv);
    const peers = [
      { name: 'meshproxy', start: (x: Dirs) => startMeshproxy(x) },
      ...variants.map((v) => ({ name: v.name, start: (x: Dirs) => startMeshproxy(x, v.flags, v.env) })),
      { name: 'haproxy', start: startHaproxy },
      { name: 'nginx-stream', start: startNginx },
    ].filter((p) => only === undefined || p.name === only);
    const samples = new Map<string, Sample[]>(peers.map((p) => [p.name, []]));
    const loadBefore = await loadAverage();
    const steal = await stealPercent();
    try {
      for (let r = 0; r < rounds; r++) {
        for (let i = 0; i < peers.length; i++) {
          const peer = peers[(i + r) % peers.length]!;
          const running = await peer.start(dirs);
          try {
            const s = await measure(running, seconds);
            samples.get(peer.name)!.push(s);
            process.stderr.write(`round ${r + 1} ${peer.name}: ${JSON.stringify(s)}\n`);
          } finally {
            await running.stop();
          }
        }
      }
    } finally {
      await app.stop();
    }
    if (only !== undefined) return;
    const ours = ['meshproxy', ...variants.map((v) => v.name)];
    const columns = [...ours, 'haproxy', 'nginx-stream'];
    const ratios = [...ours.map((o) => ({ of: o, to: 'haproxy' })), { of: 'meshproxy', to: 'nginx-stream' }];
    const lines = [
      `| metric | ${columns.join(' | ')} | ${ratios.map((r) => `${r.of} / ${r.to}`).join(' | ')} |`,
      `|---|${columns.map(() => '---|').join('')}${ratios.map(() => '---|').join('')}`,
    ];
    for (const m of METRICS) {
      const med = (name: string): number => median(samples.get(name)!.map((s) => s[m.key]));
      const ratio = (of: string, to: string): string => {
        const per = samples.get(of)!.map((s, i) => s[m.key] / (samples.get(to)![i]?.[m.key] ?? NaN));
        return `${(med(of) / med(to)).toFixed(2)}x (${Math.min(...per).toFixed(2)}–${Math.max(...per).toFixed(2)})`;
      };
      lines.push(
        `| ${m.label} | ${columns.map((c) => fmt(med(c))).join(' | ')} | ${ratios.map((r) => ratio(r.of, r.to)).join(' | ')} |`,
      );
    }
    const loadAfter = await loadAverage();
    process.stdout.write(
      `${rounds} rounds x ${seconds} s per workload, peers interleaved (rotated order per round, fresh processes), medians; ratio spread over rounds in parentheses\n` +
        `node ${process.version} (OpenSSL ${process.versions.openssl}); load average ${loadBefore} before, ${loadAfter} after; CPU steal ${steal.stop().toFixed(1)}% during the run; ` +
        (resumption
          ? 'TLS session resumption on for every peer (meshproxy egress ticket cache, haproxy server-side reuse, nginx proxy_ssl_session_reuse)'
          : 'TLS session resumption off for every peer (--no-resumption: CONTRAST_MESHPROXY_SESSION_RESUMPTION=false, haproxy no-ssl-reuse, nginx proxy_ssl_session_reuse off): every new connection is a full handshake') +
        `\n\n${lines.join('\n')}\n`,
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
