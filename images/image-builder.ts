/**
 * Assembles one image target from local files, without a container engine:
 *
 *   layer 1 "node":    the pinned Node binary (stripped) and its LICENSE, the shared libraries it
 *                      needs, the merged-/usr links, /tmp; identical for every target, so registries store it once.
 *   layer 2 "program": the target's tools (iptables, test) with their libraries, our own executables
 *                      (images/own-binaries.ts: sleep), the program's bundle directory (entry,
 *                      chunks, addon), the launchers (/bin/<entry point>), the version file (the
 *                      programs have theirs inlined from lib/version.ts).
 *
 * Reproducible: entries sorted, fixed mtime and owners, gzip without timestamp or name.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { LayerContents, writeTar } from './tar.js';
import { addBinaryWithLibraries, addHostPath, addPluginDirectory, sharedLibraries } from './host-files.js';
import { sha256, writeImageLayout, type LayerBlob, type WrittenImage } from './oci.js';
import { pinnedNode } from './node-runtime.js';
import { BUNDLE_DIR, NODE_LICENSE_PATH, NODE_PATH, launcherScript, type ImageTarget } from './targets.js';
import { ADDON_FILE, bundleEntry, programByName } from '../lib/programs.js';
import { HostFileError, ImageTooLargeError, ProgramMissingError } from './errors.js';
import { errorMessage } from '../lib/errors.js';
import type { InstallerBase } from './installer-base.js';
import { EMBEDDED_HANDLER_PATH, LABELS, serializeEmbeddedHandler } from '../lib/node-install/embedded-handler.js';
import { LICENCE_INDEX, OWN_LICENCE, debianOwners } from './licences.js';
import { repoRoot } from './paths.js';
import { OWN_BINARIES, buildOwnBinary } from './own-binaries.js';

/**
 * Upper bound for one image, compressed (issue 8: 45 MB on Node 20; 50 MB with Node 26, whose binary is
 * 42 MB compressed). 55 MB since the images also carry what upstream's pod specs run in them and the
 * licence texts: the initializer's secure-pv tools (cryptsetup with libcrypto, e2fsprogs, mount), bash,
 * busybox and our sleep make its own layer 6.8 MB, the port-forwarder's bash and socat 4.0 MB.
 */
export const MAX_COMPRESSED_BYTES = 55 * 1000 * 1000;

export interface BuildOptions {
  /** Output of the bundler: `<program>/` with its entry, code and the addon. */
  readonly bundleDir: string;
  /** The OCI layout is written to `<outDir>/<target>`. */
  readonly outDir: string;
  /** The suite's version (labels, version file). */
  readonly version: string;
  /** mtime of every entry and the `created` time, seconds (SOURCE_DATE_EPOCH). */
  readonly epoch: number;
  /** Node binary and its licence text; default the pinned one (images/node-runtime.ts). */
  readonly node?: { readonly binary: string; readonly license: string };
  /** Strip the Node binary's symbol tables (`strip --strip-all`); default true. */
  readonly strip?: boolean;
  readonly maxCompressedBytes?: number;
  /** Work shared by the targets of one build run (the node layer, gzip results by diff_id). */
  readonly cache?: BuildCache;
  /**
   * runtime-installer only: upstream's node-installer image whose layers (artifacts, install manifest)
   * this image keeps below its own; the handler derived from its manifest is embedded.
   */
  readonly installerBase?: InstallerBase;
}

export interface BuildCache {
  base?: LayerContents;
  readonly gzip: Map<string, Buffer>;
}

export function newBuildCache(): BuildCache {
  return { gzip: new Map() };
}

export interface BuiltImage extends WrittenImage {
  readonly target: string;
  readonly dir: string;
  readonly entries: readonly number[];
}

export async function buildImage(target: ImageTarget, options: BuildOptions): Promise<BuiltImage> {
  const bundle = join(options.bundleDir, target.program);
  const program = programByName(target.program);
  if (program === undefined)
    throw new ProgramMissingError(`${target.name}: program ${target.program} is not in lib/programs.ts`);
  const entry = join(bundle, bundleEntry(program));
  const addon = join(bundle, ADDON_FILE);
  if (!existsSync(entry))
    throw new ProgramMissingError(
      `${target.name}: bundle ${entry} missing: expected npm run bundle to have built ${target.program}`,
    );
  if (!existsSync(addon))
    throw new ProgramMissingError(`${target.name}: addon ${addon} missing: expected npm run bundle to have copied it`);

  const cache = options.cache ?? newBuildCache();
  cache.base ??= nodeLayer(options);
  const base = cache.base;
  const installerBase = target.name === 'runtime-installer' ? options.installerBase : undefined;
  const layer = programLayer(target, base, bundle, options.version);
  if (installerBase !== undefined) {
    layer.add({
      type: 'file',
      path: EMBEDDED_HANDLER_PATH.slice(1),
      mode: 0o644,
      data: Buffer.from(serializeEmbeddedHandler(installerBase.embedded)),
    });
  }
  addLicences(layer, base, options.node ?? pinnedNode(), target);
  const blobs = [
    compress(base, options.epoch, 'node runtime: /usr/bin/node and its shared libraries', cache.gzip),
    compress(
      layer,
      options.epoch,
      `${target.name}: tools, ${BUNDLE_DIR}/${target.program}/ (bundle, addon), launchers`,
      cache.gzip,
    ),
  ];
  // The budget covers our layers; the base's artifacts are upstream's.
  const compressed = blobs.reduce((n, b) => n + b.gzip.length, 0);
  const max = options.maxCompressedBytes ?? MAX_COMPRESSED_BYTES;
  if (compressed > max)
    throw new ImageTooLargeError(`${target.name}: ${compressed} bytes compressed, expected at most ${max}`);

  const baseBlobs: LayerBlob[] = (installerBase?.layers ?? []).map((l, i) => ({
    gzip: Buffer.alloc(0),
    diffId: l.diffId,
    createdBy: `installer base ${installerBase?.ref.text ?? ''}: layer ${i + 1}`,
    base: { file: l.file, digest: l.digest, size: l.size, mediaType: l.mediaType },
  }));
  const dir = join(options.outDir, target.name);
  const written = await writeImageLayout(dir, target.name, [...baseBlobs, ...blobs], {
    entrypoint: [`/bin/${target.launchers[0] ?? target.program}`],
    cmd: target.cmd,
    env: installerBase === undefined ? target.env : { ...target.env, CONFIG_DIR: installerBase.configDir },
    labels: {
      'org.opencontainers.image.title': `contrast-${target.name}`,
      'org.opencontainers.image.version': options.version,
      'org.opencontainers.image.description': `Contrast ${target.name} (TypeScript), assembled by images/build.ts`,
      ...(target.name === 'runtime-installer' ? installerLabels(installerBase) : {}),
    },
    created: options.epoch,
  });
  return { ...written, target: target.name, dir, entries: [base.size, layer.size] };
}

/** Labels of the runtime-installer image: the base it was built on and the handler it installs. */
function installerLabels(b: InstallerBase | undefined): Record<string, string> {
  if (b === undefined) return { [LABELS.artifacts]: 'false' };
  return {
    [LABELS.artifacts]: 'true',
    [LABELS.baseName]: b.ref.text,
    [LABELS.baseDigest]: b.digest,
    [LABELS.runtimeHash]: b.embedded.runtimeHash,
    ...(b.embedded.runtimeHandlerName === undefined
      ? {}
      : { [LABELS.runtimeHandlerName]: b.embedded.runtimeHandlerName }),
    ...(b.embedded.snapshotter === undefined ? {} : { [LABELS.snapshotter]: b.embedded.snapshotter }),
  };
}

function nodeLayer(options: BuildOptions): LayerContents {
  const layer = new LayerContents();
  for (const [link, to] of [
    ['bin', 'usr/bin'],
    ['sbin', 'usr/sbin'],
    ['lib', 'usr/lib'],
    ['lib64', 'usr/lib64'],
  ] as const) {
    layer.add({ type: 'symlink', path: link, target: to });
  }
  layer.add({ type: 'dir', path: 'tmp', mode: 0o1777 });
  for (const d of ['etc', 'proc', 'sys', 'dev', 'run', 'var/tmp']) layer.add({ type: 'dir', path: d, mode: 0o755 });
  layer.add({ type: 'file', path: 'etc/nsswitch.conf', mode: 0o644, data: Buffer.from('hosts: files dns\n') });
  layer.add({
    type: 'file',
    path: 'etc/passwd',
    mode: 0o644,
    data: Buffer.from('root:x:0:0:root:/root:/usr/sbin/nologin\n'),
  });
  layer.add({ type: 'file', path: 'etc/group', mode: 0o644, data: Buffer.from('root:x:0:\n') });
  const node = options.node ?? pinnedNode();
  const data = options.strip === false ? readFileSync(node.binary) : strippedCopy(node.binary);
  layer.add({ type: 'file', path: NODE_PATH, mode: 0o755, data });
  layer.add({ type: 'file', path: NODE_LICENSE_PATH, mode: 0o644, data: readFileSync(node.license) });
  for (const lib of sharedLibraries(node.binary)) addHostPath(layer, lib);
  for (const copyright of licenceFiles(hostFilesIn(layer), node).values())
    if (!copyright.inImage) addHostPath(layer, copyright.file);
  return layer;
}

function programLayer(target: ImageTarget, base: LayerContents, bundle: string, version: string): LayerContents {
  const layer = new LayerContents(base);
  for (const tool of target.tools) addBinaryWithLibraries(layer, tool);
  for (const dir of target.pluginDirs) addPluginDirectory(layer, dir);
  for (const file of target.hostFiles) addHostPath(layer, file);
  for (const [path, to] of Object.entries(target.links)) layer.add({ type: 'symlink', path, target: to });
  for (const [path, name] of Object.entries(target.ownBinaries))
    layer.add({ type: 'file', path, mode: 0o755, data: buildOwnBinary(repoRoot(), name) });
  for (const [path, content] of Object.entries(target.files))
    layer.add({ type: 'file', path, mode: 0o644, data: Buffer.from(content) });
  // Every file of the bundle directory (the bundler empties it first): entry, chunks, addon, assets.
  for (const name of readdirSync(bundle).sort()) {
    layer.add({
      type: 'file',
      path: `${BUNDLE_DIR}/${target.program}/${name}`,
      mode: name.endsWith('.node') ? 0o755 : 0o644,
      data: readFileSync(join(bundle, name)),
    });
  }
  for (const launcher of target.launchers) {
    layer.add({
      type: 'file',
      path: `usr/bin/${launcher}`,
      mode: 0o755,
      data: Buffer.from(launcherScript(target.program)),
    });
  }
  layer.add({
    type: 'file',
    path: 'usr/share/misc/contrast/version.txt',
    mode: 0o644,
    data: Buffer.from(`${version}\n`),
  });
  return layer;
}

/** In-image paths of the files copied from this machine (everything but our own files). */
function hostFilesIn(layer: LayerContents, ours: ReadonlySet<string> = new Set()): string[] {
  return layer
    .sorted()
    .filter((e) => e.type === 'file')
    .map((e) => `/${e.path}`)
    .filter((p) => /^\/usr\/(s?bin|lib|lib64)\//.test(p) || p === '/etc/protocols')
    .filter((p) => !p.startsWith(`${BUNDLE_DIR}/`) && !p.startsWith('/usr/share/') && !ours.has(p));
}

/** A licence text: a host file copied into the image at its own path, or (`inImage`) already there. */
interface LicenceSource {
  readonly file: string;
  readonly component: string;
  readonly inImage?: boolean;
}

interface NodeFiles {
  readonly binary: string;
  readonly license: string;
  readonly version?: string;
}

/** Licence file per in-image host file: its Debian package's copyright, or the pinned Node's LICENSE. */
function licenceFiles(files: readonly string[], node: NodeFiles): Map<string, LicenceSource> {
  const asked = files.map((f) => (f === NODE_PATH ? node.binary : f));
  const owners = debianOwners(asked);
  const out = new Map<string, LicenceSource>();
  files.forEach((f, i) => {
    const owner = owners.get(asked[i] ?? f);
    if (owner !== undefined) {
      if (!existsSync(owner.copyright))
        throw new HostFileError(`${f}: Debian package ${owner.pkg} has no ${owner.copyright} on this machine`);
      out.set(f, { file: owner.copyright, component: `${owner.pkg} ${owner.version} (Debian)` });
    } else if (f === NODE_PATH) {
      // The node-runtime layer carries it at NODE_LICENSE_PATH.
      out.set(f, {
        file: NODE_LICENSE_PATH,
        component: `Node.js ${node.version ?? process.versions.node}`,
        inImage: true,
      });
    } else {
      throw new HostFileError(`${f}: no Debian package owns it: expected a licence text to ship in the image`);
    }
  });
  return out;
}

/**
 * The licence texts of what the program layer adds (Debian copyright files of its tools and
 * libraries), the suite's LICENSE, and the index of every component in both layers.
 */
function addLicences(layer: LayerContents, base: LayerContents, node: NodeFiles, target: ImageTarget): void {
  const program = target.program;
  const own = Object.entries(target.ownBinaries).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const ours = new Set([...target.launchers.map((l) => `/usr/bin/${l}`), ...own.map(([path]) => path)]);
  const all = licenceFiles([...new Set([...hostFilesIn(base), ...hostFilesIn(layer, ours)])].sort(), node);
  for (const source of all.values()) if (source.inImage !== true) addHostPath(layer, source.file);
  const licence = join(repoRoot(), 'LICENSE');
  if (!existsSync(licence)) throw new HostFileError(`${licence} missing: expected the suite's licence text`);
  layer.add({ type: 'file', path: OWN_LICENCE, mode: 0o644, data: readFileSync(licence) });
  const lines = [
    'Licences of everything in this image.',
    '',
    `Our code (${BUNDLE_DIR}/, launchers, the addon contrast_native.node): Apache-2.0, /${OWN_LICENCE}`,
    `npm packages bundled into ${BUNDLE_DIR}/${program}/: ${BUNDLE_DIR}/${program}/THIRD-PARTY-LICENSES.txt`,
    '',
    ...(own.length === 0
      ? []
      : [
          'Our own executables, built from native/ without libc (file <TAB> source <TAB> licence text):',
          ...own.map(
            ([path, name]) => `${path}\tcontrast ${name} (${OWN_BINARIES[name]}, Apache-2.0)\t/${OWN_LICENCE}`,
          ),
          '',
        ]),
    'Files copied from Debian packages (file <TAB> package <TAB> licence text):',
    ...[...all].map(([file, source]) => `${file}\t${source.component}\t${source.file}`),
    '',
  ];
  layer.add({ type: 'file', path: LICENCE_INDEX, mode: 0o644, data: Buffer.from(lines.join('\n')) });
}

function compress(layer: LayerContents, epoch: number, createdBy: string, cache: Map<string, Buffer>): LayerBlob {
  const tar = writeTar(layer.sorted(), epoch);
  const diffId = sha256(tar);
  let gzip = cache.get(diffId);
  if (gzip === undefined) {
    gzip = gzipSync(tar, { level: 6 });
    cache.set(diffId, gzip);
  }
  return { gzip, diffId, createdBy };
}

/** `strip --strip-all` of `binary`: what the images carry (`.dynsym` stays, so the addon still links). */
export function strippedCopy(binary: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'contrast-strip-'));
  try {
    const out = join(dir, 'node');
    try {
      execFileSync('strip', ['--strip-all', '-o', out, binary], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      throw new HostFileError(`strip --strip-all ${binary} failed (binutils installed?): ${errorMessage(err)}`, {
        cause: err,
      });
    }
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
