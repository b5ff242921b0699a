/**
 * Writes an OCI image layout (image-spec v1.1): `oci-layout`, `index.json` and content-addressed
 * blobs. JSON documents are serialised with a fixed key order, so equal inputs give equal digests.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

export interface LayerBlob {
  /** The compressed blob. */
  readonly gzip: Buffer;
  /**
   * A layer taken over from a base image as it is: its blob file, descriptor and media type (`gzip`
   * is then empty and unused).
   */
  readonly base?: { readonly file: string; readonly digest: string; readonly size: number; readonly mediaType: string };
  /** sha256 of the uncompressed tar (the config's diff_id). */
  readonly diffId: string;
  /** What the layer holds, for the config history. */
  readonly createdBy: string;
}

export interface ImageConfig {
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  /** Seconds since the epoch, for `created` and the history. */
  readonly created: number;
}

export interface WrittenImage {
  readonly manifest: Descriptor;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  /** Sum of config, manifest and compressed layer sizes: what a registry would store. */
  readonly compressedBytes: number;
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Writes one image into a fresh layout at `dir` (replacing what was there), tagged `ref`. */
export async function writeImageLayout(
  dir: string,
  ref: string,
  layers: readonly LayerBlob[],
  image: ImageConfig,
): Promise<WrittenImage> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = async (mediaType: string, data: Buffer): Promise<Descriptor> => {
    const digest = sha256(data);
    await writeFile(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), data);
    return { mediaType, digest, size: data.length };
  };

  const layerDescriptors: Descriptor[] = [];
  for (const layer of layers) {
    if (layer.base === undefined) layerDescriptors.push(await put(MEDIA.layerGzip, layer.gzip));
    else {
      await copyFile(layer.base.file, join(dir, 'blobs', 'sha256', layer.base.digest.slice('sha256:'.length)));
      layerDescriptors.push({ mediaType: layer.base.mediaType, digest: layer.base.digest, size: layer.base.size });
    }
  }

  const created = new Date(image.created * 1000).toISOString().replace(/\.000Z$/, 'Z');
  const config = {
    created,
    architecture: 'amd64',
    os: 'linux',
    config: {
      Env: Object.entries(image.env).map(([k, v]) => `${k}=${v}`),
      Entrypoint: [...image.entrypoint],
      ...(image.cmd.length > 0 ? { Cmd: [...image.cmd] } : {}),
      WorkingDir: '/',
      Labels: { ...image.labels },
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l) => ({ created, created_by: l.createdBy })),
  };
  const configDescriptor = await put(MEDIA.config, Buffer.from(JSON.stringify(config)));

  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: configDescriptor,
    layers: layerDescriptors,
    annotations: { ...pick(image.labels, ['org.opencontainers.image.title', 'org.opencontainers.image.version']) },
  };
  const manifestDescriptor = await put(MEDIA.manifest, Buffer.from(JSON.stringify(manifest)));

  const index = {
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: [
      {
        ...manifestDescriptor,
        annotations: { 'org.opencontainers.image.ref.name': ref },
        platform: { architecture: 'amd64', os: 'linux' },
      },
    ],
  };
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));

  return {
    manifest: manifestDescriptor,
    config: configDescriptor,
    layers: layerDescriptors,
    compressedBytes: manifestDescriptor.size + configDescriptor.size + layerDescriptors.reduce((n, l) => n + l.size, 0),
  };
}

function pick(obj: Readonly<Record<string, string>>, keys: readonly string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => obj[k] !== undefined).map((k) => [k, obj[k] ?? '']));
}
