/**
 * The admin port (CONTRAST_ADMIN_PORT): plain HTTP on 0.0.0.0, read-only.
 *   GET /ready              200 "LIVE" once the sidecar is ready, 503 before and while draining
 *   GET /stats/prometheus   counters in the Prometheus text format
 *   GET /config_dump        the plan and the runtime settings as JSON (no keys, no certificates)
 * Unlike Envoy's admin interface there are no mutating endpoints.
 */
import { createServer, type Server } from 'node:http';
import type { MeshStats } from './stats.js';

export interface AdminState {
  readonly ready: () => boolean;
  readonly stats: MeshStats;
  readonly configDump: () => unknown;
}

export function createAdmin(state: AdminState): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/ready') {
      const ready = state.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'LIVE\n' : 'NOT READY\n');
    } else if (path === '/stats/prometheus') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(state.stats.prometheus());
    } else if (path === '/config_dump') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(state.configDump(), null, 2) + '\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('endpoints: /ready /stats/prometheus /config_dump\n');
    }
  });
}
