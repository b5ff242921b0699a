/**
 * The runtime handler as one value: derived once, when the installer image is built, from the install
 * manifest its base image carries (its `runtimeHandlerName`, else the first 8 hex digits of SHA-256 over
 * the manifest bytes), embedded in the image as a small JSON file and as image labels, and read back by
 * the installer and by the manifest generator (RuntimeClass, DaemonSet). Upstream likewise derives
 * both sides from one embedded value.
 */
import { readFile } from 'node:fs/promises';
import { ManifestError } from './errors.js';
import { parseManifest, type InstallManifest } from './manifest.js';
import { errorMessage, errorCode } from '../errors.js';

/** In-image path of the embedded handler file. */
export const EMBEDDED_HANDLER_PATH = '/usr/share/misc/contrast/runtime-handler.json';

/** Image labels carrying the same facts, for tools that read an image's config without unpacking it. */
export const LABELS = {
  runtimeHash: 'systems.edgeless.contrast.runtime-hash',
  runtimeHandlerName: 'systems.edgeless.contrast.runtime-handler-name',
  snapshotter: 'systems.edgeless.contrast.snapshotter',
  artifacts: 'systems.edgeless.contrast.artifacts',
  baseName: 'org.opencontainers.image.base.name',
  baseDigest: 'org.opencontainers.image.base.digest',
} as const;

export interface EmbeddedHandler {
  /** sha256 (hex) of the install manifest the image carries; the installer checks it. */
  readonly manifestSha256: string;
  /** 8 hex digits: the handler is `contrast-cc-<platform lowercase>-<runtimeHash>`. */
  readonly runtimeHash: string;
  /** An explicit handler name from the manifest, used for every platform instead. */
  readonly runtimeHandlerName: string | undefined;
  /** The snapshotter the manifest asks for (seed generation), if any. */
  readonly snapshotter: string | undefined;
}

/** Derives the embedded value from a parsed manifest. */
export function embeddedHandlerOf(manifest: InstallManifest): EmbeddedHandler {
  return Object.freeze({
    manifestSha256: manifest.sha256,
    runtimeHash: manifest.sha256.slice(0, 8),
    runtimeHandlerName: manifest.runtimeHandlerName,
    snapshotter: manifest.snapshotter,
  });
}

/** Derives it from the manifest bytes (image build). */
export function deriveEmbeddedHandler(manifestBytes: Buffer, source: string): EmbeddedHandler {
  return embeddedHandlerOf(parseManifest(manifestBytes, source));
}

/** The handler for a platform (lowercase platform name as upstream spells it in handlers). */
export function handlerForPlatform(
  embedded: Pick<EmbeddedHandler, 'runtimeHash' | 'runtimeHandlerName'>,
  platformName: string,
): string {
  return embedded.runtimeHandlerName ?? `contrast-cc-${platformName.toLowerCase()}-${embedded.runtimeHash}`;
}

export function serializeEmbeddedHandler(e: EmbeddedHandler): string {
  return (
    JSON.stringify(
      {
        manifestSha256: e.manifestSha256,
        runtimeHash: e.runtimeHash,
        runtimeHandlerName: e.runtimeHandlerName ?? null,
        snapshotter: e.snapshotter ?? null,
      },
      null,
      2,
    ) + '\n'
  );
}

/** Reads the embedded file; undefined when it does not exist (a run outside the image). */
export async function readEmbeddedHandler(path: string): Promise<EmbeddedHandler | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw new ManifestError(`reading the embedded runtime handler ${path}: ${errorMessage(err)}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`${path}: expected the JSON the image build wrote: ${errorMessage(err)}`);
  }
  const o = raw as Record<string, unknown>;
  const str = (k: string) => (typeof o[k] === 'string' ? o[k] : undefined);
  const sha = str('manifestSha256');
  const hash = str('runtimeHash');
  if (sha === undefined || !/^[0-9a-f]{64}$/.test(sha) || hash === undefined || !/^[0-9a-f]{8}$/.test(hash)) {
    throw new ManifestError(`${path}: expected manifestSha256 (64 hex digits) and runtimeHash (8 hex digits)`);
  }
  return Object.freeze({
    manifestSha256: sha,
    runtimeHash: hash,
    runtimeHandlerName: str('runtimeHandlerName'),
    snapshotter: str('snapshotter'),
  });
}
