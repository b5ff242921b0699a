/**
 * Small plain-JavaScript programs that tests run inside network namespaces with `node -e` (no tsx, so
 * they start fast). Each takes its parameters from argv.
 */

/** Connects to argv[1]:argv[2] (after -e), writes argv[3] if given, prints what the server sends; exit 0 on end, 3 on error. */
export const TCP_READ = `
import { connect } from 'node:net';
const [host, port, send] = process.argv.slice(1);
const s = connect({ host, port: Number(port) });
s.setTimeout(10000, () => { process.stderr.write('timeout\\n'); process.exit(4); });
if (send) s.end(send);
s.on('data', (d) => process.stdout.write(d));
s.on('end', () => process.exit(0));
s.on('error', (e) => { process.stderr.write((e.code ?? e.message) + '\\n'); process.exit(3); });
`;

/**
 * A mesh client whose payload comes late: argv = host caFile certFile keyFile. Connects with TLS to
 * host:9000 and prints `connected`; at the first input on stdin it sends `late` and half-closes; when
 * the connection closes it prints `result <what the server sent>`.
 */
export const LATE_MESH_CLIENT = `
import { connect } from 'node:tls';
import { readFileSync } from 'node:fs';
const [host, ca, cert, key] = process.argv.slice(1);
const s = connect({ host, port: 9000, ca: readFileSync(ca), cert: readFileSync(cert), key: readFileSync(key), checkServerIdentity: () => undefined });
let data = '';
s.on('secureConnect', () => { process.stdout.write('connected\\n'); process.stdin.once('data', () => s.end('late')); });
s.on('data', (d) => { data += d; });
s.on('close', () => { process.stdout.write('result ' + data + '\\n'); });
`;

/** Arguments for running a script with node: node --input-type=module -e <script> -- args... */
export function nodeScript(script: string, args: readonly string[]): string[] {
  return ['--input-type=module', '-e', script, '--', ...args];
}

/**
 * TLS client: argv = host port caFile certFile|- keyFile|- payload. Sends the payload, half-closes, and
 * prints one JSON line {secure, peer, data, error}. Exit 0 whatever happened (the JSON says it).
 */
export const TLS_REQUEST = `
import { connect } from 'node:tls';
import { readFileSync } from 'node:fs';
const [host, port, ca, cert, key, payload] = process.argv.slice(1);
const opts = { host, port: Number(port), ca: readFileSync(ca), checkServerIdentity: () => undefined };
if (cert !== '-') { opts.cert = readFileSync(cert); opts.key = readFileSync(key); }
let data = '', secure = false, peer = '', error = '';
const s = connect(opts);
s.on('secureConnect', () => { secure = true; peer = s.getPeerCertificate().subject?.CN ?? ''; s.end(payload); });
s.on('data', (d) => { data += d; });
s.on('error', (e) => { error = e.code ?? e.message; });
s.setTimeout(10000, () => { error = 'timeout'; s.destroy(); });
s.on('close', () => { process.stdout.write(JSON.stringify({ secure, peer, data, error }) + '\\n'); process.exit(0); });
`;

/** Plain TCP request: argv = host port payload; prints {data, error} like TLS_REQUEST. */
export const TCP_REQUEST = `
import { connect } from 'node:net';
const [host, port, payload] = process.argv.slice(1);
let data = '', error = '';
const s = connect({ host, port: Number(port) });
s.on('connect', () => { s.end(payload); });
s.on('data', (d) => { data += d; });
s.on('error', (e) => { error = e.code ?? e.message; });
s.setTimeout(10000, () => { error = 'timeout'; s.destroy(); });
s.on('close', () => { process.stdout.write(JSON.stringify({ data, error }) + '\\n'); process.exit(0); });
`;

/** HTTP GET: argv = url; prints {status, body}. */
export const HTTP_GET = `
import { get } from 'node:http';
get(process.argv[1], (res) => { let body = ''; res.on('data', (d) => { body += d; }); res.on('end', () => { process.stdout.write(JSON.stringify({ status: res.statusCode, body }) + '\\n'); }); })
  .on('error', (e) => { process.stdout.write(JSON.stringify({ status: 0, body: e.code ?? e.message }) + '\\n'); });
`;

/**
 * The application: listens on every port in argv on 0.0.0.0 and ::, reads until the peer half-closes,
 * answers "app <port> <peer address> <data>" and closes. Prints "ready" once all listen.
 */
export const APP = `
import { createServer } from 'node:net';
const ports = process.argv.slice(1).map(Number);
let pending = ports.length * 2;
for (const port of ports) for (const host of ['0.0.0.0', '::']) {
  createServer({ allowHalfOpen: true }, (s) => {
    let data = '';
    s.on('data', (d) => { data += d; });
    s.on('end', () => { s.end('app ' + port + ' ' + s.remoteAddress + ' ' + data); });
    s.on('error', () => {});
  }).listen({ host, port, ipv6Only: host === '::' }, () => { if (--pending === 0) process.stdout.write('ready\\n'); });
}
`;

/**
 * A TLS server outside the mesh: argv = port certFile keyFile; answers "foreign <data>". Prints "ready",
 * and "handshake" / "received <data>" for each connection that gets that far.
 */
export const FOREIGN_TLS = `
import { createServer } from 'node:tls';
import { readFileSync } from 'node:fs';
const [port, cert, key] = process.argv.slice(1);
createServer({ cert: readFileSync(cert), key: readFileSync(key), allowHalfOpen: true }, (s) => {
  let data = '';
  process.stdout.write('handshake\\n');
  s.on('data', (d) => { data += d; process.stdout.write('received ' + d + '\\n'); });
  s.on('end', () => { s.end('foreign ' + data); });
  s.on('error', () => {});
}).listen(Number(port), '0.0.0.0', () => { process.stdout.write('ready\\n'); });
`;

/**
 * Load driver: argv = host port total concurrency. Each connection sends "x", half-closes and reads
 * the answer to the end. Prints {ok, failed} when all are done.
 */
export const CONNECT_MANY = `
import { connect } from 'node:net';
const [host, port, total, concurrency] = process.argv.slice(1).map((v, i) => (i === 0 ? v : Number(v)));
let started = 0, ok = 0, failed = 0, running = 0;
function one() {
  if (started >= total) { if (running === 0) { process.stdout.write(JSON.stringify({ ok, failed }) + '\\n'); process.exit(0); } return; }
  started++; running++;
  let data = '';
  const s = connect({ host, port });
  s.on('connect', () => s.end('x'));
  s.on('data', (d) => { data += d; });
  s.on('error', () => {});
  s.on('close', () => { running--; if (data.startsWith('app ')) ok++; else failed++; one(); });
}
for (let i = 0; i < concurrency; i++) one();
`;

/**
 * An application that answers before reading: on every port in argv (0.0.0.0 and ::) it writes
 * "bye <port> <peer>" and closes at once, so that the proxy in front of it closes the client side first
 * (leaving the TIME_WAIT socket on the proxy's side). Prints "ready" once all listen.
 */
export const BYE_APP = `
import { createServer } from 'node:net';
const ports = process.argv.slice(1).map(Number);
let pending = ports.length * 2;
for (const port of ports) for (const host of ['0.0.0.0', '::']) {
  createServer((s) => { s.on('error', () => {}); s.end('bye ' + port + ' ' + s.remoteAddress); })
    .listen({ host, port, ipv6Only: host === '::' }, () => { if (--pending === 0) process.stdout.write('ready\\n'); });
}
`;

/**
 * Connections from fixed source ports: argv = host port mode localPorts caFile certFile|- keyFile|-.
 * mode "plain" writes a plaintext request (without half-closing); "tls" completes a TLS handshake.
 * Every connection waits until the server closes (or 3 s pass) and then closes. Prints one JSON line
 * {answers: [...]} with what each connection received (decrypted for tls), "" when nothing came.
 */
export const FROM_PORTS = `
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
const [host, port, mode, ports, ca, cert, key] = process.argv.slice(1);
const one = (localPort) => new Promise((resolve) => {
  let data = '';
  const opts = { host, port: Number(port), localPort };
  const s = mode === 'tls'
    ? tlsConnect({ ...opts, ca: readFileSync(ca), checkServerIdentity: () => undefined, ...(cert === '-' ? {} : { cert: readFileSync(cert), key: readFileSync(key) }) })
    : connect(opts, () => { s.write('GET / HTTP/1.0\\r\\n\\r\\n'); });
  const timer = setTimeout(() => { s.destroy(); }, 3000);
  s.on('data', (d) => { data += d; });
  s.on('end', () => { s.end(); });
  s.on('error', () => {});
  s.on('close', () => { clearTimeout(timer); resolve(data); });
});
const answers = await Promise.all(ports.split(',').map((p) => one(Number(p))));
process.stdout.write(JSON.stringify({ answers }) + '\\n');
`;

/**
 * A stranger flood, bounded in count and time: argv = host ports(comma) fin stall partial trickle
 * partialFin capMs. Per port: `fin` connections that connect and send FIN at once, `stall` that send
 * nothing, `partial` that send the start of a ClientHello and wait, `trickle` that send a ClientHello
 * one byte every 300 ms (which re-arms an idle timer), `partialFin` that send a partial ClientHello
 * and FIN. No connection is closed by this side within `capMs` of its start; each records whether the
 * server closed it first. Opens at most 300 at a time. Prints {opened, closedByServer, stillOpen, failed,
 * openKinds, failedKinds} (openKinds: still open at the cap, by kind and port; failedKinds: connect
 * errors by code). A reset that arrives before this process saw its connect complete (ECONNRESET from
 * connect: the kernel had completed the handshake, the server then reset it, e.g. shed under overload)
 * counts as opened and closed by the server; any other connect error is a failure.
 */
export const STRANGER_FLOOD = `
import { connect } from 'node:net';
const [host, portList, fin, stall, partial, trickle, partialFin, capMs] = process.argv.slice(1);
const HELLO = Buffer.from('16030100c8010000c40303' + 'ab'.repeat(40), 'hex');
const jobs = [];
for (const port of portList.split(',').map(Number)) {
  for (const [kind, n] of [['fin', fin], ['stall', stall], ['partial', partial], ['trickle', trickle], ['partialFin', partialFin]]) {
    for (let i = 0; i < Number(n); i++) jobs.push([kind, port]);
  }
}
let opened = 0, closedByServer = 0, stillOpen = 0, failed = 0, running = 0, next = 0;
const openKinds = {}, failedKinds = {};
const one = ([kind, port]) => new Promise((resolve) => {
  const s = connect({ host, port });
  let timer, done = false, connected = false;
  const finish = (byServer) => { if (done) return; done = true; clearInterval(timer); if (byServer) closedByServer++; else { stillOpen++; const k = kind + ':' + port; openKinds[k] = (openKinds[k] ?? 0) + 1; } s.destroy(); resolve(); };
  s.on('connect', () => {
    opened++; connected = true;
    if (kind === 'fin') s.end();
    else if (kind === 'partial') s.write(HELLO.subarray(0, 20));
    else if (kind === 'partialFin') s.end(HELLO.subarray(0, 20));
    else if (kind === 'trickle') { let i = 0; timer = setInterval(() => { if (i < HELLO.length) s.write(HELLO.subarray(i, ++i)); }, 300); }
  });
  s.on('data', () => {});
  s.on('error', (e) => {
    if (connected || done) return;
    if (e.code === 'ECONNRESET') { opened++; connected = true; return; } // the close that follows counts it
    failed++; failedKinds[e.code ?? e.message] = (failedKinds[e.code ?? e.message] ?? 0) + 1; done = true; clearInterval(timer); resolve();
  });
  s.on('close', () => finish(true));
  setTimeout(() => finish(false), Number(capMs)).unref();
});
await new Promise((resolveAll) => {
  const pump = () => {
    while (running < 300 && next < jobs.length) { running++; one(jobs[next++]).then(() => { running--; pump(); }); }
    if (running === 0 && next >= jobs.length) resolveAll();
  };
  pump();
});
process.stdout.write(JSON.stringify({ opened, closedByServer, stillOpen, failed, openKinds, failedKinds }) + '\\n');
`;

/**
 * Mesh client loop: argv = host port caFile certFile keyFile; sends a request every 50 ms until stdin
 * closes or says "stop", then prints {ok, failed, slowestMs, errors}. Any error fails the request: a
 * reset, a TLS failure, or 15 s without progress; errors name the phase (tcp, tls, response), the time
 * taken and the source port.
 */
export const MESH_LOOP = `
import { connect } from 'node:tls';
import { readFileSync } from 'node:fs';
const [host, port, ca, cert, key] = process.argv.slice(1);
const opts = { host, port: Number(port), ca: readFileSync(ca), cert: readFileSync(cert), key: readFileSync(key), checkServerIdentity: () => undefined };
let ok = 0, failed = 0, stop = false, slowest = 0; const errors = [];
process.stdin.on('data', () => { stop = true; });
const once = () => new Promise((resolve) => {
  let data = '', phase = 'tcp';
  const start = Date.now();
  const s = connect(opts, () => { phase = 'response'; s.end('mesh'); });
  s.once('connect', () => { phase = 'tls'; });
  s.on('data', (d) => { data += d; });
  s.on('error', (e) => { errors.push((e.code ?? e.message) + ' in ' + phase + ' after ' + (Date.now() - start) + ' ms from port ' + s.localPort); });
  s.setTimeout(15000, () => { errors.push('timeout in ' + phase + ' from port ' + s.localPort); s.destroy(); });
  s.on('close', () => { slowest = Math.max(slowest, Date.now() - start); if (data.startsWith('app ')) ok++; else failed++; resolve(); });
});
while (!stop) { await once(); await new Promise((r) => setTimeout(r, 50)); }
process.stdout.write(JSON.stringify({ ok, failed, slowestMs: slowest, errors: errors.slice(0, 10) }) + '\\n');
process.exit(0);
`;
