/**
 * `npm run manifests [-- [--check] [--out DIR] [--registry R] [--runtime-hash H]]`
 *
 * Validates every manifest against the Kubernetes API schemas and writes them as YAML to
 * images/k8s/generated/. --check compares instead of writing and exits 1 when a file would change.
 */
import { Command } from 'commander';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { allManifests, DEFAULT_MANIFEST_OPTIONS, fileComment } from './manifests.js';
import { readInstallerImage } from './installer-image.js';
import { platformByName } from './platforms.js';
import { DEFAULT_SNAPSHOTTER_IMAGES } from './runtime.js';
import { UnknownProgramError } from '../errors.js';
import { renderFile } from './render.js';
import { validateObject } from './validate.js';
import { repoRoot } from '../paths.js';
import { describeError } from '../../lib/errors.js';
import { VERSION } from '../../lib/version.js';
import { tolerateClosedStdout } from '../stdout.js';

function run(argv: readonly string[]): number {
  const cmd = new Command('manifests')
    .description('generate and validate the Kubernetes manifests')
    .option('--out <dir>', 'output directory', 'images/k8s/generated')
    .option('--check', 'fail if the files on disk differ from what would be generated', false)
    .option('--registry <prefix>', 'image registry and path prefix', DEFAULT_MANIFEST_OPTIONS.registry)
    .option(
      '--runtime-hash <hex8>',
      'runtime handler hash (default: derived from the version; an --installer-image carries its own)',
    )
    .option(
      '--installer-image <layout>',
      'the runtime-installer OCI layout npm run images wrote: its handler, snapshotter, base and digest go into the runtime YAML',
    )
    .option(
      '--platforms <list>',
      'runtime files for these platforms, comma-separated (default: Metal-QEMU-*, or the seed platforms of a snapshotter image)',
    )
    .option(
      '--snapshotter-image <kind=image>',
      'image of a snapshotter sidecar, e.g. nydus=ghcr.io/...@sha256:... (repeatable)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .parse(argv, { from: 'user' });
  const o = cmd.opts<{
    out: string;
    check: boolean;
    registry: string;
    runtimeHash?: string;
    installerImage?: string;
    platforms?: string;
    snapshotterImage: string[];
  }>();
  const out = resolve(repoRoot(), o.out);
  const platforms = o.platforms?.split(',').map((n) => {
    const p = platformByName(n.trim());
    if (p === undefined) throw new UnknownProgramError(`--platforms ${n}: unknown platform`);
    return p;
  });
  const snapshotterImages = { ...DEFAULT_SNAPSHOTTER_IMAGES };
  for (const kv of o.snapshotterImage) {
    const [kind, img] = [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)];
    if ((kind !== 'tardev' && kind !== 'nydus') || img === '')
      throw new UnknownProgramError(`--snapshotter-image ${kv}: expected tardev=IMAGE or nydus=IMAGE`);
    snapshotterImages[kind] = img;
  }
  const options = {
    ...DEFAULT_MANIFEST_OPTIONS,
    version: VERSION,
    registry: o.registry,
    ...(o.runtimeHash !== undefined ? { runtimeHash: o.runtimeHash } : {}),
    installer: o.installerImage === undefined ? undefined : readInstallerImage(resolve(o.installerImage)),
    platforms,
    snapshotterImages,
  };
  const files = allManifests(options);
  let stale = 0;
  if (!o.check) mkdirSync(out, { recursive: true });
  for (const [file, objects] of files) {
    for (const obj of objects) validateObject(obj);
    const text = renderFile(objects, fileComment(file, options));
    const path = join(out, file);
    if (o.check) {
      const same = existsSync(path) && readFileSync(path, 'utf8') === text;
      if (!same) {
        stale++;
        process.stdout.write(`stale    ${path}\n`);
      }
    } else {
      writeFileSync(path, text);
      process.stdout.write(`wrote    ${path} (${objects.map((x) => x.kind).join(', ')})\n`);
    }
  }
  if (o.check && existsSync(out)) {
    for (const f of readdirSync(out)) {
      if (!files.has(f)) {
        stale++;
        process.stdout.write(`unknown  ${join(out, f)}\n`);
      }
    }
  }
  return stale === 0 ? 0 : 1;
}

tolerateClosedStdout();
try {
  process.exitCode = run(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`manifests: ${describeError(err)}\n`);
  process.exitCode = 1;
}
