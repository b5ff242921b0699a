/**
 * What the runtime YAML needs to know about the runtime-installer image it names, read from the image's
 * OCI layout (labels written by images/image-builder.ts): the handler value embedded at build time, the
 * snapshotter of a seed-generation manifest, the base it was built on, and its own digest.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContrastError, errorMessage } from '../../lib/errors.js';
import { LABELS } from '../../lib/node-install/embedded-handler.js';
import { SNAPSHOTTERS, type Snapshotter } from '../../lib/node-install/manifest.js';

export class InstallerImageError extends ContrastError {
  readonly code = 'ERR_INSTALLER_IMAGE';
}

export interface InstallerImageInfo {
  /** Whether the image was built on upstream's artifacts (--installer-base). */
  readonly artifacts: boolean;
  readonly runtimeHash: string | undefined;
  readonly runtimeHandlerName: string | undefined;
  readonly snapshotter: Snapshotter | undefined;
  readonly baseName: string | undefined;
  readonly baseDigest: string | undefined;
  /** The image's manifest digest, to pin it in the DaemonSet. */
  readonly digest: string;
}

export function readInstallerImage(layoutDir: string): InstallerImageInfo {
  const blob = (d: string) => join(layoutDir, 'blobs', ...d.split(':'));
  let labels: Record<string, string>;
  let digest: string;
  try {
    const index = JSON.parse(readFileSync(join(layoutDir, 'index.json'), 'utf8')) as {
      manifests: { digest: string }[];
    };
    digest = index.manifests[0]?.digest ?? '';
    const manifest = JSON.parse(readFileSync(blob(digest), 'utf8')) as { config: { digest: string } };
    const config = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8')) as {
      config?: { Labels?: Record<string, string> };
    };
    labels = config.config?.Labels ?? {};
  } catch (err) {
    throw new InstallerImageError(
      `--installer-image ${layoutDir}: expected the OCI layout npm run images wrote for runtime-installer: ${errorMessage(err)}`,
      { cause: err },
    );
  }
  const artifacts = labels[LABELS.artifacts];
  if (artifacts !== 'true' && artifacts !== 'false')
    throw new InstallerImageError(
      `--installer-image ${layoutDir}: label ${LABELS.artifacts} missing: expected a runtime-installer image built by npm run images`,
    );
  const snapshotter = labels[LABELS.snapshotter];
  if (snapshotter !== undefined && !(SNAPSHOTTERS as readonly string[]).includes(snapshotter))
    throw new InstallerImageError(
      `--installer-image ${layoutDir}: label ${LABELS.snapshotter}=${snapshotter}: expected one of ${SNAPSHOTTERS.join(', ')}`,
    );
  const runtimeHash = labels[LABELS.runtimeHash];
  if (artifacts === 'true' && (runtimeHash === undefined || !/^[0-9a-f]{8}$/.test(runtimeHash)))
    throw new InstallerImageError(`--installer-image ${layoutDir}: label ${LABELS.runtimeHash}: expected 8 hex digits`);
  return {
    artifacts: artifacts === 'true',
    runtimeHash,
    runtimeHandlerName: labels[LABELS.runtimeHandlerName],
    snapshotter: snapshotter as Snapshotter | undefined,
    baseName: labels[LABELS.baseName],
    baseDigest: labels[LABELS.baseDigest],
    digest,
  };
}
