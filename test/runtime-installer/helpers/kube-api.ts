/**
 * A stand-in for the Kubernetes API server's nodes API, over real TLS (a CA and a server certificate
 * for 127.0.0.1 made by the openssl CLI): GET and PATCH of /api/v1/nodes/<name> with a bearer token,
 * strategic-merge / merge patches (null deletes a label) and JSON patches, Status objects on errors.
 * The service-account directory the installer reads (token, ca.crt) is written beside it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { NEW_P256_KEY } from '../../helpers/openssl-args.js';

export interface KubeRequest {
  readonly method: string;
  readonly path: string;
  readonly contentType: string | undefined;
  readonly authorization: string | undefined;
  readonly body: string;
}

export interface KubeApiStandIn {
  readonly port: number;
  /** Holds `token` and `ca.crt` for CONTRAST_SERVICE_ACCOUNT_DIR. */
  readonly serviceAccountDir: string;
  readonly requests: KubeRequest[];
  /** Labels of a node, or undefined when there is no such node. */
  labels(node: string): Record<string, string> | undefined;
  close(): Promise<void>;
}

/** Makes a CA and a server certificate for IP 127.0.0.1 under `dir`; returns the PEM paths. */
export function makeCerts(dir: string, name = 'kube'): { ca: string; cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  const p = (f: string) => join(dir, `${name}-${f}`);
  const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  ossl(
    'req',
    '-x509',
    ...NEW_P256_KEY,
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-days',
    '2',
    '-subj',
    `/CN=${name} test CA`,
  );
  ossl('req', ...NEW_P256_KEY, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=kube-apiserver');
  writeFileSync(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  ossl(
    'x509',
    '-req',
    '-in',
    p('server.csr'),
    '-CA',
    p('ca.crt'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-out',
    p('server.crt'),
    '-days',
    '2',
    '-extfile',
    p('ext.cnf'),
  );
  return { ca: p('ca.crt'), cert: p('server.crt'), key: p('server.key') };
}

function status(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

/** JSON-pointer segment decoding (RFC 6901). */
function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

export async function startKubeApi(
  dir: string,
  opts: { nodes: Record<string, Record<string, string>>; token: string },
): Promise<KubeApiStandIn> {
  const certs = makeCerts(dir);
  const saDir = join(dir, 'serviceaccount');
  mkdirSync(saDir, { recursive: true });
  writeFileSync(join(saDir, 'token'), `${opts.token}\n`);
  writeFileSync(join(saDir, 'ca.crt'), readFileSync(certs.ca));
  const nodes = new Map(Object.entries(opts.nodes).map(([n, l]) => [n, { ...l }]));
  const requests: KubeRequest[] = [];
  const server: Server = createServer({ cert: readFileSync(certs.cert), key: readFileSync(certs.key) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      chunks.push(c);
    });
    req.on('end', (): true => {
      const body = Buffer.concat(chunks).toString('utf8');
      const contentType = req.headers['content-type'];
      requests.push({
        method: req.method ?? '',
        path: req.url ?? '',
        contentType,
        authorization: req.headers.authorization,
        body,
      });
      const send = (code: number, text: string): true => {
        res.writeHead(code, { 'Content-Type': 'application/json' });
        res.end(text);
        return true;
      };
      if (req.headers.authorization !== `Bearer ${opts.token}`)
        return send(401, status(401, 'Unauthorized', 'Unauthorized'));
      const m = /^\/api\/v1\/nodes\/([^/?]+)$/.exec(req.url ?? '');
      if (m === null)
        return send(404, status(404, 'NotFound', `the server could not find the requested resource ${req.url ?? ''}`));
      const name = decodeURIComponent(m[1] ?? '');
      const labels = nodes.get(name);
      if (labels === undefined) return send(404, status(404, 'NotFound', `nodes "${name}" not found`));
      const node = () => JSON.stringify({ kind: 'Node', apiVersion: 'v1', metadata: { name, labels }, spec: {} });
      if (req.method === 'GET') return send(200, node());
      if (req.method !== 'PATCH') return send(405, status(405, 'MethodNotAllowed', `${req.method ?? ''} not allowed`));
      let patch: unknown;
      try {
        patch = JSON.parse(body);
      } catch {
        return send(400, status(400, 'BadRequest', 'invalid JSON'));
      }
      if (contentType === 'application/strategic-merge-patch+json' || contentType === 'application/merge-patch+json') {
        const l = (patch as { metadata?: { labels?: Record<string, string | null> } }).metadata?.labels ?? {};
        for (const [k, v] of Object.entries(l)) {
          if (v === null) Reflect.deleteProperty(labels, k);
          else if (typeof v === 'string') labels[k] = v;
          else return send(422, status(422, 'Invalid', `label ${k}: expected a string`));
        }
        return send(200, node());
      }
      if (contentType === 'application/json-patch+json') {
        for (const op of patch as { op: string; path: string; value?: unknown }[]) {
          const lm = /^\/metadata\/labels\/(.+)$/.exec(op.path);
          if (lm === null) return send(422, status(422, 'Invalid', `path ${op.path} not supported by the stand-in`));
          const key = unescapePointer(lm[1] ?? '');
          if (op.op === 'remove') {
            if (!(key in labels)) return send(422, status(422, 'Invalid', `remove ${key}: no such label`));
            Reflect.deleteProperty(labels, key);
          } else if (op.op === 'add' || op.op === 'replace') labels[key] = String(op.value);
          else return send(422, status(422, 'Invalid', `op ${op.op} not supported`));
        }
        return send(200, node());
      }
      return send(
        415,
        status(
          415,
          'UnsupportedMediaType',
          `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
        ),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    serviceAccountDir: saDir,
    requests,
    labels: (n) => {
      const l = nodes.get(n);
      return l === undefined ? undefined : { ...l };
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => {
          r();
        });
      }),
  };
}
