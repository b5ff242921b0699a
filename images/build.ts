/**
 * `npm run images [-- [--no-bundle] [--out DIR] [--require-all] [--installer-base REF] [--registry R] [--upstream-replacements F] [target...]]`
 *
 * Bundles the programs (unless --no-bundle), then writes one OCI layout per image target to
 * dist/images-oci/<target>, and prints each manifest digest and compressed size. Targets whose
 * program is not in the tree yet are reported as missing; naming one, or --require-all, makes that
 * an error. SOURCE_DATE_EPOCH sets the timestamps (default 0). Writes `<out>/image-replacements.txt`
 * for `contrast generate --image-replacements`, naming the built images by digest under --registry.
 *
 * --installer-base REF builds the runtime-installer image on upstream's node-installer image (skopeo
 * transport syntax: docker://host/repo@sha256:..., oci:DIR[:TAG], oci-archive:FILE[:TAG]); without it
 * that image carries no artifacts.
 */
import { Command } from 'commander';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bundlePrograms } from './bundler.js';
import { buildImage, newBuildCache } from './image-builder.js';
import { bundleEntry, programByName, type Program } from '../lib/programs.js';
import { TARGETS, targetByName, type ImageTarget } from './targets.js';
import { UnknownProgramError } from './errors.js';
import { defaultBundleDir, defaultImagesDir, repoRoot } from './paths.js';
import { ConfigError, describeError, errorMessage } from '../lib/errors.js';
import { VERSION } from '../lib/version.js';
import { tolerateClosedStdout } from './stdout.js';
import { fetchInstallerBase, InstallerBaseError, parseBaseRef, type InstallerBase } from './installer-base.js';
import { readFile } from 'node:fs/promises';
import { deriveEmbeddedHandler } from '../lib/node-install/embedded-handler.js';
import { REPLACEMENTS_FILE, replacementsText, validateRegistry, type BuiltReference } from './replacements.js';
import { DEFAULT_MANIFEST_OPTIONS } from './k8s/manifests.js';

async function run(argv: readonly string[]): Promise<number> {
  const cmd = new Command('images')
    .description('assemble the OCI images from local files, reproducibly, without a container engine')
    .option('--out <dir>', 'output directory (one OCI layout per target)')
    .option('--bundle-dir <dir>', 'bundles and addon (output of npm run bundle)')
    .option('--no-bundle', 'use the existing bundles instead of bundling first')
    .option('--require-all', "fail when a target's program is not in the tree", false)
    .option(
      '--installer-base <ref>',
      "build runtime-installer on upstream's node-installer image: docker://host/repo@sha256:..., oci:DIR[:TAG] or oci-archive:FILE[:TAG]",
    )
    .option(
      '--installer-base-insecure',
      'fetch a docker:// base without TLS verification (a registry on loopback)',
      false,
    )
    .option(
      '--installer-manifest <file>',
      "Dockerfile path: the base's install manifest, copied out of the FROM stage that provides the base layers (embeds the handler, adds no layers)",
    )
    .option(
      '--installer-base-name <ref>',
      'with --installer-manifest: the pinned base reference (name@sha256:...) for the labels',
    )
    .option(
      '--registry <prefix>',
      'where the images will be pushed, for image-replacements.txt',
      DEFAULT_MANIFEST_OPTIONS.registry,
    )
    .option('--upstream-replacements <file>', "upstream's release image list, kept for the images we do not build")
    .argument('[target...]', `targets (default: all of ${TARGETS.map((t) => t.name).join(', ')})`)
    .parse(argv, { from: 'user' });
  const opts = cmd.opts<{
    out?: string;
    bundleDir?: string;
    bundle: boolean;
    requireAll: boolean;
    installerBase?: string;
    installerBaseInsecure: boolean;
    installerManifest?: string;
    installerBaseName?: string;
    registry: string;
    upstreamReplacements?: string;
  }>();
  if (opts.installerBase !== undefined && opts.installerManifest !== undefined)
    throw new InstallerBaseError('--installer-base and --installer-manifest: expected one of them');
  // A malformed reference is refused before anything is bundled.
  if (opts.installerBase !== undefined) parseBaseRef(opts.installerBase);
  const epoch = epochFromEnv(process.env['SOURCE_DATE_EPOCH']);
  // Refused before anything is built: a bad registry or an unreadable upstream list.
  const registry = validateRegistry(opts.registry);
  const upstream =
    opts.upstreamReplacements === undefined
      ? undefined
      : { text: readUpstream(opts.upstreamReplacements), source: opts.upstreamReplacements };
  if (upstream !== undefined) replacementsText(registry, VERSION, [], upstream);
  const root = repoRoot();
  const targets: ImageTarget[] =
    cmd.args.length === 0
      ? [...TARGETS]
      : cmd.args.map((n) => {
          const t = targetByName(n);
          if (t === undefined)
            throw new UnknownProgramError(
              `unknown image target ${n}: expected one of ${TARGETS.map((x) => x.name).join(', ')}`,
            );
          return t;
        });
  const strict = opts.requireAll || cmd.args.length > 0;
  const bundleDir = resolve(root, opts.bundleDir ?? defaultBundleDir(root));
  const outDir = resolve(root, opts.out ?? defaultImagesDir(root));
  const programs = targets.map((t) => programByName(t.program)).filter((p): p is Program => p !== undefined);

  const cache = newBuildCache();
  let installerBase: InstallerBase | undefined;
  const work = opts.installerBase === undefined ? undefined : mkdtempSync(join(tmpdir(), 'contrast-installer-base-'));
  try {
    // The base first: a bad one fails before anything is bundled.
    if (opts.installerBase !== undefined && work !== undefined && targets.some((t) => t.name === 'runtime-installer')) {
      installerBase = await fetchInstallerBase(opts.installerBase, {
        workDir: work,
        tlsVerify: !opts.installerBaseInsecure,
      });
      process.stdout.write(
        `base     runtime-installer  ${installerBase.ref.text} (${installerBase.digest}), ${installerBase.layers.length} layers, runtime hash ${installerBase.embedded.runtimeHash}${installerBase.embedded.snapshotter === undefined ? '' : `, snapshotter ${installerBase.embedded.snapshotter}`}\n`,
      );
    }
    if (opts.installerManifest !== undefined)
      installerBase = await installerBaseFromManifest(opts.installerManifest, opts.installerBaseName);
    if (opts.bundle) await bundlePrograms({ root, outDir: bundleDir, programs, requireAll: strict });
    const built = await buildTargets(targets, { strict, bundleDir, outDir, epoch, cache, installerBase });
    writeReplacements(outDir, registry, built, upstream);
  } finally {
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  }
  return 0;
}

async function buildTargets(
  targets: readonly ImageTarget[],
  o: {
    strict: boolean;
    bundleDir: string;
    outDir: string;
    epoch: number;
    cache: ReturnType<typeof newBuildCache>;
    installerBase: InstallerBase | undefined;
  },
): Promise<BuiltReference[]> {
  const { strict, bundleDir, outDir, epoch, cache, installerBase } = o;
  const built: BuiltReference[] = [];
  for (const target of targets) {
    const program = programByName(target.program);
    if (!strict && (program === undefined || !existsSync(join(bundleDir, target.program, bundleEntry(program))))) {
      process.stdout.write(
        `missing  ${target.name.padEnd(18)} program ${target.program} is not in the tree yet: no image\n`,
      );
      continue;
    }
    const image = await buildImage(target, {
      bundleDir,
      outDir,
      version: VERSION,
      epoch,
      cache,
      ...(installerBase === undefined ? {} : { installerBase }),
    });
    process.stdout.write(
      `built    ${target.name.padEnd(18)} ${image.manifest.digest}  ${(image.compressedBytes / 1e6).toFixed(1)} MB compressed  oci:${image.dir}:${target.name}\n`,
    );
    if (target.name === 'runtime-installer' && installerBase === undefined) {
      process.stdout.write(
        `note     runtime-installer  carries no Kata artifacts: build it with --installer-base docker://ghcr.io/edgelesssys/contrast/node-installer-kata@sha256:<digest> to deploy it\n`,
      );
    }
    built.push({ target: target.name, digest: image.manifest.digest });
  }
  return built;
}

/** `<out>/image-replacements.txt` for `contrast generate --image-replacements`, written atomically. */
function writeReplacements(
  outDir: string,
  registry: string,
  built: readonly BuiltReference[],
  upstream: { text: string; source: string } | undefined,
): void {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, REPLACEMENTS_FILE);
  writeFileSync(`${file}.tmp`, replacementsText(registry, VERSION, built, upstream));
  renameSync(`${file}.tmp`, file);
  process.stdout.write(
    `wrote    ${file} (contrast generate --image-replacements; push each image to ${registry}/<target>:${VERSION})\n`,
  );
}

/**
 * The Dockerfile's way: the base's layers come from its `FROM <base> AS artifacts` stage, so only the
 * handler is derived here, from the manifest copied out of that stage; no layers are added.
 */
async function installerBaseFromManifest(file: string, name: string | undefined): Promise<InstallerBase> {
  const digest = /@(sha256:[0-9a-f]{64})$/.exec(name ?? '')?.[1];
  if (name === undefined || digest === undefined)
    throw new InstallerBaseError(
      `--installer-base-name ${name ?? '(missing)'}: expected the base pinned by digest, name@sha256:<64 hex digits>`,
    );
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new InstallerBaseError(`--installer-manifest ${file}: ${errorMessage(err)}`, { cause: err });
  }
  let embedded;
  try {
    embedded = deriveEmbeddedHandler(bytes, file);
  } catch (err) {
    throw new InstallerBaseError(errorMessage(err), { cause: err });
  }
  return {
    ref: { text: name, transport: 'docker', digest },
    digest,
    layers: [],
    configDir: '/config',
    manifestBytes: bytes,
    embedded,
  };
}

function readUpstream(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`--upstream-replacements ${path}: cannot read it (${errorMessage(err)})`]);
  }
}

function epochFromEnv(value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  if (!/^\d+$/.test(value)) throw new ConfigError([`SOURCE_DATE_EPOCH=${value}: expected seconds since the epoch`]);
  return Number(value);
}

tolerateClosedStdout();
run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`images: ${describeError(err)}\n`);
    process.exitCode = 1;
  },
);
