/**
 * Every image target built into `work`: the programs in the tree from their bundles, any program not in
 * the tree yet from a stand-in bundle (test/images/fixtures/stand-in.ts), so that each image can be
 * built and run. Shared by the tests that run the images' tools and upstream's commands under runc.
 */
import { cpSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundlePrograms } from '../../images/bundler.js';
import { buildImage, newBuildCache, type BuiltImage } from '../../images/image-builder.js';
import { TARGETS } from '../../images/targets.js';
import { PROGRAMS, type Program } from '../../lib/programs.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export async function buildWithStandIns(work: string): Promise<Map<string, BuiltImage>> {
  const bundleDir = join(work, 'bundle');
  const standIn = {
    name: 'port-forwarder',
    entry: 'test/images/fixtures/stand-in.ts',
    bin: 'x',
    assets: [],
    layout: 'esm-split',
  } as unknown as Program;
  await bundlePrograms({ root: ROOT, outDir: join(work, 'stand-in'), programs: [standIn] });
  const real = PROGRAMS.filter((p) => existsSync(join(ROOT, p.entry)));
  await bundlePrograms({ root: ROOT, outDir: bundleDir, programs: real });
  for (const p of PROGRAMS) {
    if (!real.includes(p))
      cpSync(join(work, 'stand-in', 'port-forwarder'), join(bundleDir, p.name), { recursive: true });
  }
  const images = new Map<string, BuiltImage>();
  const cache = newBuildCache();
  for (const target of TARGETS) {
    images.set(
      target.name,
      await buildImage(target, { bundleDir, outDir: join(work, 'oci'), version: '0.0.0-test', epoch: 0, cache }),
    );
  }
  return images;
}
