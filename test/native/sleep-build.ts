/**
 * Builds our sleep (native/sleep) into a directory of the test's own with the Makefile that `npm run
 * build` and the image build use, so that tests never race over native/sleep/build.
 */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const SLEEP_SOURCE = resolve(fileURLToPath(new URL('../../native/sleep', import.meta.url)));

/** Runs the Makefile with OUT=out and returns the path of the binary. */
export async function buildSleep(out: string): Promise<string> {
  await run('make', ['-s', '-C', SLEEP_SOURCE, `OUT=${out}`]);
  return join(out, 'sleep');
}
