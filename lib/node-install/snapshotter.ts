/**
 * The names of a seed-generation proxy snapshotter for a handler: its plugin name, socket and state
 * directory. The runtime installer wires them into containerd's config (runtime-installer/snapshotter.ts),
 * the runtime DaemonSet runs the sidecar that serves them (images/k8s/runtime.ts).
 */
import type { Snapshotter } from './manifest.js';

export interface SnapshotterSetup {
  readonly kind: Snapshotter;
  /** Name of the proxy plugin and the runtime's `snapshotter` value. */
  readonly pluginName: string;
  /** Host path of the sidecar's gRPC socket (containerd's `proxy_plugins.<name>.address`). */
  readonly address: string;
  /** Host path of the snapshotter's state (the sidecar's root), removed on uninstall. */
  readonly stateDir: string;
}

export function snapshotterSetup(kind: Snapshotter, handler: string): SnapshotterSetup {
  if (kind === 'tardev') {
    return Object.freeze({
      kind,
      pluginName: `tardev-${handler}`,
      address: `/run/containerd/tardev-snapshotter-${handler}.sock`,
      stateDir: `/var/lib/containerd/io.containerd.snapshotter.v1.tardev-${handler}`,
    });
  }
  return Object.freeze({
    kind,
    pluginName: `nydus-${handler}`,
    address: `/run/containerd/containerd-nydus-grpc-${handler}.sock`,
    stateDir: `/var/lib/nydus-snapshotter/${handler}`,
  });
}
