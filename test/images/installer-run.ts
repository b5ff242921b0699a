/**
 * Runs the runtime-installer image the way its DaemonSet does, with runc after `umoci unpack`: the
 * DaemonSet's command and environment, the host tree bind-mounted at /host, the system bus socket, the
 * service-account directory; the host's network (the stand-in API server listens on loopback).
 */
import type { ExecutionContext } from 'ava';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Mount {
  readonly source: string;
  readonly destination: string;
  readonly readonly?: boolean;
}

export interface ImageRun {
  readonly status: number | null;
  readonly output: string;
}

const CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SYS_ADMIN',
  'CAP_SYS_CHROOT',
  'CAP_MKNOD',
  'CAP_NET_BIND_SERVICE',
  'CAP_AUDIT_WRITE',
];

/** Unpacks `layout:ref` once per call into `work` (torn down with the test). */
export function unpackImage(t: ExecutionContext, layout: string, ref: string, work: string): string {
  const bundle = join(work, `bundle-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(work, { recursive: true });
  execFileSync('umoci', ['unpack', '--image', `${layout}:${ref}`, bundle], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => {
    rmSync(bundle, { recursive: true, force: true });
  });
  return bundle;
}

export async function runBundle(
  t: ExecutionContext,
  bundle: string,
  opts: { argv: readonly string[]; env: Record<string, string>; mounts: readonly Mount[]; stateDir: string },
): Promise<ImageRun> {
  const id = `contrast-ri-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  mkdirSync(opts.stateDir, { recursive: true });
  t.teardown(() => {
    spawnSync('runc', ['--root', opts.stateDir, 'delete', '--force', id]);
  });
  const configPath = join(bundle, 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as {
    process: { terminal: boolean; args: string[]; env: string[]; capabilities?: Record<string, string[]> };
    mounts: { destination: string; type: string; source: string; options: string[] }[];
    linux: { namespaces: { type: string }[] };
    root: { readonly?: boolean };
  };
  const imageEnv = Object.fromEntries(
    config.process.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
  );
  config.process.terminal = false;
  config.process.args = [...opts.argv];
  // JSON log lines for the assertions (the programs' default is text, as upstream's).
  config.process.env = Object.entries({ ...imageEnv, CONTRAST_LOG_FORMAT: 'json', ...opts.env }).map(
    ([k, v]) => `${k}=${v}`,
  );
  config.process.capabilities = { bounding: CAPS, effective: CAPS, permitted: CAPS };
  config.linux.namespaces = config.linux.namespaces.filter((n) => n.type !== 'network');
  config.mounts = config.mounts.filter((m) => !opts.mounts.some((o) => o.destination === m.destination));
  for (const m of opts.mounts)
    config.mounts.push({
      destination: m.destination,
      type: 'bind',
      source: m.source,
      options: ['rbind', m.readonly === true ? 'ro' : 'rw'],
    });
  writeFileSync(configPath, JSON.stringify(config));
  return new Promise((resolve, reject) => {
    const child = spawn('runc', ['--root', opts.stateDir, 'run', '--bundle', bundle, id], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, 120_000);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

/** JSON log lines of a run. */
export function logLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
