/**
 * The runtime resources per platform (upstream `internal/kuberesource/{parts,sets,runtimeclasses}.go`):
 * RuntimeClass with the versioned handler and pod overhead, the DaemonSet whose init container runs
 * the runtime installer, and the k3s/RKE2 target-config presets.
 */
import type { IRuntimeClass } from 'kubernetes-models/node.k8s.io/v1/RuntimeClass';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { overheadMemory, runtimeHandler, type Platform } from './platforms.js';

export interface RuntimeOptions {
  readonly runtimeHash: string;
  /** Image of the runtime installer (the `runtime-installer` target). */
  readonly installerImage: string;
  readonly namespace: string;
  /** Main container keeping the DaemonSet pod Running after the installer exited. */
  readonly pauseImage: string;
}

export const TARGET_CONFIG_NAME = 'contrast-node-installer-target-config';
export const IMAGEPULLER_SECRET_NAME = 'contrast-node-installer-imagepuller-config';

export function runtimeClass(platform: Platform, opts: RuntimeOptions): IRuntimeClass {
  const handler = runtimeHandler(platform, opts.runtimeHash);
  return {
    apiVersion: 'node.k8s.io/v1',
    kind: 'RuntimeClass',
    metadata: { name: handler, labels: { 'addonmanager.kubernetes.io/mode': 'Reconcile' } },
    handler,
    overhead: { podFixed: { memory: overheadMemory(platform) } },
  };
}

export function installerDaemonSet(platform: Platform, opts: RuntimeOptions): IDaemonSet {
  const name = `${runtimeHandler(platform, opts.runtimeHash)}-nodeinstaller`;
  const labels = { 'app.kubernetes.io/name': name };
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace: opts.namespace, labels },
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
          // nsenter --target 1 reaches the host's mount namespace to restart containerd.
          hostPID: true,
          initContainers: [{
            name: 'installer',
            image: opts.installerImage,
            command: ['/bin/node-installer', platform],
            securityContext: { privileged: true },
            resources: { requests: { memory: '700Mi' } },
            volumeMounts: [
              { name: 'host-mount', mountPath: '/host' },
              { name: 'var-run-dbus-socket', mountPath: '/var/run/dbus/system_bus_socket' },
              { name: 'target-config', mountPath: '/target-config' },
              { name: 'imagepuller-config', mountPath: '/imagepuller-config' },
            ],
          }],
          containers: [{ name: 'pause', image: opts.pauseImage }],
          volumes: [
            { name: 'host-mount', hostPath: { path: '/', type: 'Directory' } },
            // Mounted on its own: on Ubuntu /var/run is an absolute link to /run, which under /host
            // would resolve to the container's /run.
            { name: 'var-run-dbus-socket', hostPath: { path: '/var/run/dbus/system_bus_socket', type: 'Socket' } },
            { name: 'target-config', configMap: { name: TARGET_CONFIG_NAME, optional: true } },
            { name: 'imagepuller-config', secret: { secretName: IMAGEPULLER_SECRET_NAME, optional: true } },
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
