/**
 * A fake node for end-to-end runs: an image tree with artifacts, an install manifest, a host root with
 * a containerd config, and a way to run the real installer program on it.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  lstatSync,
  rmSync,
  writeFileSync,
  readlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const MAIN = join(REPO, 'runtime-installer/main.ts');

export function fixture(name: string): string {
  return readFileSync(join(REPO, 'test/fixtures/runtime-installer', name), 'utf8');
}

export interface FakeNode {
  readonly dir: string;
  readonly image: string;
  readonly configDir: string;
  readonly host: string;
  readonly targetConfigDir: string;
  /** Writes the manifest; returns its bytes. */
  writeManifest(manifest: unknown): string;
  env(extra?: Record<string, string>): Record<string, string>;
  cleanup(): void;
}

/** Artifact list of the shipped manifest (in-image path → host path, executable). */
export const SHIPPED: readonly [string, string, boolean][] = [
  ['share/kata-containers.img', 'share/kata-containers.img', false],
  ['share/kata-kernel', 'share/kata-kernel', false],
  ['bin/qemu-system-x86_64', 'bin/qemu-system-x86_64', true],
  ['snp/share/OVMF.fd', 'snp/share/OVMF.fd', false],
  ['bin/containerd-shim-contrast-cc-v2', 'bin/containerd-shim-contrast-cc-v2', true],
];

export function createFakeNode(
  containerdFixture = 'containerd-v2.toml',
  configPath = 'etc/containerd/config.toml',
): FakeNode {
  const dir = mkdtempSync(join(tmpdir(), `ri-node-${process.pid}-`));
  const image = join(dir, 'image');
  const configDir = join(dir, 'config');
  const host = join(dir, 'host');
  const targetConfigDir = join(dir, 'target-config');
  for (const [src] of SHIPPED) {
    mkdirSync(dirname(join(image, src)), { recursive: true });
    writeFileSync(join(image, src), randomBytes(4096 + Math.floor(Math.random() * 8192)));
  }
  mkdirSync(configDir, { recursive: true });
  const cfg = join(host, configPath);
  mkdirSync(dirname(cfg), { recursive: true });
  writeFileSync(cfg, fixture(containerdFixture).replaceAll('@@TMP@@', join(dir, 'ctd')));
  return {
    dir,
    image,
    configDir,
    host,
    targetConfigDir,
    writeManifest(manifest) {
      const text = JSON.stringify(manifest, null, 2);
      writeFileSync(join(configDir, 'contrast-node-install.json'), text);
      return text;
    },
    env(extra = {}) {
      return {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        CONTRAST_LOG_FORMAT: 'json',
        CONFIG_DIR: configDir,
        HOST_MOUNT: host,
        TARGET_CONFIG_DIR: targetConfigDir,
        IMAGEPULLER_CONFIG_DIR: join(dir, 'imagepuller-config'),
        DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(dir, 'no-bus')}`,
        CONTRAST_INSTALLER_FETCH_ATTEMPTS: '2',
        CONTRAST_INSTALLER_FETCH_BACKOFF: '100ms',
        ...extra,
      };
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The shipped-style manifest over the fake image, optionally with SRI for every file. */
export function shippedManifest(
  node: FakeNode,
  opts: { integrity?: boolean; handler?: string; debug?: boolean } = {},
): unknown {
  return {
    ...(opts.handler === undefined ? {} : { runtimeHandlerName: opts.handler }),
    files: SHIPPED.map(([src, dst, executable]) => ({
      url: `file://${join(node.image, src)}`,
      path: `/opt/edgeless/@@runtimeName@@/${dst}`,
      executable,
      ...(opts.integrity === true
        ? {
            integrity: `sha256-${createHash('sha256')
              .update(readFileSync(join(node.image, src)))
              .digest('base64')}`,
          }
        : {}),
    })),
    debugRuntime: opts.debug ?? false,
    qemuExtraKernelParams: 'console=ttyS0 contrast.test=1',
  };
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  readonly lines: Record<string, unknown>[];
}

/**
 * Runs the installer program (through tsx); `killAfterMs` sends SIGKILL after that delay; `prefix`
 * is a command line the program runs under (e.g. unshare).
 */
export function runInstaller(
  args: string[],
  env: Record<string, string>,
  killAfterMs?: number,
  prefix: readonly string[] = [],
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const argv = [...prefix, process.execPath, '--import', 'tsx', MAIN, ...args];
    const child = spawn(argv[0] as string, argv.slice(1), { env, cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.stdout.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('error', reject);
    // 'close' (not 'exit'): stdout and stderr are drained by then.
    child.once('close', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      const lines = stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, signal, stderr, lines });
    });
  });
}

/** Path → type, mode, content hash (or link target) of every entry under `root`. */
export function snapshotTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = lstatSync(p);
      const rel = p.slice(root.length);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out[rel] = `dir ${mode}`;
        walk(p);
      } else if (st.isSymbolicLink()) out[rel] = `link ${readlinkSync(p)}`;
      else out[rel] = `file ${mode} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
    }
  };
  walk(root);
  return out;
}
