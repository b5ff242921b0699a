/**
 * Benchmark: installing a few GiB of artifacts with contrast-runtime-installer (file:// sources with
 * sha512 SRI, verified while streaming, temp file + fsync + rename) beside `cp` + `sha512sum` of the
 * same files, and a no-op re-run. Each peer runs in a fresh process, interleaved, several rounds.
 *
 *   npx tsx bench/runtime-installer/install.ts            # 2 GiB, 3 rounds
 *   BENCH_GIB=4 BENCH_ROUNDS=5 npx tsx bench/runtime-installer/install.ts
 *
 * The installer runs from `dist/` when built (`npm run build`), else through tsx.
 * Fairness: every peer starts from an empty destination, after `sync` (no dirty pages from the
 * previous round). The installer fsyncs every file before renaming it, so the `cp` peer is shown
 * with and without a final `sync` (which is system-wide: it also flushes other processes' dirty pages).
 * Sources stay in the page cache for all peers alike.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const GIB = Number(process.env['BENCH_GIB'] ?? '2');
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? '3');
const SHARES = [0.55, 0.25, 0.12, 0.05, 0.03];
const REPO = fileURLToPath(new URL('../../', import.meta.url));

const dir = mkdtempSync(join(process.env['BENCH_DIR'] ?? tmpdir(), 'ri-bench-'));
const src = join(dir, 'src');
mkdirSync(src);

function makeFile(path: string, bytes: number): string {
  const fd = openSync(path, 'w');
  const hash = createHash('sha512');
  const chunk = Buffer.alloc(16 << 20);
  for (let left = bytes; left > 0; left -= chunk.length) {
    const part = chunk.subarray(0, Math.min(chunk.length, left));
    randomFillSync(part);
    hash.update(part);
    writeSync(fd, part);
  }
  closeSync(fd);
  return `sha512-${hash.digest('base64')}`;
}

process.stderr.write(`generating ${GIB} GiB of artifacts in ${src} ...\n`);
const files = SHARES.map((share, i) => {
  const name = `artifact-${i}.bin`;
  const bytes = Math.floor(share * GIB * 2 ** 30);
  return { name, bytes, integrity: makeFile(join(src, name), bytes) };
});

const configDir = join(dir, 'config');
mkdirSync(configDir);
writeFileSync(
  join(configDir, 'contrast-node-install.json'),
  JSON.stringify({
    runtimeHandlerName: 'contrast-cc-bench',
    files: files.map((f) => ({
      url: `file://${join(src, f.name)}`,
      path: `/opt/edgeless/@@runtimeName@@/share/${f.name}`,
      integrity: f.integrity,
    })),
  }),
);
const targetConfig = join(dir, 'target-config');
mkdirSync(targetConfig);
writeFileSync(join(targetConfig, 'restart-systemd-unit'), 'false');
const host = join(dir, 'host');
const dest = join(dir, 'dest');

function freshHost(): void {
  rmSync(host, { recursive: true, force: true });
  mkdirSync(join(host, 'etc/containerd'), { recursive: true });
  writeFileSync(
    join(host, 'etc/containerd/config.toml'),
    readFileSync(join(REPO, 'test/fixtures/runtime-installer/containerd-v2.toml')),
  );
  execFileSync('sync');
}

function time(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

// The compiled program (`npm run build`) as production runs it; tsx only when there is no build.
const compiled = join(REPO, 'dist/runtime-installer/main.js');
const entry = existsSync(compiled) ? [compiled] : ['--import', 'tsx', join(REPO, 'runtime-installer/main.ts')];

function installer(): void {
  const r = spawnSync(process.execPath, [...entry, 'Metal-QEMU-SNP'], {
    cwd: REPO,
    env: {
      ...process.env,
      CONFIG_DIR: configDir,
      HOST_MOUNT: host,
      TARGET_CONFIG_DIR: targetConfig,
      CONTRAST_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`installer exited with ${r.status}`);
}

function cpSha(sync: boolean): void {
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest);
  execFileSync('sync');
  const paths = files.map((f) => join(src, f.name));
  const t = time(() => {
    execFileSync('cp', [...paths, dest]);
    if (sync) execFileSync('sync');
    execFileSync(
      'sha512sum',
      files.map((f) => join(dest, f.name)),
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
  });
  results['cp + sha512sum' + (sync ? ' + sync' : '')]?.push(t);
}

const results: Record<string, number[]> = {
  'runtime-installer': [],
  'cp + sha512sum': [],
  'cp + sha512sum + sync': [],
  'runtime-installer no-op re-run': [],
};
for (let round = 0; round < ROUNDS; round++) {
  process.stderr.write(`round ${round + 1}/${ROUNDS}\n`);
  const order = round % 2 === 0 ? ['inst', 'cp', 'cpsync'] : ['cpsync', 'cp', 'inst'];
  for (const peer of order) {
    if (peer === 'inst') {
      freshHost();
      results['runtime-installer']?.push(time(installer));
      results['runtime-installer no-op re-run']?.push(time(installer));
    } else cpSha(peer === 'cpsync');
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const inst = results['runtime-installer'] ?? [];
console.log(
  `\n${GIB} GiB in ${files.length} files, ${ROUNDS} rounds; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`,
);
console.log('| peer | median s | min–max s | MiB/s (median) | installer ÷ peer, median of per-round ratios |');
console.log('|---|---|---|---|---|');
for (const [name, xs] of Object.entries(results)) {
  const m = median(xs);
  const ratio = name.startsWith('cp') ? median(xs.map((x, i) => (inst[i] ?? NaN) / x)).toFixed(2) : '';
  console.log(
    `| ${name} | ${m.toFixed(2)} | ${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)} | ${((GIB * 1024) / m).toFixed(0)} | ${ratio} |`,
  );
}
rmSync(dir, { recursive: true, force: true });
