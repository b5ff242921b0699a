/**
 * A port-forwarder pod (upstream `kuberesource.PortForwarder`): runs with the cluster's default
 * runtime, so `kubectl port-forward` can reach it, and relays to a Service backed by Kata pods.
 */
import type { IPod } from 'kubernetes-models/v1/Pod';

export interface PortForwarderOptions {
  readonly name: string;
  readonly namespace: string;
  readonly image: string;
  readonly forwardHost: string;
  readonly ports: readonly number[];
}

export function portForwarderPod(opts: PortForwarderOptions): IPod {
  const env =
    opts.ports.length === 1
      ? [{ name: 'LISTEN_PORT', value: String(opts.ports[0]) }]
      : [{ name: 'LISTEN_PORTS', value: opts.ports.join(' ') }];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: opts.name, namespace: opts.namespace, labels: { 'app.kubernetes.io/name': opts.name } },
    spec: {
      containers: [
        {
          name: 'port-forwarder',
          image: opts.image,
          env: [...env, { name: 'FORWARD_HOST', value: opts.forwardHost }],
          ports: opts.ports.map((p) => ({ containerPort: p })),
          // Upstream's port-forwarder: 50 Mi memory request and limit.
          resources: { requests: { memory: '50Mi' }, limits: { memory: '50Mi' } },
        },
      ],
    },
  };
}
