/**
 * Every manifest this repository ships, as typed objects grouped by output file. images/k8s/generate.ts
 * writes them as YAML; the tests validate each object against the Kubernetes API schemas.
 */
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IService } from 'kubernetes-models/v1/Service';
import { PLATFORMS, runtimeHandler, versionRuntimeHash, type Platform } from './platforms.js';
import { installerDaemonSet, runtimeClass, targetConfigPreset, type RuntimeOptions } from './runtime.js';
import { ANNOTATION_PREFIX, injectContrast, type InjectOptions } from './pod-snippets.js';
import { portForwarderPod } from './port-forwarder.js';

/** A Kubernetes object: enough structure for validation and serialisation. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: { readonly name?: string };
}

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
}

export const DEFAULT_MANIFEST_OPTIONS = {
  registry: 'localhost/contrast-ts',
  runtimeNamespace: 'kube-system',
  workloadNamespace: 'default',
} as const;

export function image(opts: ManifestOptions, target: string): string {
  return `${opts.registry}/${target}:${opts.version}`;
}

/** File name (without directory) -> objects in that file, in order. */
export function allManifests(opts: ManifestOptions): Map<string, KubeObject[]> {
  const runtimeHash = opts.runtimeHash ?? versionRuntimeHash(opts.version);
  const runtime: RuntimeOptions = {
    runtimeHash,
    installerImage: image(opts, 'runtime-installer'),
    namespace: opts.runtimeNamespace,
    pauseImage: 'registry.k8s.io/pause:3.6',
  };
  const files = new Map<string, KubeObject[]>();
  for (const platform of PLATFORMS) {
    files.set(`runtime-${platform.toLowerCase()}.yaml`, [runtimeClass(platform, runtime), installerDaemonSet(platform, runtime)]);
  }
  files.set('node-installer-target-config-k3s.yaml', [targetConfigPreset('k3s', opts.runtimeNamespace)]);
  files.set('node-installer-target-config-rke2.yaml', [targetConfigPreset('rke2', opts.runtimeNamespace)]);
  const inject: InjectOptions = {
    initializerImage: image(opts, 'initializer'),
    meshproxyImage: image(opts, 'meshproxy'),
    coordinatorHost: 'coordinator',
  };
  files.set('example-workload.yaml', exampleWorkload(opts, 'Metal-QEMU-SNP', runtimeHash, inject));
  files.set('port-forwarder-coordinator.yaml', [portForwarderPod({
    name: 'port-forwarder-coordinator',
    namespace: opts.workloadNamespace,
    image: image(opts, 'port-forwarder'),
    forwardHost: 'coordinator',
    ports: [1313, 7777],
  })]);
  return files;
}

/**
 * Two Deployments as `contrast generate` would leave them: `web` with the mesh sidecar (TLS without
 * client auth on 8080, egress to `backend`), and `backend` without service-mesh annotations (the
 * initializer then removes the default-deny rule itself).
 */
function exampleWorkload(opts: ManifestOptions, platform: Platform, runtimeHash: string, inject: InjectOptions): KubeObject[] {
  const runtimeClassName = runtimeHandler(platform, runtimeHash);
  const deployment = (name: string, annotations: Record<string, string>, port: number): IDeployment => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: opts.workloadNamespace },
    spec: {
      selector: { matchLabels: { 'app.kubernetes.io/name': name } },
      template: {
        metadata: { labels: { 'app.kubernetes.io/name': name }, annotations },
        spec: injectContrast({
          runtimeClassName,
          containers: [{ name, image: `registry.example/${name}:1.0`, ports: [{ containerPort: port }] }],
        }, annotations, inject),
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
    deployment('web', {
      [`${ANNOTATION_PREFIX}servicemesh-ingress`]: 'web#8080#false##admin#9901#true',
      [`${ANNOTATION_PREFIX}servicemesh-egress`]: 'backend#127.137.0.1:8081#backend:8443',
      [`${ANNOTATION_PREFIX}servicemesh-admin-interface-port`]: '9901',
    }, 8080),
    service('web', 8080),
    deployment('backend', {}, 8443),
    service('backend', 8443),
  ];
}
