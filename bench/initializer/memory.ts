/**
 * bench/initializer/memory: the initializer from its image (the image's own Node binary, shared
 * libraries, bundle and code cache) inside a memory cgroup limited to upstream's 50 Mi, interleaved
 * with runs in an unlimited group, against the development Coordinator (insecure attestation).
 *
 *   npm run bundle && sudo node --import tsx bench/initializer/memory.ts [--rounds 7] [--cold-rounds 5]
 *     [--limit-mib 50] [--loop-readahead-kib 128] [--unpack-in <dir>] [--node-option <flag>]...
 *     [--only '<warm|cold> <peer name>']...
 *
 * Needs root (cgroups, drop_caches, a loop device). Builds the initializer image from dist/bundle (npm run bundle)
 * into a temporary OCI layout, unpacks it with umoci, and starts `<rootfs>/usr/bin/node
 * <rootfs>/usr/lib/contrast/initializer/main.cjs` through the image's own dynamic loader and
 * libraries (no chroot: /proc and /sys stay the host's, so Node sees its cgroup limit as in a pod).
 *
 * Conditions (each run a fresh process in a fresh cgroup; order alternates every round):
 *   warm  the image's files read once from this process first, so their pages are in the page cache
 *         and charged to this process's group, not the run's: as when Kata's guest pull keeps the
 *         image in the VM's memory. Peers: initializer unlimited, initializer in the limit.
 *         Target: limited ≤ 1.2x unlimited.
 *   cold  `sync; echo 3 > /proc/sys/vm/drop_caches` before every run, so each run reads (and is
 *         charged for) the file pages it touches: as with a disk-backed image store. Peers: bare
 *         `node -e 0` from the image in the limit (the floor), `node + built-ins + key` in the limit
 *         (Node loading crypto, net, tls, http2, dns, zlib and making a P-256 key: the floor of any
 *         grpc-js client), the initializer unlimited and in the limit. Target: initializer in the limit ≤ 3x bare node in the limit, no OOM kill.
 *         Run twice: with the rootfs on the host's disk as it is (--unpack-in: another directory),
 *         and on a fresh ext4 on a loop device whose readahead is --loop-readahead-kib (default the
 *         kernel's 128 KiB; 0 skips it). The readahead decides how much one page fault on the Node
 *         binary reads and charges to the group: a few MiB per fault (some virtual disks) thrash a
 *         50 MiB group that 128 KiB does not.
 *
 * Per peer: median wall ms (spawn to exit), p10–p90, ratios, the group's peak usage (file pages and
 * anonymous memory; v1 memory.max_usage_in_bytes, v2 memory.peak), failcnt (times the usage hit the
 * limit and the kernel had to reclaim), OOM kills, and whether V8 accepted the code cache. Wall
 * times are noisy on a loaded machine: the load average is printed with each condition; peak and
 * failcnt are the steadier measures.
 */
import { spawn, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startCoordinator } from '../../lib/coordinator/coordinator.js';
import { InsecureValidator } from '../../lib/attestation/insecure.js';
import { silentLogger } from '../../lib/log.js';
import { VERSION } from '../../lib/version.js';
import { buildImage, newBuildCache } from '../../images/image-builder.js';
import { defaultBundleDir, repoRoot } from '../../images/paths.js';
import { BUNDLE_DIR, NODE_PATH, targetByName } from '../../images/targets.js';
import { loadAverage } from '../meshproxy/load.js';
import { createMemoryCgroup, memoryCgroupVersion } from './memcg.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    'cold-rounds': { type: 'string', default: '5' },
    'limit-mib': { type: 'string', default: '50' },
    'node-option': { type: 'string', multiple: true, default: [] },
    only: { type: 'string', multiple: true, default: [] },
    'unpack-in': { type: 'string' },
    'loop-readahead-kib': { type: 'string', default: '128' },
  },
});
const rounds = Number(values.rounds);
const coldRounds = Number(values['cold-rounds']);
const limitBytes = Number(values['limit-mib']) * 1024 * 1024;
const nodeOptions = values['node-option'];

if (process.getuid?.() !== 0) {
  process.stderr.write('bench/initializer/memory.ts needs root (memory cgroups, drop_caches)\n');
  process.exit(2);
}
if (memoryCgroupVersion() === undefined) {
  process.stderr.write('no memory cgroup controller on this host\n');
  process.exit(2);
}
const root = repoRoot();
const bundleDir = defaultBundleDir(root);
if (!existsSync(join(bundleDir, 'initializer', 'main.cjs'))) {
  process.stderr.write(`${bundleDir}/initializer is missing: run npm run bundle first\n`);
  process.exit(2);
}

const suffix = `${process.pid}-${randomBytes(3).toString('hex')}`;
const work = mkdtempSync(join(tmpdir(), `bench-init-mem-${suffix}-`));
// Pods write to /contrast, an in-memory emptyDir here (tmpfs, like startup.ts).
const pods = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), `bench-init-mem-${suffix}-`));
const cleanups: (() => unknown)[] = [
  () => {
    rmSync(work, { recursive: true, force: true });
  },
  () => {
    rmSync(pods, { recursive: true, force: true });
  },
];

interface Sample {
  readonly ms: number;
  readonly peakBytes: number;
  readonly failcnt: number;
  readonly oomKills: number;
  readonly codeCache: string;
}

interface Rootfs {
  readonly label: string;
  readonly rootfs: string;
  /** The image's dynamic loader, its library directories, its Node binary. */
  readonly node: readonly string[];
  readonly entry: string;
}

interface PeerSpec {
  readonly name: string;
  readonly disk: Rootfs;
  readonly limited: boolean;
  readonly bare: boolean;
  /** A bare peer's script (default `0`). */
  readonly script?: string;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * The floor of the pod path under the mandated grpc-js, before any of our code: the built-in modules a
 * gRPC-over-HTTP/2 client with a P-256 key loads (as bench/initializer/startup.ts), and the key.
 */
const FLOOR_SCRIPT =
  "for (const m of ['crypto', 'net', 'tls', 'http2', 'dns', 'zlib']) require('node:' + m); require('node:crypto').generateKeyPairSync('ec', { namedCurve: 'P-256' });";

const median = (xs: readonly number[]): number =>
  quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
const mib = (b: number): string => (b / 1024 / 1024).toFixed(1);

/** Every regular file under dir (the unpacked rootfs), for warming the page cache. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** read_ahead_kb of the block device holding path (a partition's is its disk's), or '?'. */
function readaheadKib(path: string): string {
  const dev = statSync(path).dev;
  const id = `${(dev & 0xfff00) >> 8}:${(dev & 0xff) | ((dev >> 12) & 0xfff00)}`;
  for (const f of [
    `/sys/dev/block/${id}/queue/read_ahead_kb`,
    `/sys/dev/block/${id}/../queue/read_ahead_kb`,
    `/sys/class/bdi/${id}/read_ahead_kb`,
  ]) {
    if (existsSync(f)) return readFileSync(f, 'utf8').trim();
  }
  return '?';
}

/** A fresh ext4 on a loop device with the given readahead, mounted; unmounted and detached by the cleanups. */
function loopDisk(kib: number): string {
  const img = join(work, 'disk.img');
  const mnt = join(work, 'disk');
  mkdirSync(mnt);
  execFileSync('truncate', ['-s', '512M', img]);
  execFileSync('mkfs.ext4', ['-q', '-F', img]);
  const dev = execFileSync('losetup', ['--find', '--show', '--direct-io=on', img], { encoding: 'utf8' }).trim();
  cleanups.unshift(() => execFileSync('losetup', ['-d', dev]));
  writeFileSync(`/sys/block/${dev.replace('/dev/', '')}/queue/read_ahead_kb`, String(kib));
  execFileSync('mount', [dev, mnt]);
  cleanups.unshift(() => execFileSync('umount', [mnt]));
  return mnt;
}

try {
  // The image, as npm run images builds it, from the existing bundle.
  const target = targetByName('initializer')!;
  const image = await buildImage(target, {
    bundleDir,
    outDir: join(work, 'oci'),
    version: VERSION,
    epoch: 0,
    cache: newBuildCache(),
    maxCompressedBytes: Number.MAX_SAFE_INTEGER,
  });
  const unpackAt = (dir: string, label: string): Rootfs => {
    const unpacked = mkdtempSync(join(dir, `bench-init-mem-${suffix}-`));
    cleanups.unshift(() => {
      rmSync(unpacked, { recursive: true, force: true });
    });
    rmSync(unpacked, { recursive: true });
    execFileSync('umoci', ['unpack', '--image', `${image.dir}:${target.name}`, unpacked], { stdio: 'ignore' });
    const rootfs = join(unpacked, 'rootfs');
    const loader = ['/lib64/ld-linux-x86-64.so.2', '/usr/lib64/ld-linux-x86-64.so.2']
      .map((p) => join(rootfs, p))
      .find((p) => existsSync(p));
    if (loader === undefined) throw new Error(`${rootfs}: no dynamic loader at /lib64/ld-linux-x86-64.so.2`);
    const libraryPath = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64']
      .map((p) => join(rootfs, p))
      .filter((p) => existsSync(p))
      .join(':');
    return {
      label,
      rootfs,
      node: [loader, '--library-path', libraryPath, join(rootfs, NODE_PATH)],
      entry: join(rootfs, BUNDLE_DIR, 'initializer', 'main.cjs'),
    };
  };
  // The host's disk (where the temporary directory is), as it is: its readahead decides how much a
  // page fault on the Node binary reads (and charges to the group) at once.
  const hostDisk = unpackAt(
    values['unpack-in'] ?? work,
    `host disk, readahead ${readaheadKib(values['unpack-in'] ?? work)} KiB`,
  );
  const disks = [hostDisk];
  if (values['loop-readahead-kib'] !== '0') {
    // A loop device (direct I/O: no second page cache for its backing file) with the given readahead,
    // default the kernel's 128 KiB: a disk as most nodes have it.
    const mnt = loopDisk(Number(values['loop-readahead-kib']));
    disks.push(unpackAt(mnt, `loop device, readahead ${readaheadKib(mnt)} KiB`));
  }
  const rootfs = hostDisk.rootfs;
  const nodeBytes = statSync(join(rootfs, NODE_PATH)).size;
  const bundleFiles = readdirSync(join(rootfs, BUNDLE_DIR, 'initializer')).map(
    (f) => `${f} ${(statSync(join(rootfs, BUNDLE_DIR, 'initializer', f)).size / 1024).toFixed(0)} KiB`,
  );

  const host = createHash('sha256').update('bench memory').digest();
  const coordinator = await startCoordinator({
    listen: '127.0.0.1:0',
    manifest: {
      policies: new Map([[host.toString('hex'), { sans: ['bench-mem'], workloadSecretID: 'bench-mem' }]]),
      referenceValues: { allowInsecure: true },
    },
    stateDir: join(work, 'coordinator'),
    validators: [new InsecureValidator()],
    logger: silentLogger(),
  });
  cleanups.unshift(() => coordinator.close());

  let n = 0;
  const runOnce = async (peer: PeerSpec): Promise<Sample> => {
    const id = n++;
    const group = createMemoryCgroup(`bench-init-mem-${suffix}-${id}`, peer.limited ? limitBytes : undefined);
    const pod = join(pods, `pod-${id}`);
    mkdirSync(pod);
    const { node, entry } = peer.disk;
    const argv = peer.bare ? [...node, '-e', peer.script ?? '0'] : [...node, ...nodeOptions, entry];
    const env: Record<string, string> = peer.bare
      ? { PATH: '/usr/bin:/bin' }
      : {
          PATH: '/usr/bin:/bin',
          COORDINATOR_HOST: `127.0.0.1:${coordinator.port}`,
          CONTRAST_TLS_DIR: join(pod, 'tls-config'),
          CONTRAST_SECRETS_DIR: join(pod, 'secrets'),
          CONTRAST_DONE_FILE: join(pod, 'done'),
          CONTRAST_LOG_LEVEL: 'info',
          CONTRAST_LOG_FORMAT: 'json',
          CONTRAST_ATTESTATION: 'insecure',
          CONTRAST_ALLOW_INSECURE_ATTESTATION: 'true',
          CONTRAST_INSECURE_HOST_DATA: host.toString('hex'),
        };
    try {
      const before = group.read();
      const start = performance.now();
      const [cmd, ...args] = group.wrap(argv);
      const child = spawn(cmd!, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      const code = await new Promise<number | null>((resolve) =>
        child.on('close', (c, sig) => {
          resolve(c ?? (sig === null ? null : -1));
        }),
      );
      const ms = performance.now() - start;
      clearTimeout(timer);
      const after = group.read();
      const oomKills = after.oomKills - before.oomKills;
      let codeCache = '–';
      if (!peer.bare) {
        const line = stderr.split('\n').find((l) => l.includes('"msg":"Initializer started"'));
        codeCache = line === undefined ? 'no log' : String((JSON.parse(line) as { codeCache?: unknown }).codeCache);
        if (code !== 0 && oomKills === 0) throw new Error(`${peer.name}: exit ${code}\n${stderr}`);
        if (code === 0 && !existsSync(join(pod, 'done')))
          throw new Error(`${peer.name}: exit 0 without the done file\n${stderr}`);
      } else if (code !== 0 && oomKills === 0) throw new Error(`${peer.name}: exit ${code}\n${stderr}`);
      return { ms, peakBytes: after.peakBytes, failcnt: after.failcnt - before.failcnt, oomKills, codeCache };
    } finally {
      rmSync(pod, { recursive: true, force: true });
      group.remove();
    }
  };

  const dropCaches = (): void => {
    execFileSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '3');
  };

  const condition = async (
    label: string,
    all: readonly PeerSpec[],
    count: number,
    before: () => void,
  ): Promise<string> => {
    // --only <text>: just the peers whose name has one of the texts (for quick experiments).
    const peers =
      values.only.length === 0
        ? all
        : all.filter((p) => values.only.some((o) => `${label.split(' ')[0]!} ${p.name}`.includes(o)));
    if (peers.length === 0) return `${label}: skipped (--only)`;
    const load0 = await loadAverage();
    const samples = peers.map(() => [] as Sample[]);
    // One unmeasured round first (the Coordinator's own first requests).
    for (let r = -1; r < count; r++) {
      const order = r % 2 === 0 ? peers.map((_, i) => i) : peers.map((_, i) => peers.length - 1 - i);
      for (const i of order) {
        before();
        const s = await runOnce(peers[i]!);
        if (r >= 0) samples[i]!.push(s);
      }
    }
    const load1 = await loadAverage();
    const medians = samples.map((s) => median(s.map((x) => x.ms)));
    const ref = (name: string): number => medians[peers.findIndex((p) => p.name === name)] ?? NaN;
    const header = [
      'peer',
      'median ms',
      'p10–p90 ms',
      'ratio to unlimited',
      'ratio to bare node',
      'peak MiB (median, max)',
      'failcnt (median)',
      'OOM kills',
      'code cache',
    ];
    const rows = peers.map((p, i) => {
      const s = samples[i]!;
      const ms = s.map((x) => x.ms).sort((a, b) => a - b);
      const peaks = s.map((x) => x.peakBytes);
      const unlimited = ref('initializer, unlimited');
      const bare = ref(`node -e 0, ${mib(limitBytes)} MiB`);
      return [
        p.name,
        medians[i]!.toFixed(0),
        `${quantile(ms, 0.1).toFixed(0)}–${quantile(ms, 0.9).toFixed(0)}`,
        p.bare ? '–' : (medians[i]! / unlimited).toFixed(2) + 'x',
        p.bare || Number.isNaN(bare) ? '–' : (medians[i]! / bare).toFixed(2) + 'x',
        `${mib(median(peaks))}, ${mib(Math.max(...peaks))}`,
        median(s.map((x) => x.failcnt)).toFixed(0),
        String(s.reduce((a, x) => a + x.oomKills, 0)),
        [...new Set(s.map((x) => x.codeCache))].join('/'),
      ];
    });
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
    const line = (cells: string[]): string => '| ' + cells.map((x, c) => x.padEnd(widths[c]!)).join(' | ') + ' |';
    return [
      `${label}: ${count} rounds, load average ${load0} before, ${load1} after`,
      line(header),
      line(widths.map((w) => '-'.repeat(w))),
      ...rows.map(line),
    ].join('\n');
  };

  const limitName = `${mib(limitBytes)} MiB`;
  const files = filesUnder(rootfs);
  const warm = (): void => {
    for (const f of files) readFileSync(f);
  };
  warm();
  const warmTable = await condition(
    `warm (${hostDisk.label}; image files in the page cache, charged outside the run's group)`,
    [
      { name: 'initializer, unlimited', disk: hostDisk, limited: false, bare: false },
      { name: `initializer, ${limitName}`, disk: hostDisk, limited: true, bare: false },
    ],
    rounds,
    () => undefined,
  );
  process.stdout.write(`${warmTable}\n\n`);
  // The slow disk last: the loop device's condition first.
  for (const disk of [...disks].reverse()) {
    const coldTable = await condition(
      `cold (${disk.label}; caches dropped before every run)`,
      [
        { name: `node -e 0, ${limitName}`, disk, limited: true, bare: true },
        { name: `node + built-ins + key, ${limitName}`, disk, limited: true, bare: true, script: FLOOR_SCRIPT },
        { name: 'initializer, unlimited', disk, limited: false, bare: false },
        { name: `initializer, ${limitName}`, disk, limited: true, bare: false },
      ],
      coldRounds,
      dropCaches,
    );
    process.stdout.write(`${coldTable}\n\n`);
  }
  process.stdout.write(
    [
      `cgroup v${memoryCgroupVersion()}, limit ${limitBytes} bytes, image node ${mib(nodeBytes)} MiB, bundle: ${bundleFiles.join(', ')}`,
      `node options: ${nodeOptions.length === 0 ? '(none)' : nodeOptions.join(' ')}; ${new Date().toISOString()}`,
      'targets: warm limited ≤ 1.2x unlimited; cold limited ≤ 3x bare node in the same limit, no OOM kill',
    ].join('\n') + '\n',
  );
} finally {
  for (const c of cleanups) await Promise.resolve(c()).catch(() => undefined);
}
