/**
 * The base of the runtime-installer image: upstream's node-installer image (its layers carry the Kata,
 * QEMU and OVMF artifacts and the install manifest `/config/contrast-node-install.json`), given by
 * digest in skopeo's transport syntax. skopeo copies it into an OCI layout; umoci unpacks it once so
 * that the manifest can be read and checked at build time (every `file://` source exists in the image,
 * SRI digests match); the runtime handler is derived from that manifest here, once.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readFile, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { ContrastError, errorMessage } from '../lib/errors.js';
import { parseManifest } from '../lib/node-install/manifest.js';
import { embeddedHandlerOf, type EmbeddedHandler } from '../lib/node-install/embedded-handler.js';

const run = promisify(execFile);

/** The base image is unusable: bad reference, fetch failed, manifest missing or inconsistent. */
export class InstallerBaseError extends ContrastError {
  readonly code = 'ERR_INSTALLER_BASE';
}

export const MANIFEST_NAME = 'contrast-node-install.json';

export interface BaseRef {
  /** As given, e.g. `docker://ghcr.io/edgelesssys/contrast/node-installer-kata@sha256:…`. */
  readonly text: string;
  readonly transport: 'docker' | 'oci' | 'oci-archive';
  /** The pinned digest for docker:// references. */
  readonly digest: string | undefined;
}

/** Validates the reference: docker:// must carry a digest (a tag can move), oci: and oci-archive: a path. */
export function parseBaseRef(text: string): BaseRef {
  const docker = /^docker:\/\/([^@\s]+)@(sha256:[0-9a-f]{64})$/.exec(text);
  if (docker !== null) return { text, transport: 'docker', digest: docker[2] };
  if (text.startsWith('docker://')) {
    throw new InstallerBaseError(
      `--installer-base ${text}: expected a digest, docker://host/repo@sha256:<64 hex digits> (a tag can move; the base is pinned by digest)`,
    );
  }
  const local = /^(oci|oci-archive):([^:\s]+)(?::[^\s]*)?$/.exec(text);
  if (local !== null) return { text, transport: local[1] as 'oci' | 'oci-archive', digest: undefined };
  throw new InstallerBaseError(
    `--installer-base ${text}: expected skopeo transport syntax: docker://host/repo@sha256:<digest>, oci:DIR[:TAG] or oci-archive:FILE[:TAG]`,
  );
}

export interface BaseLayer {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  /** The blob in the fetched layout. */
  readonly file: string;
  readonly diffId: string;
}

export interface InstallerBase {
  readonly ref: BaseRef;
  /** What the image records: the pinned digest (docker://) or the fetched manifest's digest. */
  readonly digest: string;
  readonly layers: readonly BaseLayer[];
  /** The base image's CONFIG_DIR (default /config). */
  readonly configDir: string;
  readonly manifestBytes: Buffer;
  readonly embedded: EmbeddedHandler;
}

interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** Fetches `ref` with skopeo into `workDir` and checks what it carries. */
export async function fetchInstallerBase(
  refText: string,
  opts: { workDir: string; tlsVerify?: boolean },
): Promise<InstallerBase> {
  const ref = parseBaseRef(refText);
  const layout = join(opts.workDir, 'base-layout');
  await mkdir(opts.workDir, { recursive: true });
  const args = [
    'copy',
    '--quiet',
    ...(opts.tlsVerify === false && ref.transport === 'docker' ? ['--src-tls-verify=false'] : []),
    ref.text,
    `oci:${layout}:base`,
  ];
  try {
    await run('skopeo', args, { maxBuffer: 16 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new InstallerBaseError(`skopeo ${args.join(' ')}: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
  const blob = (d: string) => join(layout, 'blobs', ...d.split(':'));
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
    manifests: (OciDescriptor & { annotations?: Record<string, string> })[];
  };
  const desc =
    index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'base') ?? index.manifests[0];
  if (desc === undefined) throw new InstallerBaseError(`${ref.text}: the fetched layout has no image manifest`);
  const manifest = JSON.parse(await readFile(blob(desc.digest), 'utf8')) as {
    config: OciDescriptor;
    layers: OciDescriptor[];
  };
  const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8')) as {
    config?: { Env?: string[] };
    rootfs: { diff_ids: string[] };
  };
  if (manifest.layers.length !== config.rootfs.diff_ids.length)
    throw new InstallerBaseError(
      `${ref.text}: ${manifest.layers.length} layers but ${config.rootfs.diff_ids.length} diff_ids`,
    );
  const layers = manifest.layers.map((l, i) => ({
    mediaType: l.mediaType,
    digest: l.digest,
    size: l.size,
    file: blob(l.digest),
    diffId: config.rootfs.diff_ids[i] ?? '',
  }));
  const configDir =
    (config.config?.Env ?? []).find((e) => e.startsWith('CONFIG_DIR='))?.slice('CONFIG_DIR='.length) || '/config';

  // Unpacked once, to read and check the install manifest against the files the image really has.
  const bundle = join(opts.workDir, 'base-bundle');
  try {
    await run('umoci', ['unpack', '--rootless', '--image', `${layout}:base`, bundle], { maxBuffer: 16 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new InstallerBaseError(`umoci unpack of ${ref.text}: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
  const rootfs = join(bundle, 'rootfs');
  const manifestPath = posix.join(configDir, MANIFEST_NAME);
  let manifestBytes: Buffer;
  try {
    manifestBytes = await readFile(await resolveInRoot(rootfs, manifestPath));
  } catch (err) {
    throw new InstallerBaseError(
      `${ref.text}: no install manifest at ${manifestPath}: expected upstream's node-installer image (its layers carry the artifacts and ${MANIFEST_NAME})`,
      { cause: err },
    );
  }
  let parsed;
  try {
    parsed = parseManifest(manifestBytes, `${ref.text} ${manifestPath}`);
  } catch (err) {
    throw new InstallerBaseError(errorMessage(err), { cause: err });
  }
  const problems: string[] = [];
  for (const [i, f] of parsed.files.entries()) {
    if (f.url.protocol !== 'file:') continue;
    const inImage = decodeURIComponent(f.url.pathname);
    let real: string;
    try {
      real = await resolveInRoot(rootfs, inImage);
      if (!(await lstat(real)).isFile()) throw new Error('not a regular file');
    } catch (err) {
      problems.push(`files[${i}].url=${f.url.href}: not a file in the image (${errorMessage(err)})`);
      continue;
    }
    if (f.integrity !== undefined) {
      const got = await digestOf(real, f.integrity.algorithm);
      if (!got.equals(f.integrity.digest))
        problems.push(
          `files[${i}].url=${f.url.href}: content does not match integrity ${f.integrity.text} (got ${got.toString('base64')})`,
        );
    }
  }
  if (problems.length > 0) throw new InstallerBaseError(`${ref.text} ${manifestPath}: ${problems.join('; ')}`);
  return {
    ref,
    digest: ref.digest ?? desc.digest,
    layers,
    configDir,
    manifestBytes,
    embedded: embeddedHandlerOf(parsed),
  };
}

/** `path` inside `root`, following symbolic links (absolute ones relative to `root`), never leaving it. */
async function resolveInRoot(root: string, path: string): Promise<string> {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  const done: string[] = [];
  let hops = 0;
  while (parts.length > 0) {
    const seg = parts.shift() ?? '';
    if (seg === '..') {
      done.pop();
      continue;
    }
    const here = join(root, ...done, seg);
    const st = await lstat(here);
    if (st.isSymbolicLink()) {
      if (++hops > 40) throw new Error(`too many symbolic links in ${path}`);
      const target = await readlink(here);
      if (target.startsWith('/')) done.length = 0;
      parts.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    done.push(seg);
  }
  return join(root, ...done);
}

async function digestOf(path: string, algorithm: string): Promise<Buffer> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest();
}
