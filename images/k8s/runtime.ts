/**
 * The runtime resources per platform (upstream `internal/kuberesource/{parts,sets,runtimeclasses}.go`):
 * RuntimeClass with the versioned handler and pod overhead, the DaemonSet whose init container runs
 * the runtime installer, and the k3s/RKE2 target-config presets.
 */
import type { IRuntimeClass } from 'kubernetes-models/node.k8s.io/v1/RuntimeClass';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import type { IValidatingAdmissionPolicy } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy';
import type { IValidatingAdmissionPolicyBinding } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding';
import { overheadMemory, runtimeHandler, type Platform } from './platforms.js';
import type { KubeObject } from './kube-object.js';
import { NODE_LABEL_VALUE, nodeLabelKey } from '../../lib/node-install/node-label.js';
import { snapshotterSetup } from '../../lib/node-install/snapshotter.js';
import type { Snapshotter } from '../../lib/node-install/manifest.js';

export interface RuntimeOptions {
  readonly runtimeHash: string;
  /** An explicit handler name the installer image carries (its manifest's runtimeHandlerName). */
  readonly runtimeHandlerName?: string | undefined;
  /** Image of the runtime installer (the `runtime-installer` target). */
  readonly installerImage: string;
  readonly namespace: string;
  /** Main container keeping the DaemonSet pod Running after the installer exited. */
  readonly pauseImage: string;
  /** Seed generation: the snapshotter the image's manifest names; its sidecar replaces `pause`. */
  readonly snapshotter?: Snapshotter | undefined;
  /** Images of the snapshotter sidecars. */
  readonly snapshotterImages?: Readonly<Record<Snapshotter, string>>;
  /** The base the installer image was built on, recorded as DaemonSet annotations. */
  readonly installerBase?: { readonly name: string; readonly digest: string } | undefined;
}

/** Upstream's snapshotter images; pin them by digest for a deployment (--snapshotter-image). */
export const DEFAULT_SNAPSHOTTER_IMAGES: Readonly<Record<Snapshotter, string>> = {
  tardev: 'ghcr.io/edgelesssys/contrast/tardev-snapshotter:latest',
  nydus: 'ghcr.io/edgelesssys/contrast/nydus-snapshotter:latest',
};

/** The handler the RuntimeClass names and the DaemonSet's installer registers: one value. */
export function handlerOf(platform: Platform, opts: RuntimeOptions): string {
  return opts.runtimeHandlerName ?? runtimeHandler(platform, opts.runtimeHash);
}

/** Everything one platform's runtime needs, in apply order. */
export function runtimeObjects(platform: Platform, opts: RuntimeOptions): KubeObject[] {
  return [runtimeClass(platform, opts), ...installerRbac(platform, opts), installerDaemonSet(platform, opts)];
}

export const TARGET_CONFIG_NAME = 'contrast-node-installer-target-config';
export const IMAGEPULLER_SECRET_NAME = 'contrast-node-installer-imagepuller-config';

export function runtimeClass(platform: Platform, opts: RuntimeOptions): IRuntimeClass {
  const handler = handlerOf(platform, opts);
  return {
    apiVersion: 'node.k8s.io/v1',
    kind: 'RuntimeClass',
    metadata: { name: handler, labels: { 'addonmanager.kubernetes.io/mode': 'Reconcile' } },
    handler,
    overhead: { podFixed: { memory: overheadMemory(platform) } },
    // Pods go only to nodes whose installer finished (it sets this label last, removes it first).
    scheduling: { nodeSelector: { [nodeLabelKey(handler)]: NODE_LABEL_VALUE } },
  };
}

/**
 * The installer's service account may get and patch nodes (RBAC cannot name "its own" node); a
 * ValidatingAdmissionPolicy narrows that to the node the pod runs on (the token's node-name claim,
 * Kubernetes 1.30+; older API servers do not put it into the token and only the label check holds)
 * and to changes of its own label.
 */
export function installerRbac(
  platform: Platform,
  opts: RuntimeOptions,
): [IServiceAccount, IClusterRole, IClusterRoleBinding, IValidatingAdmissionPolicy, IValidatingAdmissionPolicyBinding] {
  const handler = handlerOf(platform, opts);
  const name = `${handler}-nodeinstaller`;
  const key = nodeLabelKey(handler);
  const user = `system:serviceaccount:${opts.namespace}:${name}`;
  const otherLabelsKept = (a: string, b: string) =>
    `!has(${a}.metadata.labels) || ${a}.metadata.labels.all(k, k == '${key}' || (has(${b}.metadata.labels) && k in ${b}.metadata.labels && ${b}.metadata.labels[k] == ${a}.metadata.labels[k]))`;
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: opts.namespace } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name },
      rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'patch'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: opts.namespace }],
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['nodes'] }],
        },
        matchConditions: [{ name: 'runtime-installer', expression: `request.userInfo.username == '${user}'` }],
        validations: [
          {
            expression:
              "!has(request.userInfo.extra) || !('authentication.kubernetes.io/node-name' in request.userInfo.extra) || request.userInfo.extra['authentication.kubernetes.io/node-name'][0] == request.name",
            message: `${name} may only label the node its pod runs on`,
          },
          { expression: 'object.spec == oldObject.spec', message: `${name} may only change its node label ${key}` },
          {
            expression: `(${otherLabelsKept('object', 'oldObject')}) && (${otherLabelsKept('oldObject', 'object')})`,
            message: `${name} may only change its node label ${key}`,
          },
        ],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name },
      spec: { policyName: name, validationActions: ['Deny'] },
    },
  ];
}

/** The snapshotter sidecar (seed generation) with its volumes, in place of `pause`. */
function snapshotterSidecar(
  kind: Snapshotter,
  handler: string,
  image: string,
): { container: IContainer; volumes: IVolume[] } {
  const setup = snapshotterSetup(kind, handler);
  if (kind === 'tardev') {
    return {
      container: {
        name: 'tardev-snapshotter',
        image,
        args: [
          'tardev-snapshotter',
          setup.stateDir,
          `/host${setup.address}`,
          '/host/var/run/containerd/containerd.sock',
        ],
        env: [{ name: 'RUST_LOG', value: 'tardev_snapshotter=trace' }],
        resources: { requests: { memory: '800Mi' } },
        volumeMounts: [
          { name: 'host-mount', mountPath: '/host' },
          { name: 'var-lib-containerd', mountPath: '/var/lib/containerd' },
        ],
      },
      volumes: [{ name: 'var-lib-containerd', hostPath: { path: '/var/lib/containerd', type: 'Directory' } }],
    };
  }
  return {
    container: {
      name: 'nydus-snapshotter',
      image,
      command: ['containerd-nydus-grpc'],
      args: [
        `--root=${setup.stateDir}`,
        '--config=/share/nydus-snapshotter/config-coco-guest-pulling.toml',
        `--address=/host${setup.address}`,
        '--log-to-stdout',
        `--nydus-overlayfs-path=/opt/edgeless/${handler}/bin/nydus-overlayfs`,
      ],
      // It mounts snapshots for containerd.
      securityContext: { privileged: true },
      volumeMounts: [
        { name: 'host-mount', mountPath: '/host' },
        { name: 'var-lib-nydus-snapshotter', mountPath: setup.stateDir, mountPropagation: 'Bidirectional' },
      ],
    },
    volumes: [{ name: 'var-lib-nydus-snapshotter', hostPath: { path: setup.stateDir, type: 'DirectoryOrCreate' } }],
  };
}

export function installerDaemonSet(platform: Platform, opts: RuntimeOptions): IDaemonSet {
  const handler = handlerOf(platform, opts);
  const name = `${handler}-nodeinstaller`;
  const labels = { 'app.kubernetes.io/name': name };
  const sidecar =
    opts.snapshotter === undefined
      ? undefined
      : snapshotterSidecar(
          opts.snapshotter,
          handler,
          (opts.snapshotterImages ?? DEFAULT_SNAPSHOTTER_IMAGES)[opts.snapshotter],
        );
  const baseAnnotations =
    opts.installerBase === undefined
      ? {}
      : {
          annotations: {
            'contrast.edgeless.systems/installer-base': opts.installerBase.name,
            'contrast.edgeless.systems/installer-base-digest': opts.installerBase.digest,
          },
        };
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace: opts.namespace, labels, ...baseAnnotations },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: {
          labels,
          annotations: {
            'contrast.edgeless.systems/pod-role': 'contrast-node-installer',
            'contrast.edgeless.systems/platform': platform,
          },
        },
        spec: {
          // The installer labels its node as this service account (token + CA mounted).
          serviceAccountName: name,
          automountServiceAccountToken: true,
          // nsenter --target 1 reaches the host's mount namespace to restart containerd.
          hostPID: true,
          initContainers: [
            {
              name: 'installer',
              image: opts.installerImage,
              command: ['/bin/node-installer', platform],
              env: [
                { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
                // The handler this YAML was generated for; the installer refuses to register another.
                { name: 'CONTRAST_RUNTIME_HANDLER', value: handler },
              ],
              securityContext: { privileged: true },
              resources: { requests: { memory: '700Mi' } },
              volumeMounts: [
                { name: 'host-mount', mountPath: '/host' },
                { name: 'var-run-dbus-socket', mountPath: '/var/run/dbus/system_bus_socket' },
                { name: 'target-config', mountPath: '/target-config' },
                { name: 'imagepuller-config', mountPath: '/imagepuller-config' },
              ],
            },
          ],
          containers: [sidecar?.container ?? { name: 'pause', image: opts.pauseImage }],
          volumes: [
            { name: 'host-mount', hostPath: { path: '/', type: 'Directory' } },
            // Mounted on its own: on Ubuntu /var/run is an absolute link to /run, which under /host
            // would resolve to the container's /run.
            { name: 'var-run-dbus-socket', hostPath: { path: '/var/run/dbus/system_bus_socket', type: 'Socket' } },
            { name: 'target-config', configMap: { name: TARGET_CONFIG_NAME, optional: true } },
            { name: 'imagepuller-config', secret: { secretName: IMAGEPULLER_SECRET_NAME, optional: true } },
            ...(sidecar?.volumes ?? []),
          ],
        },
      },
    },
  };
}

export type Distribution = 'k3s' | 'rke2';

/** Target configuration for distributions whose containerd is not at /etc/containerd (applied before the DaemonSet). */
export function targetConfigPreset(distribution: Distribution, namespace: string): IConfigMap {
  const data: Record<Distribution, Record<string, string>> = {
    k3s: {
      'containerd-config-path': 'var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl',
      'systemd-unit-name': 'k3s.service,k3s-agent.service',
    },
    rke2: {
      'containerd-config-path': 'var/lib/rancher/rke2/agent/etc/containerd/config.toml.tmpl',
      'systemd-unit-name': 'rke2-server.service,rke2-agent.service',
    },
  };
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: TARGET_CONFIG_NAME, namespace },
    data: data[distribution],
  };
}
