/**
 * Our own small executables that images carry outside the program bundles, built from C in
 * `native/<name>/` by the Makefile there (no libc, static, the same bytes on every build). Today one:
 * `sleep`, which ends on SIGTERM also as a container's PID 1 (native/sleep/sleep.c says why).
 * `npm run build` builds them; the image build runs the same `make` (a no-op when up to date), so an
 * image never carries a binary older than its source.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OwnBinaryError } from './errors.js';
import { errorMessage } from '../lib/errors.js';

/** Name -> the directory (relative to the repository root) whose Makefile builds `build/<name>`. */
export const OWN_BINARIES = Object.freeze({ sleep: 'native/sleep' });
export type OwnBinaryName = keyof typeof OWN_BINARIES;

/** Host path of the built binary, relative to the repository root. */
export function ownBinaryPath(name: OwnBinaryName): string {
  return join(OWN_BINARIES[name], 'build', name);
}

/** Runs the binary's Makefile (up to date: nothing to do) and returns its bytes. */
export function buildOwnBinary(root: string, name: OwnBinaryName): Buffer {
  const dir = join(root, OWN_BINARIES[name]);
  try {
    execFileSync('make', ['-s', '-C', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString('utf8').trim() ?? '';
    throw new OwnBinaryError(
      `make -C ${dir} failed (make and cc installed?): ${stderr === '' ? errorMessage(err) : stderr}`,
      { cause: err },
    );
  }
  return readFileSync(join(root, ownBinaryPath(name)));
}
