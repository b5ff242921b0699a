/**
 * `contrast-dev demo` (npm run demo): a whole confidential mesh on one machine, without root and
 * without TEE hardware.
 *
 *   development Coordinator (in this process, aTLS, manifest with two policies)
 *   pod "web":    initializer -> /tls-config    meshproxy (explicit ingress) -> app (HTTP)
 *   pod "client": initializer -> /tls-config    meshproxy (explicit egress)  <- client (HTTP)
 *
 * The initializers run in renewal mode: the demo rotates the Coordinator's mesh CA and shows both pods
 * renewing in place while a connection opened before the rotation keeps working.
 *
 * Attestation is INSECURE (no TEE): each initializer presents a document that only claims its host
 * data. The demo says so in its output. Everything lives in a temporary directory that is removed at
 * the end; every child process is stopped, also on failure.
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash, X509Certificate } from 'node:crypto';
import { Agent, createServer as createHttpServer, get as httpGet, type Server } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { silentLogger } from '../lib/log.js';
import { DEFAULT_SECRETS_DIR, DEFAULT_TLS_DIR, TLS_FILES } from '../lib/pod-layout.js';
import { loadAddon } from '../lib/native/addon.js';
import { createValidators } from '../lib/attestation/validators.js';
import { startCoordinator, type RunningCoordinator } from '../lib/coordinator/coordinator.js';
import { parseManifest } from '../lib/coordinator/manifest.js';
import { chainVerifies, parsePemBundle, summarise } from './demo-certs.js';
import { DemoStepError, ProcessGroup, freePort, logTail, waitForFile } from './demo-processes.js';

export interface DemoOptions {
  /** Where lines for a person go. */
  readonly out: (line: string) => void;
  /** Keep the temporary directory (child logs, certificates) instead of removing it. */
  readonly keep: boolean;
  /** Bound for each step that waits on a child. */
  readonly stepTimeoutMs: number;
}

export interface DemoResult {
  readonly workDir: string;
  readonly timingsMs: Readonly<Record<string, number>>;
  readonly requestSucceeded: boolean;
  readonly clientWithoutCertRefused: boolean;
}

interface Pod {
  readonly name: string;
  readonly hostData: string;
  readonly tlsDir: string;
  readonly secretsDir: string;
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  // The pods' processes need the addon (aTLS client); say so now rather than after their time-outs.
  loadAddon();
  const work = await mkdtemp(join(tmpdir(), 'contrast-demo-'));
  const group = new ProcessGroup();
  const closers: (() => Promise<void>)[] = [];
  const timings: Record<string, number> = {};
  const timed = async <T>(label: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      timings[label] = performance.now() - t0;
    }
  };
  const say = opts.out;
  try {
    say('Contrast demo: a confidential mesh on this machine');
    say('  ATTESTATION: INSECURE. No TEE is used; each pod only claims its host data. For demonstration only.');
    say(`  work directory: ${work} (logs of every process, certificates; removed at the end unless --keep)`);
    const pods: Pod[] = ['web', 'client'].map((name) => ({
      name,
      hostData: createHash('sha256').update(`contrast demo pod ${name}`).digest('hex'),
      tlsDir: join(work, name, basename(DEFAULT_TLS_DIR)),
      secretsDir: join(work, name, basename(DEFAULT_SECRETS_DIR)),
    }));
    for (const pod of pods) await mkdir(join(work, pod.name), { recursive: true });

    // 1. The development Coordinator with a manifest naming both pods' policies.
    const manifestText = JSON.stringify(
      {
        policies: Object.fromEntries(
          pods.map((p) => [
            p.hostData,
            { sans: [p.name, `${p.name}.demo.svc`], workloadSecretID: `apps/v1/Deployment/demo/${p.name}` },
          ]),
        ),
        referenceValues: { allowInsecure: true },
      },
      null,
      2,
    );
    await writeFile(join(work, 'manifest.json'), manifestText);
    const coordinator: RunningCoordinator = await timed('coordinator start', () =>
      startCoordinator({
        listen: '127.0.0.1:0',
        manifest: parseManifest(manifestText, join(work, 'manifest.json')),
        stateDir: join(work, 'coordinator'),
        validators: createValidators({ allowInsecure: true }),
        logger: silentLogger(),
      }),
    );
    closers.push(() => coordinator.close());
    say('');
    say(`[1] Coordinator: mesh API on 127.0.0.1:${coordinator.port} (aTLS), 2 policies`);

    // 2. Each pod's initializer attests and receives its certificates.
    say('');
    say('[2] Initializers');
    for (const pod of pods) {
      const child = group.start(
        `initializer (${pod.name})`,
        'initializer',
        {
          COORDINATOR_HOST: `127.0.0.1:${coordinator.port}`,
          CONTRAST_TLS_DIR: pod.tlsDir,
          CONTRAST_SECRETS_DIR: pod.secretsDir,
          CONTRAST_DONE_FILE: join(work, pod.name, 'done'),
          CONTRAST_ATTESTATION: 'insecure',
          CONTRAST_ALLOW_INSECURE_ATTESTATION: 'true',
          CONTRAST_INSECURE_HOST_DATA: pod.hostData,
          CONTRAST_RETRY_INTERVAL: '200ms',
          CONTRAST_RENEWAL_INTERVAL: RENEWAL_INTERVAL,
        },
        join(work, `initializer-${pod.name}.log`),
      );
      await timed(`initializer ${pod.name}`, () =>
        waitForFile(join(work, pod.name, 'done'), child, opts.stepTimeoutMs),
      );
      await describePod(
        pod,
        `${pod.name}/tls-config/{certChain,key,mesh-ca,coordinator-root-ca}.pem, ${pod.name}/secrets/workload-secret-seed, then ${pod.name}/done`,
        say,
        timings[`initializer ${pod.name}`] ?? 0,
      );
    }

    // 3. The app behind pod web's meshproxy; pod client's meshproxy offers it on a local egress port.
    const [appPort, ingressPort, egressPort] = [await freePort(), await freePort(), await freePort()];
    const app = await startApp(appPort);
    closers.push(
      () =>
        new Promise<void>((r) => {
          app.close(() => {
            r();
          });
          app.closeAllConnections();
        }),
    );
    const [web, client] = pods as [Pod, Pod];
    const meshWeb = group.start(
      'meshproxy (web)',
      'meshproxy',
      {
        CONTRAST_MESHPROXY_MODE: 'explicit',
        CONTRAST_MESHPROXY_INGRESS_LISTEN: `127.0.0.1:${ingressPort}=${appPort}`,
        CONTRAST_TLS_DIR: web.tlsDir,
        CONTRAST_READY_FILE: join(work, 'web', 'ready'),
      },
      join(work, 'meshproxy-web.log'),
    );
    const meshClient = group.start(
      'meshproxy (client)',
      'meshproxy',
      {
        CONTRAST_MESHPROXY_MODE: 'explicit',
        CONTRAST_INGRESS_PROXY_CONFIG: 'DISABLED',
        CONTRAST_EGRESS_PROXY_CONFIG: `web#127.137.0.1:${egressPort}#127.0.0.1:${ingressPort}`,
        CONTRAST_TLS_DIR: client.tlsDir,
        CONTRAST_READY_FILE: join(work, 'client', 'ready'),
      },
      join(work, 'meshproxy-client.log'),
    );
    await timed('meshproxies ready', () =>
      Promise.all([
        waitForFile(join(work, 'web', 'ready'), meshWeb, opts.stepTimeoutMs),
        waitForFile(join(work, 'client', 'ready'), meshClient, opts.stepTimeoutMs),
      ]),
    );
    say('');
    say('[3] Meshproxies (explicit mode: no iptables, no root)');
    say(
      `  web:    mTLS on 127.0.0.1:${ingressPort} -> app 127.0.0.1:${appPort} (client certificate required, mesh CA)`,
    );
    say(`  client: 127.137.0.1:${egressPort} -> mTLS to web 127.0.0.1:${ingressPort} (presents its mesh certificate)`);

    // 4. The client's request travels over mutual TLS between the two meshproxies.
    say('');
    say('[4] Requests');
    const first = await timed('first request', () =>
      httpGetText(`http://127.137.0.1:${egressPort}/hello`, opts.stepTimeoutMs),
    );
    const requestSucceeded = first.status === 200;
    say(`  client -> web over mTLS: HTTP ${first.status} ${JSON.stringify(first.body.trim())}`);
    const t0 = performance.now();
    const n = 20;
    for (let i = 0; i < n; i++) {
      const r = await httpGetText(`http://127.137.0.1:${egressPort}/hello`, opts.stepTimeoutMs);
      if (r.status !== 200) throw new DemoStepError(`request ${i + 2} answered HTTP ${r.status}`);
    }
    timings[`${n} more requests (new connection each)`] = performance.now() - t0;

    // 5. Without a mesh certificate, the web pod's meshproxy refuses the connection.
    const refusal = await tryWithoutCertificate(ingressPort, join(web.tlsDir, TLS_FILES.meshCA), opts.stepTimeoutMs);
    say(
      `  client without mesh certificate -> web: ${refusal.refused ? `refused by web's meshproxy (${refusal.reason})` : `NOT refused: ${refusal.reason}`}`,
    );
    if (!requestSucceeded)
      throw new DemoStepError(
        `the request over mTLS answered HTTP ${first.status}:\n${logTail(join(work, 'meshproxy-client.log'))}`,
      );
    if (!refusal.refused)
      throw new DemoStepError(`a client without mesh certificate was not refused: ${refusal.reason}`);

    // 5. The Coordinator rotates its mesh CA; the pods renew in place, nothing restarts.
    say('');
    say(`[5] Mesh CA rotation (renewal mode: CONTRAST_RENEWAL_INTERVAL=${RENEWAL_INTERVAL})`);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    closers.push(() => {
      agent.destroy();
      return Promise.resolve();
    });
    const url = `http://127.137.0.1:${egressPort}/kept-alive`;
    await httpGetText(url, opts.stepTimeoutMs, agent);
    const oldCa = fingerprint(await readFile(join(web.tlsDir, TLS_FILES.meshCA), 'utf8'));
    const newCa = fingerprint(await coordinator.rotate());
    say(`  Coordinator: new mesh CA ${newCa} (was ${oldCa}), same root`);
    const renewedAt = performance.now();
    const renewedIn = await Promise.all(
      pods.map(async (pod) => {
        await waitForGeneration(pod.tlsDir, 2, opts.stepTimeoutMs);
        return performance.now() - renewedAt;
      }),
    );
    timings['both pods renewed after the rotation'] = performance.now() - renewedAt;
    for (const [i, pod] of pods.entries()) {
      const ca = fingerprint(await readFile(join(pod.tlsDir, TLS_FILES.meshCA), 'utf8'));
      say(
        `  pod ${pod.name}: renewed in place after ${(renewedIn[i] ?? 0).toFixed(0)} ms (generation 2, ${ca === newCa ? 'the new mesh CA' : 'NOT the new mesh CA'}), no restart`,
      );
    }
    const kept = await httpGetText(url, opts.stepTimeoutMs, agent);
    say(`  connection opened before the rotation: ${kept.reused ? 'still open' : 'NOT reused'}, HTTP ${kept.status}`);
    // The meshproxies reload a moment after the files change; until both have, a new connection can
    // meet a peer that does not know the new CA yet (it asks its initializer to renew at once).
    const fresh = await untilAnswered(`http://127.137.0.1:${egressPort}/hello`, opts.stepTimeoutMs);
    say(`  client -> web over mTLS on the new certificates: HTTP ${fresh.status}`);
    if (!kept.reused || kept.status !== 200 || fresh.status !== 200)
      throw new DemoStepError(
        `after the rotation: kept-alive connection ${kept.reused ? 'reused' : 'not reused'} HTTP ${kept.status}, new connection HTTP ${fresh.status}`,
      );
    for (const child of group.running())
      if (child.process.exitCode !== null)
        throw new DemoStepError(`${child.name} exited during the rotation:\n${logTail(child.logFile)}`);

    say('');
    say('[6] Timings');
    for (const [label, ms] of Object.entries(timings)) say(`  ${label.padEnd(42)} ${ms.toFixed(0).padStart(6)} ms`);
    say('');
    say(
      'Demo finished: mutual TLS between attested pods works; a client without mesh certificate is refused; a mesh CA rotation needs no restart.',
    );
    return { workDir: work, timingsMs: timings, requestSucceeded, clientWithoutCertRefused: refusal.refused };
  } finally {
    await group.stopAll();
    for (const close of closers.reverse()) await close();
    if (!opts.keep) await rm(work, { recursive: true, force: true });
    else say(`(kept ${work}: initializer-*.log, meshproxy-*.log, and each pod's tls-config/ and secrets/)`);
  }
}

async function describePod(pod: Pod, written: string, say: (l: string) => void, ms: number): Promise<void> {
  const read = (f: string): Promise<string> => readFile(join(pod.tlsDir, f), 'utf8');
  const chain = parsePemBundle(await read(TLS_FILES.certChain));
  const meshCa = new X509Certificate(await read(TLS_FILES.meshCA));
  const root = new X509Certificate(await read(TLS_FILES.rootCA));
  const leaf = chain[0];
  if (leaf === undefined) throw new DemoStepError(`${pod.name}: ${TLS_FILES.certChain} holds no certificate`);
  const s = summarise(leaf);
  say(
    `  pod ${pod.name}: attested (insecure document, host data ${pod.hostData.slice(0, 16)}...) in ${ms.toFixed(0)} ms`,
  );
  say(`    certificate  subject ${s.subject}; SANs ${s.sans.join(', ')}; ${s.keyType}; valid until ${s.notAfter}`);
  for (const [i, c] of chain.slice(1).entries())
    say(`    chain[${i + 1}]     ${summarise(c).subject}, issued by ${summarise(c).issuer}`);
  say(`    wrote        ${written} (in the work directory)`);
  // The mesh CA's key is certified twice: self-signed (the anchor pods trust) and by the root (chain[1]).
  say(
    `    mesh CA      ${summarise(meshCa).subject} (self-signed: the anchor pods trust; chain[1] is the same key certified by the root ${summarise(root).subject})`,
  );
  say(`    chain verifies against mesh CA and root: ${chainVerifies(chain, meshCa, root) ? 'yes' : 'NO'}`);
}

function startApp(port: number): Promise<Server> {
  const server = createHttpServer((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`hello from the web app (you asked for ${req.url ?? '/'})\n`);
  });
  // The demo keeps one connection open across the mesh CA rotation.
  server.keepAliveTimeout = 120_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve(server);
    });
  });
}

const RENEWAL_INTERVAL = '2s';

function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256.slice(0, 23);
}

/** A new connection each try until one is answered (the meshproxies reload shortly after the files). */
async function untilAnswered(url: string, timeoutMs: number): Promise<{ status: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await httpGetText(url, timeoutMs);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Waits until the TLS directory's `generation` file says `n` (renewal mode). */
async function waitForGeneration(tlsDir: string, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await readFile(join(tlsDir, 'generation'), 'utf8').catch(() => '')).trim() !== String(n)) {
    if (Date.now() > deadline) throw new DemoStepError(`${tlsDir}: generation ${n} not written within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function httpGetText(
  url: string,
  timeoutMs: number,
  agent: Agent | false = false,
): Promise<{ status: number; body: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { agent, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => {
      req.destroy(new DemoStepError(`GET ${url}: no answer within ${timeoutMs} ms`));
    });
    req.on('error', reject);
  });
}

/** A TLS client that trusts the mesh CA but has no certificate of its own: expect a refusal. */
function tryWithoutCertificate(
  port: number,
  caFile: string,
  timeoutMs: number,
): Promise<{ refused: boolean; reason: string }> {
  return readFile(caFile, 'utf8').then(
    (ca) =>
      new Promise((resolve) => {
        const socket = tlsConnect({ host: '127.0.0.1', port, ca, checkServerIdentity: () => undefined });
        const timer = setTimeout(() => {
          socket.destroy();
          resolve({ refused: false, reason: `no answer within ${timeoutMs} ms` });
        }, timeoutMs);
        const done = (refused: boolean, reason: string): void => {
          clearTimeout(timer);
          socket.destroy();
          resolve({ refused, reason });
        };
        socket.on('secureConnect', () => {
          // With TLS 1.3 the server judges the (missing) client certificate after the client's Finished:
          // the refusal arrives as an alert on the first read.
          socket.write('GET / HTTP/1.0\r\n\r\n');
        });
        let failure: string | undefined;
        socket.on('data', () => {
          done(false, 'the server answered');
        });
        socket.on('error', (err: NodeJS.ErrnoException) => {
          failure = err.code ?? err.message;
        });
        let handshake = false;
        socket.on('secureConnect', () => {
          handshake = true;
        });
        socket.on('close', () => {
          done(
            true,
            failure ?? (handshake ? 'closed after the handshake, no app bytes' : 'closed during the handshake'),
          );
        });
      }),
  );
}
