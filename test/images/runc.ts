/** Runs a command inside an OCI image layout: unpacked with umoci, run with runc, torn down afterwards. */
import type { ExecutionContext } from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RuncResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `layout:ref` is unpacked under `work`; `argv` replaces the image's process arguments. */
export function runInImage(
  t: ExecutionContext,
  opts: { layout: string; ref: string; work: string; argv: readonly string[] },
): RuncResult {
  const id = `contrast-img-${opts.ref}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const bundle = join(opts.work, 'run', id);
  const state = join(opts.work, 'runc-state');
  mkdirSync(join(opts.work, 'run'), { recursive: true });
  mkdirSync(state, { recursive: true });
  t.teardown(() => {
    spawnSync('runc', ['--root', state, 'delete', '--force', id]);
    rmSync(bundle, { recursive: true, force: true });
  });
  execFileSync('umoci', ['unpack', '--image', `${opts.layout}:${opts.ref}`, bundle], { stdio: 'ignore' });
  const configPath = join(bundle, 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as { process: { terminal: boolean; args: string[] } };
  config.process.terminal = false;
  config.process.args = [...opts.argv];
  writeFileSync(configPath, JSON.stringify(config));
  const r = spawnSync('runc', ['--root', state, 'run', '--bundle', bundle, id], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
