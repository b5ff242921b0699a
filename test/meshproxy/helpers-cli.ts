/** Runs contrast-meshproxy from source (tsx) with a given environment. */
import { execFile, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../meshproxy/main.ts', import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Limits how many CLI processes run at once (ava starts every test of a file concurrently). */
export function limiter(max: number): <T>(job: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(job: () => Promise<T>): Promise<T> => {
    if (running >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    running += 1;
    try {
      return await job();
    } finally {
      running -= 1;
      waiting.shift()?.();
    }
  };
}

export function runCli(args: readonly string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import=tsx', MAIN, ...args],
      { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CONTRAST_LOG_FORMAT: 'json', ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * The child's stderr as parsed JSON log lines, appended as they arrive (a line that is not JSON as
 * `{ msg: line }`); `onData` runs after each chunk's lines are in.
 */
export function collectJsonLog(child: ChildProcess, onData?: () => void): Record<string, unknown>[] {
  const logs: Record<string, unknown>[] = [];
  let buf = '';
  child.stderr?.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const l of lines) {
      try {
        logs.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        logs.push({ msg: l });
      }
    }
    onData?.();
  });
  return logs;
}
