/** Starting contrast-meshproxy inside a network namespace and reading its log. */
import type { ChildProcess } from 'node:child_process';
import { access } from 'node:fs/promises';
import { collectJsonLog, MAIN } from './helpers-cli.js';
import type { NetnsPair } from './netns.js';
import { stopChild } from './netns.js';

export interface RunningProxy {
  readonly child: ChildProcess;
  /** Parsed JSON log lines so far. */
  readonly logs: Record<string, unknown>[];
  readonly exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `prefix`: a command that execs the proxy (e.g. `prlimit --nofile=1200:1200`), so the child's pid stays the proxy's. */
export function startProxy(
  pair: NetnsPair,
  ns: string,
  env: Record<string, string>,
  args: readonly string[] = ['-l', 'debug'],
  prefix: readonly string[] = [],
): RunningProxy {
  const argv = [...prefix, process.execPath, '--import=tsx', MAIN, ...args];
  const child = pair.spawn(ns, argv[0] ?? process.execPath, argv.slice(1), {
    env: {
      PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CONTRAST_LOG_LEVEL: 'debug',
      CONTRAST_LOG_FORMAT: 'json',
      CONTRAST_LOG_SUBSYSTEMS: '*',
      XTABLES_LOCKFILE: `/tmp/xtables-${ns}.lock`,
      ...env,
    },
  });
  const logs = collectJsonLog(child);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      resolve(code);
    });
  });
  return { child, logs, exited, stop: (signal = 'SIGTERM') => stopChild(child, signal) };
}

/** Resolves when `path` exists; rejects when the proxy exits first or after the timeout. */
export async function waitForFile(path: string, proxy: RunningProxy, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await access(path);
      return;
    } catch {
      if (proxy.child.exitCode !== null)
        throw new Error(`meshproxy exited ${proxy.child.exitCode}: ${JSON.stringify(proxy.logs)}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${path}: ${JSON.stringify(proxy.logs)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/** Resolves with the first log line (already logged or still to come) that matches; rejects when the proxy exits first or after the timeout. */
export async function waitForLog(
  proxy: RunningProxy,
  match: (line: Record<string, unknown>) => boolean,
  timeoutMs = 90_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = proxy.logs.find(match);
    if (found !== undefined) return found;
    if (proxy.child.exitCode !== null)
      throw new Error(`meshproxy exited ${proxy.child.exitCode} before the log line: ${JSON.stringify(proxy.logs)}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for a log line: ${JSON.stringify(proxy.logs)}`);
    await new Promise<void>((resolve) => {
      proxy.child.stderr?.once('data', () => {
        resolve();
      });
      setTimeout(resolve, 100).unref();
    });
  }
}

/** Waits until the proxy logged `msg` (the ready file is written just before "ready"). */
export async function waitReady(proxy: RunningProxy, readyFile: string): Promise<void> {
  await waitForFile(readyFile, proxy);
  await waitForLog(proxy, (l) => l['msg'] === 'ready');
}
