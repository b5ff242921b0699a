/**
 * `npm run images [-- [--no-bundle] [--out DIR] [--require-all] [--registry R] [--upstream-replacements F] [target...]]`
 *
 * Bundles the programs (unless --no-bundle), then writes one OCI layout per image target to
 * dist/images-oci/<target>, and prints each manifest digest and compressed size. Targets whose
 * program is not in the tree yet are reported as missing; naming one, or --require-all, makes that
 * an error. SOURCE_DATE_EPOCH sets the timestamps (default 0). Writes `<out>/image-replacements.txt`
 * for `contrast generate --image-replacements`, naming the built images by digest under --registry.
 */
import { Command } from 'commander';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bundlePrograms } from './bundler.js';
import { buildImage, newBuildCache } from './image-builder.js';
import { bundleEntry, programByName, type Program } from './programs.js';
import { TARGETS, targetByName, type ImageTarget } from './targets.js';
import { UnknownProgramError } from './errors.js';
import { defaultBundleDir, defaultImagesDir, repoRoot } from './paths.js';
import { ConfigError, describeError } from '../lib/errors.js';
import { VERSION } from '../port-forwarder/version.js';
import { tolerateClosedStdout } from './stdout.js';
import { REPLACEMENTS_FILE, replacementsText, validateRegistry, type BuiltReference } from './replacements.js';
import { DEFAULT_MANIFEST_OPTIONS } from './k8s/manifests.js';

async function run(argv: readonly string[]): Promise<number> {
  const cmd = new Command('images')
    .description('assemble the OCI images from local files, reproducibly, without a container engine')
    .option('--out <dir>', 'output directory (one OCI layout per target)')
    .option('--bundle-dir <dir>', 'bundles and addon (output of npm run bundle)')
    .option('--no-bundle', 'use the existing bundles instead of bundling first')
    .option('--require-all', 'fail when a target\'s program is not in the tree', false)
    .option('--registry <prefix>', 'where the images will be pushed, for image-replacements.txt', DEFAULT_MANIFEST_OPTIONS.registry)
    .option('--upstream-replacements <file>', 'upstream\'s release image list, kept for the images we do not build')
    .argument('[target...]', `targets (default: all of ${TARGETS.map((t) => t.name).join(', ')})`)
    .parse(argv, { from: 'user' });
  const opts = cmd.opts<{ out?: string; bundleDir?: string; bundle: boolean; requireAll: boolean; registry: string; upstreamReplacements?: string }>();
  const epoch = epochFromEnv(process.env['SOURCE_DATE_EPOCH']);
  // Refused before anything is built: a bad registry or an unreadable upstream list.
  const registry = validateRegistry(opts.registry);
  const upstream = opts.upstreamReplacements === undefined ? undefined : { text: readUpstream(opts.upstreamReplacements), source: opts.upstreamReplacements };
  if (upstream !== undefined) replacementsText(registry, VERSION, [], upstream);
  const root = repoRoot();
  const targets: ImageTarget[] = cmd.args.length === 0 ? [...TARGETS] : cmd.args.map((n) => {
    const t = targetByName(n);
    if (t === undefined) throw new UnknownProgramError(`unknown image target ${n}: expected one of ${TARGETS.map((x) => x.name).join(', ')}`);
    return t;
  });
  const strict = opts.requireAll || cmd.args.length > 0;
  const bundleDir = resolve(root, opts.bundleDir ?? defaultBundleDir(root));
  const outDir = resolve(root, opts.out ?? defaultImagesDir(root));
  const programs = targets.map((t) => programByName(t.program)).filter((p): p is Program => p !== undefined);
  if (opts.bundle) await bundlePrograms({ root, outDir: bundleDir, programs, requireAll: strict });

  const cache = newBuildCache();
  const built: BuiltReference[] = [];
  for (const target of targets) {
    const program = programByName(target.program);
    if (!strict && (program === undefined || !existsSync(join(bundleDir, target.program, bundleEntry(program))))) {
      process.stdout.write(`missing  ${target.name.padEnd(18)} program ${target.program} is not in the tree yet: no image\n`);
      continue;
    }
    const image = await buildImage(target, { bundleDir, outDir, version: VERSION, epoch, cache });
    process.stdout.write(`built    ${target.name.padEnd(18)} ${image.manifest.digest}  ${(image.compressedBytes / 1e6).toFixed(1)} MB compressed  oci:${image.dir}:${target.name}\n`);
    built.push({ target: target.name, digest: image.manifest.digest });
  }
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, REPLACEMENTS_FILE);
  writeFileSync(`${file}.tmp`, replacementsText(registry, VERSION, built, upstream));
  renameSync(`${file}.tmp`, file);
  process.stdout.write(`wrote    ${file} (contrast generate --image-replacements; push each image to ${registry}/<target>:${VERSION})\n`);
  return 0;
}

function readUpstream(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`--upstream-replacements ${path}: cannot read it (${(err as Error).message})`]);
  }
}

function epochFromEnv(value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  if (!/^\d+$/.test(value)) throw new ConfigError([`SOURCE_DATE_EPOCH=${value}: expected seconds since the epoch`]);
  return Number(value);
}

tolerateClosedStdout();
run(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`images: ${describeError(err)}\n`);
    process.exitCode = 1;
  },
);
