/**
 * `npm run manifests [-- [--check] [--out DIR] [--registry R] [--runtime-hash H]]`
 *
 * Validates every manifest against the Kubernetes API schemas and writes them as YAML to
 * images/k8s/generated/. --check compares instead of writing and exits 1 when a file would change.
 */
import { Command } from 'commander';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { allManifests, DEFAULT_MANIFEST_OPTIONS } from './manifests.js';
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
    .option('--runtime-hash <hex8>', 'runtime handler hash (default: derived from the version)')
    .parse(argv, { from: 'user' });
  const o = cmd.opts<{ out: string; check: boolean; registry: string; runtimeHash?: string }>();
  const out = resolve(repoRoot(), o.out);
  const files = allManifests({
    ...DEFAULT_MANIFEST_OPTIONS,
    version: VERSION,
    registry: o.registry,
    ...(o.runtimeHash !== undefined ? { runtimeHash: o.runtimeHash } : {}),
  });
  let stale = 0;
  if (!o.check) mkdirSync(out, { recursive: true });
  for (const [file, objects] of files) {
    for (const obj of objects) validateObject(obj);
    const text = renderFile(objects);
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
