/**
 * bench/initializer: process start to done file of the built initializer (dist/) against a loopback
 * development Coordinator, beside bare `node -e ''` start-up, interleaved in the same run.
 *
 *   npm run build && node --import tsx bench/initializer/startup.ts [--rounds 15] [--snp] [--bundle <entry>]
 *     [--compare <label>=<main.js>]...
 *
 * Peers (each run a fresh process, fresh directories):
 *   node -e ''              bare Node.js start-up and exit: the floor every Node program pays
 *   node + built-ins        bare Node.js that also loads the built-in modules any gRPC-over-HTTP/2 client
 *                           with a P-256 key must load (crypto, net, tls, http2, dns, zlib): the floor of
 *                           the pod path under the mandated grpc-js, before any of our code runs
 *   initializer config-only the program's own start-up: logger, configuration, exit 64 on a missing
 *                           COORDINATOR_HOST (no attestation, aTLS or gRPC modules loaded)
 *   initializer insecure    full path: key, aTLS handshake with an insecure document, NewMeshCert, writes
 *   initializer snp         the same with the emulated /dev/sev-guest (--snp; needs root and FUSE), from
 *                           dist/ and, with --bundle, from the bundle too
 *   initializer bundle      the insecure path run from a bundle's entry (--bundle; the image's:
 *                           dist/bundle/initializer/main.cjs from npm run bundle, with its code cache)
 *   initializer <label>     the insecure path run from another build (--compare, e.g. an older dist/)
 *
 * Fairness: the Coordinator runs in this process and is warm before the first measured run; both peers
 * are spawned the same way (same node binary, same environment size); the order alternates every round;
 * the initializer's time ends when the done file appears (inotify), not at exit; pod directories are on
 * tmpfs like the pod's in-memory /contrast volume. The Coordinator's own work (validating the document,
 * issuing the certificate) is inside the initializer's wall time, as it is in a pod; since the Coordinator
 * runs in this process, its CPU time per run is this process's CPU time during the run minus the cost of
 * spawning and watching a child (calibrated on bare `node -e ''` spawns), and the table shows the wall
 * time without it too: waiting on the peer is not start-up cost.
 *
 * CPU: every child (bare Node too) runs with `-r <preload>` that reports its own CPU time (user+system,
 * all threads) at exit: less sensitive to a loaded machine than wall time.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, watch } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startCoordinator } from '../../lib/coordinator/coordinator.js';
import { InsecureValidator } from '../../lib/attestation/insecure.js';
import { createValidators } from '../../lib/attestation/validators.js';
import type { Validator } from '../../lib/attestation/types.js';
import { silentLogger } from '../../lib/log.js';
import { formatTable, interleave, type Peer, type RunResult } from './interleave.js';

/** A single initializer run taking longer than this is a hang, not a measurement. */
const RUN_DEADLINE_MS = 30_000;

const MAIN = fileURLToPath(new URL('../../dist/initializer/main.js', import.meta.url));

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '15' },
    snp: { type: 'boolean', default: false },
    bundle: { type: 'string' },
    compare: { type: 'string', multiple: true, default: [] },
  },
});
const rounds = Number(values.rounds);
if (!existsSync(MAIN)) {
  process.stderr.write(`${MAIN} is missing: run npm run build first\n`);
  process.exit(2);
}

/** Built-in modules that grpc-js (HTTP/2 over a socket, its DNS resolver, compression filter) and the key need. */
const FLOOR_BUILTINS = ['node:crypto', 'node:net', 'node:tls', 'node:http2', 'node:dns', 'node:zlib'];

const insecureHost = createHash('sha256').update('bench insecure').digest();
// Pods write to /contrast, an in-memory emptyDir: tmpfs here too (/dev/shm), where fsync is cheap.
const work = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), `bench-init-${process.pid}-`));
const cleanups: (() => Promise<unknown>)[] = [() => rm(work, { recursive: true, force: true })];
const cpuPreload = join(work, 'cpu-report.cjs');
await writeFile(
  cpuPreload,
  "process.on('exit', () => { const u = process.cpuUsage(); require('fs').writeSync(2, '\\nCHILD_CPU_MS ' + ((u.user + u.system) / 1000) + '\\n'); });\n",
);
/** The CPU milliseconds a child reported on stderr. */
function childCpu(stderr: string): number {
  const m = /CHILD_CPU_MS ([\d.]+)/.exec(stderr);
  if (m?.[1] === undefined) throw new Error(`child reported no CPU time; stderr:\n${stderr}`);
  return Number(m[1]);
}

try {
  const policies = new Map([[insecureHost.toString('hex'), { sans: ['bench'], workloadSecretID: 'bench' }]]);
  const validators: Validator[] = [new InsecureValidator()];
  const snpEnv: Record<string, string> = {};
  if (values.snp) {
    const { mountEmulators } = await import('../../test/emulators/harness.js');
    const emu = await mountEmulators();
    cleanups.push(() => emu.unmount());
    policies.set(emu.config.hostData.toString('hex'), { sans: ['bench-snp'], workloadSecretID: 'bench-snp' });
    validators.push(...createValidators({ snp: { trustedArkPems: [emu.keys.askPem + emu.keys.arkPem] } }));
    Object.assign(snpEnv, {
      CONTRAST_ATTESTATION: 'snp',
      CONTRAST_SNP_DEVICE: emu.snpDevice,
      CONTRAST_TSM_REPORT_DIR: join(work, 'none'),
      CONTRAST_KDS_TIMEOUT: '0',
    });
  }
  const coordinator = await startCoordinator({
    listen: '127.0.0.1:0',
    manifest: { policies, referenceValues: { allowInsecure: true } },
    stateDir: join(work, 'coordinator'),
    validators,
    logger: silentLogger(),
  });
  cleanups.push(() => coordinator.close());

  const cpuMs = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const spawnBare = (script = ''): Promise<RunResult> =>
    new Promise((resolve, reject) => {
      const start = performance.now();
      const child = spawn(process.execPath, ['-r', cpuPreload, '-e', script], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { PATH: process.env['PATH'] ?? '' },
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      child.on('error', reject);
      child.on('close', () => {
        resolve({ ms: performance.now() - start, cpuMs: childCpu(stderr) });
      });
    });
  // This process's CPU cost of one spawn-and-wait (no Coordinator work), subtracted from each run's.
  const overheads: number[] = [];
  for (let i = 0; i < 7; i++) {
    const c0 = cpuMs();
    await spawnBare();
    overheads.push(cpuMs() - c0);
  }
  overheads.sort((a, b) => a - b);
  const spawnOverheadMs = overheads[3] ?? 0;

  let pod = 0;
  const initializer = (name: string, env: Record<string, string>, args: readonly string[] = [MAIN]): Peer => ({
    name,
    async run() {
      const root = join(work, `pod-${pod++}`);
      const { mkdir } = await import('node:fs/promises');
      await mkdir(root);
      const done = join(root, 'done');
      const cpu0 = cpuMs();
      const start = performance.now();
      const child = spawn(process.execPath, ['-r', cpuPreload, ...args], {
        env: {
          PATH: process.env['PATH'] ?? '',
          COORDINATOR_HOST: `127.0.0.1:${coordinator.port}`,
          CONTRAST_TLS_DIR: join(root, 'tls-config'),
          CONTRAST_SECRETS_DIR: join(root, 'secrets'),
          CONTRAST_DONE_FILE: done,
          CONTRAST_LOG_LEVEL: 'warn',
          ...env,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const doneAt = new Promise<number>((resolve) => {
        const w = watch(root, (_event, file) => {
          if (file === 'done' && existsSync(done)) {
            w.close();
            resolve(performance.now());
          }
        });
        child.on('close', () => {
          w.close();
          resolve(performance.now());
        });
      });
      // A run that neither finishes nor fails (a Coordinator that never answers waits out the
      // initializer's 60 s attempt budget) stops the benchmark with the child's log, not a silent hang.
      const deadline = setTimeout(() => child.kill('SIGKILL'), RUN_DEADLINE_MS);
      const [at, code] = await Promise.all([doneAt, new Promise<number | null>((r) => child.on('close', r))]);
      clearTimeout(deadline);
      if (code === null) throw new Error(`${name}: no done file within ${RUN_DEADLINE_MS / 1000} s, killed\n${stderr}`);
      const peerMs = Math.max(0, cpuMs() - cpu0 - spawnOverheadMs);
      if (code !== 0 || !existsSync(done)) throw new Error(`${name}: exit ${code}\n${stderr}`);
      return { ms: at - start, peerMs, cpuMs: childCpu(stderr) };
    },
  });
  const bare: Peer = { name: "node -e ''", run: () => spawnBare() };
  const builtins: Peer = {
    name: 'node + built-ins',
    run: () => spawnBare(FLOOR_BUILTINS.map((m) => `require('${m}');`).join('')),
  };
  const configOnly: Peer = {
    name: 'initializer config-only',
    run: () =>
      new Promise<RunResult>((resolve, reject) => {
        const start = performance.now();
        const child = spawn(process.execPath, ['-r', cpuPreload, MAIN], {
          stdio: ['ignore', 'ignore', 'pipe'],
          env: { PATH: process.env['PATH'] ?? '' },
        });
        let stderr = '';
        child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
        child.on('error', reject);
        child.on('close', (code) => {
          if (code === 64) resolve({ ms: performance.now() - start, cpuMs: childCpu(stderr) });
          else reject(new Error(`config-only run: exit ${code}, expected 64`));
        });
      }),
  };
  const peers: Peer[] = [
    bare,
    builtins,
    configOnly,
    initializer('initializer insecure', {
      CONTRAST_ATTESTATION: 'insecure',
      CONTRAST_ALLOW_INSECURE_ATTESTATION: 'true',
      CONTRAST_INSECURE_HOST_DATA: insecureHost.toString('hex'),
    }),
  ];
  if (values.snp) peers.push(initializer('initializer snp (emulated)', snpEnv));
  if (values.bundle !== undefined) {
    peers.push(
      initializer(
        'initializer insecure (bundle)',
        {
          CONTRAST_ATTESTATION: 'insecure',
          CONTRAST_ALLOW_INSECURE_ATTESTATION: 'true',
          CONTRAST_INSECURE_HOST_DATA: insecureHost.toString('hex'),
        },
        [values.bundle],
      ),
    );
    if (values.snp) peers.push(initializer('initializer snp (emulated, bundle)', snpEnv, [values.bundle]));
  }
  for (const c of values.compare) {
    const eq = c.indexOf('=');
    if (eq <= 0) throw new Error(`--compare ${c}: expected <label>=<path of main.js>`);
    peers.push(
      initializer(
        `initializer insecure (${c.slice(0, eq)})`,
        {
          CONTRAST_ATTESTATION: 'insecure',
          CONTRAST_ALLOW_INSECURE_ATTESTATION: 'true',
          CONTRAST_INSECURE_HOST_DATA: insecureHost.toString('hex'),
        },
        [c.slice(eq + 1)],
      ),
    );
  }
  const stats = await interleave(peers, rounds);
  process.stdout.write(
    `${formatTable(stats)}\n\n${rounds} rounds, node ${process.version}, spawn overhead ${spawnOverheadMs.toFixed(1)} ms CPU, ${new Date().toISOString()}\n`,
  );
} finally {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
}
