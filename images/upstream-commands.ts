/**
 * The commands upstream's generated pod specs run inside our images, in one place, with where each
 * comes from (edgelesssys/contrast, `internal/kuberesource/`, release v1.17). `contrast generate
 * --image-replacements` swaps the image but keeps the command, so each of these must work in the
 * image named by `target`. `images/targets.ts` adds the tools they need;
 * `test/images/upstream-commands.test.ts` runs every one under runc and checks its effect.
 */
import type { TargetName } from './targets.js';

export interface UpstreamCommand {
  readonly id: string;
  /** Our image the command runs in. */
  readonly target: TargetName;
  /** `command` (container command, replacing the entry point) or `startupProbe` (exec probe). */
  readonly kind: 'command' | 'startupProbe';
  readonly argv: readonly string[];
  /** The variables upstream's generator sets for it (placeholders: the test fills in ports and hosts). */
  readonly env: readonly string[];
  /** Upstream file and function that generates it. */
  readonly source: string;
  /** What it must do. */
  readonly effect: string;
}

export const UPSTREAM_COMMANDS: readonly UpstreamCommand[] = Object.freeze([
  {
    id: 'image-store-holder',
    target: 'initializer',
    kind: 'command',
    argv: ['/bin/sh', '-c', 'sleep inf'],
    env: [],
    source:
      'internal/kuberesource/mutators.go AddImageStore: container "pvc-holder" (secure image store, --inject-image-store)',
    effect:
      "stays up until the pod stops, and ends on SIGTERM with exit status 0: sh (bash) execs our sleep (native/sleep), the container's PID 1, which waits for the signal (upstream's ignores SIGTERM and ends on the SIGKILL after the grace period)",
  },
  {
    id: 'secure-pv-startup-probe',
    target: 'initializer',
    kind: 'startupProbe',
    argv: ['/bin/test', '-f', '/done'],
    env: [],
    source:
      'internal/kuberesource/mutators.go addCryptsetupConfig: startup probe of the initializer sidecar (secure-pv annotation)',
    effect: 'exit 0 when /done exists, non-zero otherwise',
  },
  {
    id: 'meshproxy-startup-probe',
    target: 'meshproxy',
    kind: 'startupProbe',
    argv: ['test', '-f', '/ready'],
    env: [],
    source: 'internal/kuberesource/parts.go ServiceMeshProxy: startup probe of "contrast-service-mesh"',
    effect: 'exit 0 when /ready exists, non-zero otherwise',
  },
  {
    id: 'port-forwarder-single',
    target: 'port-forwarder',
    kind: 'command',
    argv: [
      '/bin/bash',
      '-c',
      'echo Starting port-forward with socat; exec socat -d -d TCP-LISTEN:${LISTEN_PORT},fork TCP:${FORWARD_HOST}:${FORWARD_PORT}',
    ],
    env: ['LISTEN_PORT', 'FORWARD_HOST', 'FORWARD_PORT'],
    source: 'internal/kuberesource/parts.go PortForwarder + WithListenPort + WithForwardTarget',
    effect: 'forwards TCP from LISTEN_PORT to FORWARD_HOST:FORWARD_PORT',
  },
  {
    id: 'port-forwarder-multi',
    target: 'port-forwarder',
    kind: 'command',
    argv: [
      '/bin/bash',
      '-c',
      'echo Starting port-forward with socat; for port in ${LISTEN_PORTS}; do socat -d -d TCP-LISTEN:$port,fork TCP:${FORWARD_HOST}:$port & done; wait',
    ],
    env: ['LISTEN_PORTS', 'FORWARD_HOST', 'FORWARD_PORT'],
    source:
      'internal/kuberesource/parts.go PortForwarderMultiplePorts + WithListenPorts (PortForwarderForService: FORWARD_PORT=-1, ignored)',
    effect: 'forwards each port of LISTEN_PORTS to the same port on FORWARD_HOST',
  },
]);
