/** A plain HTTP server on loopback for one test. */
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Serves `handler` on 127.0.0.1 (port 0) until teardown, which closes the server and its connections;
 * resolves with the base URL.
 */
export function serveHttp(t: { teardown(fn: () => void): void }, handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    }),
  );
}
