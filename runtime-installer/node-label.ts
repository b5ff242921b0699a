/**
 * The node label that gates scheduling, as kata-deploy does it: after a successful install the
 * installer labels its node `runtime.contrast.edgeless.systems/<handler>=true`, the RuntimeClass
 * selects on it (`scheduling.nodeSelector`), and uninstall removes the label first, so that no pod is
 * scheduled onto a node whose runtime is missing or going away.
 *
 * It talks to the API server as the DaemonSet's service account (the in-cluster token and CA file),
 * with one strategic-merge PATCH of `/api/v1/nodes/<NODE_NAME>` per change. The generated RBAC allows
 * `get` and `patch` on nodes only.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import type { Logger } from '../lib/log.js';
import { NodeLabelError } from './errors.js';
import { errorMessage } from '../lib/errors.js';

export const DEFAULT_SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface NodeLabelConfig {
  readonly nodeName: string;
  /** `https://host:port` of the API server. */
  readonly apiServer: string;
  /** Holds `token` and `ca.crt` (the pod's service-account mount). */
  readonly serviceAccountDir: string;
  readonly timeoutMs: number;
}

/** Sets (value) or removes (null) the label on this node; returns whether the node existed. */
export async function patchNodeLabel(
  cfg: NodeLabelConfig,
  key: string,
  value: string | null,
  log: Logger,
): Promise<boolean> {
  const token = (await readServiceAccountFile(cfg, 'token')).toString('utf8').trim();
  const ca = await readServiceAccountFile(cfg, 'ca.crt');
  const path = `/api/v1/nodes/${encodeURIComponent(cfg.nodeName)}`;
  const body = JSON.stringify({ metadata: { labels: { [key]: value } } });
  const res = await send(cfg, path, token, ca, body);
  if (res.status === 404 && value === null) {
    log.info({ node: cfg.nodeName }, 'node not found, no label to remove');
    return false;
  }
  if (res.status < 200 || res.status > 299) {
    throw new NodeLabelError(
      `PATCH ${cfg.apiServer}${path} (label ${key}): HTTP ${res.status}${statusMessage(res.body)}; expected the service account to be allowed to patch its node (RBAC in the generated runtime YAML)`,
    );
  }
  let labels: Record<string, unknown> | undefined;
  try {
    labels = (JSON.parse(res.body) as { metadata?: { labels?: Record<string, unknown> } }).metadata?.labels;
  } catch {
    throw new NodeLabelError(
      `PATCH ${cfg.apiServer}${path}: expected a Node object in the answer, got ${JSON.stringify(res.body.slice(0, 200))}`,
    );
  }
  const now = labels?.[key];
  if (value === null ? now !== undefined : now !== value) {
    throw new NodeLabelError(
      `PATCH ${cfg.apiServer}${path}: the node's label ${key} is ${JSON.stringify(now)} afterwards, expected ${value === null ? 'none' : JSON.stringify(value)}`,
    );
  }
  log.info({ node: cfg.nodeName, label: key, value }, value === null ? 'node label removed' : 'node labelled');
  return true;
}

async function readServiceAccountFile(cfg: NodeLabelConfig, name: string): Promise<Buffer> {
  const path = join(cfg.serviceAccountDir, name);
  try {
    return await readFile(path);
  } catch (err) {
    throw new NodeLabelError(
      `reading ${path}: ${errorMessage(err)}: expected the service account token and CA of the DaemonSet's pod (automountServiceAccountToken)`,
      { cause: err },
    );
  }
}

function send(
  cfg: NodeLabelConfig,
  path: string,
  token: string,
  ca: Buffer,
  body: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, cfg.apiServer);
    const req = request(
      url,
      {
        method: 'PATCH',
        ca,
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/strategic-merge-patch+json',
          Accept: 'application/json',
          'Content-Length': Buffer.byteLength(body),
          'User-Agent': 'contrast-runtime-installer',
        },
        timeout: cfg.timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          chunks.push(c);
        });
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => {
      req.destroy(new Error(`no answer within ${cfg.timeoutMs} ms`));
    });
    req.on('error', (err) => {
      reject(new NodeLabelError(`PATCH ${url.href}: ${err.message}`, { cause: err }));
    });
    req.end(body);
  });
}

/** The `message` of a Kubernetes Status answer, if the body is one. */
function statusMessage(body: string): string {
  try {
    const m = (JSON.parse(body) as { message?: unknown }).message;
    return typeof m === 'string' ? ` (${m})` : '';
  } catch {
    return '';
  }
}
