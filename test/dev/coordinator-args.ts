/** Starting `contrast-dev coordinator` in a test: a manifest for one insecure workload and the arguments. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Writes `<dir>/manifest.json` (the workload with host data `host` gets SAN `web`; insecure attestation
 * allowed) and returns the `contrast-dev` arguments of a Coordinator serving it on a free loopback port
 * with state in `stateDir`.
 */
export async function devCoordinatorArgs(dir: string, host: string, stateDir: string): Promise<string[]> {
  const manifest = join(dir, 'manifest.json');
  await writeFile(
    manifest,
    JSON.stringify({ policies: { [host]: { sans: ['web'] } }, referenceValues: { allowInsecure: true } }),
  );
  return ['coordinator', '--listen', '127.0.0.1:0', '--manifest', manifest, '--state-dir', stateDir];
}
