/**
 * Every manifest this repository ships, as typed objects grouped by output file. images/k8s/generate.ts
 * writes them as YAML; the tests validate each object against the Kubernetes API schemas.
 */
import type { KubeObject } from './kube-object.js';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IService } from 'kubernetes-models/v1/Service';
import { PLATFORMS, SEED_PLATFORMS, versionRuntimeHash, type Platform } from './platforms.js';
import {
  DEFAULT_SNAPSHOTTER_IMAGES,
  handlerOf,
  runtimeObjects,
  targetConfigPreset,
  type RuntimeOptions,
} from './runtime.js';
import type { InstallerImageInfo } from './installer-image.js';
import type { Snapshotter } from '../../lib/node-install/manifest.js';
import { ANNOTATION_PREFIX, injectContrast, type InjectOptions } from './pod-snippets.js';
import { portForwarderPod } from './port-forwarder.js';

export interface ManifestOptions {
  readonly version: string;
  /** Registry and path prefix of our images: `<registry>/<target>:<version>`. */
  readonly registry: string;
  /** 8 hex digits of the runtime handler name; default derived from the version. */
  readonly runtimeHash?: string;
  /** Namespace of the runtime DaemonSets and target-config presets (upstream: kube-system). */
  readonly runtimeNamespace: string;
  /** Namespace of the example workload. */
  readonly workloadNamespace: string;
  /** The runtime-installer image the runtime YAML names (its labels): handler, snapshotter, base, digest. */
  readonly installer?: InstallerImageInfo | undefined;
  /** Platforms to write runtime files for; default the newest four, or the seed's for a snapshotter image. */
  readonly platforms?: readonly Platform[] | undefined;
  readonly snapshotterImages?: Readonly<Record<Snapshotter, string>> | undefined;
}

export const DEFAULT_MANIFEST_OPTIONS = {
  registry: 'localhost/contrast-ts',
  runtimeNamespace: 'kube-system',
  workloadNamespace: 'default',
} as const;

export function image(opts: ManifestOptions, target: string): string {
  return `${opts.registry}/${target}:${opts.version}`;
}

/** The runtime options for the installer image at hand (its embedded handler wins over --runtime-hash). */
export function runtimeOptions(opts: ManifestOptions): RuntimeOptions {
  const info = opts.installer;
  const installerImage =
    info === undefined ? image(opts, 'runtime-installer') : `${image(opts, 'runtime-installer')}@${info.digest}`;
  return {
    runtimeHash: info?.runtimeHash ?? opts.runtimeHash ?? versionRuntimeHash(opts.version),
    runtimeHandlerName: info?.runtimeHandlerName,
    installerImage,
    namespace: opts.runtimeNamespace,
    pauseImage: 'registry.k8s.io/pause:3.6',
    snapshotter: info?.snapshotter,
    snapshotterImages: opts.snapshotterImages ?? DEFAULT_SNAPSHOTTER_IMAGES,
    installerBase:
      info?.baseName === undefined || info.baseDigest === undefined
        ? undefined
        : { name: info.baseName, digest: info.baseDigest },
  };
}

/** Platforms whose runtime files are written. */
export function runtimePlatforms(opts: ManifestOptions): readonly Platform[] {
  if (opts.platforms !== undefined) return opts.platforms;
  if (opts.installer?.snapshotter === 'tardev') return ['AKS-CLH-SNP'];
  if (opts.installer?.snapshotter === 'nydus') return SEED_PLATFORMS.filter((p) => p !== 'AKS-CLH-SNP');
  return PLATFORMS;
}

/** The comment heading each runtime file: what the installer image carries. */
export function runtimeComment(opts: ManifestOptions): string[] {
  const info = opts.installer;
  if (info === undefined || !info.artifacts) {
    return [
      'NOTE: the runtime-installer image named below carries no Kata artifacts and no install manifest',
      '(it was built without --installer-base); its installer exits with ERR_MANIFEST. Build it on',
      "upstream's node-installer image and generate this file from it (docs/images.md):",
      '  npm run images -- --installer-base docker://ghcr.io/edgelesssys/contrast/node-installer-kata@sha256:<digest> runtime-installer',
      '  npm run manifests -- --installer-image dist/images-oci/runtime-installer --registry <your registry>',
    ];
  }
  return [
    `runtime-installer image ${info.digest}, built on ${info.baseName ?? '?'} (${info.baseDigest ?? '?'})`,
    `runtime handler from its install manifest: ${info.runtimeHandlerName ?? `contrast-cc-<platform>-${info.runtimeHash ?? '?'}`}${info.snapshotter === undefined ? '' : `; snapshotter ${info.snapshotter}`}`,
    'Push the image to the registry named below keeping its digest (skopeo copy oci:... docker://...).',
  ];
}

/** The comment lines a generated file starts with (runtime files: what the installer image carries). */
export function fileComment(file: string, opts: ManifestOptions): string[] {
  return file.startsWith('runtime-') ? runtimeComment(opts) : [];
}

/** File name (without directory) -> objects in that file, in order. */
export function allManifests(opts: ManifestOptions): Map<string, KubeObject[]> {
  const runtime = runtimeOptions(opts);
  const files = new Map<string, KubeObject[]>();
  for (const platform of runtimePlatforms(opts)) {
    files.set(`runtime-${platform.toLowerCase()}.yaml`, runtimeObjects(platform, runtime));
  }
  files.set('node-installer-target-config-k3s.yaml', [targetConfigPreset('k3s', opts.runtimeNamespace)]);
  files.set('node-installer-target-config-rke2.yaml', [targetConfigPreset('rke2', opts.runtimeNamespace)]);
  const inject: InjectOptions = {
    initializerImage: image(opts, 'initializer'),
    meshproxyImage: image(opts, 'meshproxy'),
    coordinatorHost: 'coordinator',
  };
  files.set(
    'example-workload.yaml',
    exampleWorkload(opts, runtimePlatforms(opts)[0] ?? 'Metal-QEMU-SNP', runtime, inject),
  );
  files.set('port-forwarder-coordinator.yaml', [
    portForwarderPod({
      name: 'port-forwarder-coordinator',
      namespace: opts.workloadNamespace,
      image: image(opts, 'port-forwarder'),
      forwardHost: 'coordinator',
      ports: [1313, 7777],
    }),
  ]);
  return files;
}

/**
 * Two Deployments as `contrast generate` would leave them: `web` with the mesh sidecar (TLS without
 * client auth on 8080, egress to `backend`), and `backend` without service-mesh annotations (the
 * initializer then removes the default-deny rule itself).
 */
function exampleWorkload(
  opts: ManifestOptions,
  platform: Platform,
  runtime: RuntimeOptions,
  inject: InjectOptions,
): KubeObject[] {
  const runtimeClassName = handlerOf(platform, runtime);
  const deployment = (name: string, annotations: Record<string, string>, port: number): IDeployment => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: opts.workloadNamespace },
    spec: {
      selector: { matchLabels: { 'app.kubernetes.io/name': name } },
      template: {
        metadata: { labels: { 'app.kubernetes.io/name': name }, annotations },
        spec: injectContrast(
          {
            runtimeClassName,
            containers: [{ name, image: `registry.example/${name}:1.0`, ports: [{ containerPort: port }] }],
          },
          annotations,
          inject,
        ),
      },
    },
  });
  const service = (name: string, port: number): IService => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: opts.workloadNamespace },
    spec: { selector: { 'app.kubernetes.io/name': name }, ports: [{ name: 'main', port, targetPort: port }] },
  });
  return [
    deployment(
      'web',
      {
        [`${ANNOTATION_PREFIX}servicemesh-ingress`]: 'web#8080#false##admin#9901#true',
        [`${ANNOTATION_PREFIX}servicemesh-egress`]: 'backend#127.137.0.1:8081#backend:8443',
        [`${ANNOTATION_PREFIX}servicemesh-admin-interface-port`]: '9901',
      },
      8080,
    ),
    service('web', 8080),
    deployment('backend', {}, 8443),
    service('backend', 8443),
  ];
}
