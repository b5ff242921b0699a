/**
 * The certificate store: `certChain.pem`, `key.pem` and `mesh-ca.pem` from the TLS directory, as one
 * SecureContext that serves both directions (server chain + key, client chain + key, mesh CA as the only
 * trust anchor). Reloading publishes a new context; every new connection reads `current`, established
 * connections keep theirs. The directory is watched (the initializer renames files into place), with a
 * slow poll as a safety net.
 *
 * Renewal mode (the initializer's CONTRAST_RENEWAL_INTERVAL): the files are read from the generation
 * directory `..data` points to, so one load never mixes two generations. When a reload brings a new
 * mesh CA, the previous one stays trusted beside it for the grace window (CONTRAST_MESHPROXY_CA_GRACE),
 * so that peers which have not renewed yet keep talking to this pod; then it is dropped.
 */
import { X509Certificate, createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { describeError } from '../lib/errors.js';
import { DEFAULT_TLS_GROUPS } from '../lib/tls-groups.js';
import type { Logger } from '../lib/log.js';
import { TLS_DATA_LINK, TLS_FILES } from '../lib/pod-layout.js';
import { CertificateError } from './errors.js';

export const CERT_CHAIN_FILE = TLS_FILES.certChain;
export const KEY_FILE = TLS_FILES.key;
export const MESH_CA_FILE = TLS_FILES.meshCA;

/** The PEM inputs, for servers that build their own context (tls.Server.setSecureContext). */
export interface TlsFiles {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
  readonly minVersion: 'TLSv1.2';
  /** Key-exchange groups (CONTRAST_TLS_GROUPS). */
  readonly ecdhCurve: string;
}

export interface CertStore {
  /** The context for new client connections. */
  readonly current: SecureContext;
  /** The same material as options, for servers. */
  readonly tlsOptions: TlsFiles;
  /** Subject and expiry of the workload certificate in use (first in certChain.pem). */
  readonly identity: { readonly subject: string; readonly validTo: string };
  /** Increments on every successful reload and when a grace window ends (starts at 1). */
  readonly generation: number;
  /** SHA-256 fingerprints of the trusted mesh CAs: the current one, and the previous one during a grace window. */
  readonly trust: { readonly current: string; readonly previous?: string; readonly previousUntil?: string };
  /** Reloads now; keeps the old context and rejects when the new files are unusable. */
  reload(): Promise<boolean>;
  close(): void;
}

interface Loaded {
  readonly identity: { readonly subject: string; readonly validTo: string };
  readonly context: SecureContext;
  readonly files: TlsFiles;
  readonly digest: string;
}

async function load(dir: string, groups: string): Promise<Loaded> {
  // Renewal mode: one generation directory, resolved once; otherwise the files themselves.
  const base = await realpath(join(dir, TLS_DATA_LINK)).catch(() => dir);
  const read = async (file: string): Promise<Buffer> => {
    try {
      return await readFile(join(base, file));
    } catch (err) {
      throw new CertificateError(`reading ${join(dir, file)}: ${describeError(err)}`, { cause: err });
    }
  };
  const [cert, key, ca] = await Promise.all([read(CERT_CHAIN_FILE), read(KEY_FILE), read(MESH_CA_FILE)]);
  const digest = createHash('sha256').update(cert).update(key).update(ca).digest('hex');
  validate(dir, cert, key, ca);
  try {
    const files: TlsFiles = { cert, key, ca, minVersion: 'TLSv1.2', ecdhCurve: groups };
    const context = createSecureContext(files);
    const leaf = new X509Certificate(cert);
    return { context, files, digest, identity: { subject: leaf.subject.replace(/\n/g, ', '), validTo: leaf.validTo } };
  } catch (err) {
    throw new CertificateError(
      `loading certificates from ${dir} (${CERT_CHAIN_FILE}, ${KEY_FILE}, ${MESH_CA_FILE}): ${describeError(err)}`,
      { cause: err },
    );
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** The certificates of a PEM file, in order; throws naming the file when there is none or one is broken. */
function pemCertificates(path: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0)
    throw new CertificateError(
      `${path}: ${pem.length === 0 ? 'the file is empty' : 'no PEM certificate in the file'}, expected one or more -----BEGIN CERTIFICATE----- blocks`,
    );
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new CertificateError(`${path}: certificate ${i + 1} cannot be parsed: ${describeError(err)}`, {
        cause: err,
      });
    }
  });
}

/**
 * What OpenSSL would accept silently but no peer could use: a trust file without certificates (every
 * peer refused), a key that does not belong to the first certificate of the chain (an RSA key beside
 * an EC certificate lands in another slot of the context and every handshake fails).
 */
function validate(dir: string, cert: Buffer, key: Buffer, ca: Buffer): void {
  const [leaf] = pemCertificates(join(dir, CERT_CHAIN_FILE), cert);
  pemCertificates(join(dir, MESH_CA_FILE), ca);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new CertificateError(`${join(dir, KEY_FILE)}: not a readable private key: ${describeError(err)}`, {
      cause: err,
    });
  }
  if (leaf === undefined || !leaf.checkPrivateKey(privateKey)) {
    throw new CertificateError(
      `${join(dir, KEY_FILE)}: the ${privateKey.asymmetricKeyType ?? 'unknown'} key does not belong to the first certificate of ${join(dir, CERT_CHAIN_FILE)} (${leaf?.publicKey.asymmetricKeyType ?? 'unknown'} key, ${leaf?.subject.replace(/\n/g, ', ') ?? ''})`,
    );
  }
}

export interface CertStoreOptions {
  readonly dir: string;
  readonly log: Logger;
  /** OpenSSL groups list for every context (default DEFAULT_TLS_GROUPS). */
  readonly groups?: string;
  /** Poll interval for the safety-net reload (default 30 s); 0 disables it. */
  readonly pollMs?: number;
  /** Called after each successful reload (and when a grace window ends). */
  readonly onReload?: (generation: number) => void;
  /** How long a replaced mesh CA stays trusted beside the new one (default 0: not at all). */
  readonly graceMs?: number;
  /** Where mesh CA changes and the end of a grace window are logged (default `log`): operators want them. */
  readonly announce?: Logger;
}

/** The loaded files with `previousCa` trusted too. */
function trusting(loaded: Loaded, previousCa: Buffer): Loaded {
  const files: TlsFiles = { ...loaded.files, ca: Buffer.concat([loaded.files.ca, Buffer.from('\n'), previousCa]) };
  return { ...loaded, files, context: createSecureContext(files) };
}

function caFingerprint(pem: Buffer): string {
  try {
    return new X509Certificate(pem).fingerprint256;
  } catch {
    return 'unparsable';
  }
}

/** Loads the certificates (rejects with CertificateError when they are missing) and starts watching. */
export async function openCertStore(options: CertStoreOptions): Promise<CertStore> {
  const { dir, log } = options;
  const groups = options.groups ?? DEFAULT_TLS_GROUPS;
  const graceMs = options.graceMs ?? 0;
  const announce = options.announce ?? log;
  /** As read from the directory; `effective` adds the previous mesh CA during a grace window. */
  let loaded = await load(dir, groups);
  let effective = loaded;
  let previous: { ca: Buffer; until: Date } | undefined;
  let generation = 1;
  let timer: NodeJS.Timeout | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  let inFlight: Promise<boolean> | undefined;

  const endGrace = (): void => {
    if (previous === undefined) return;
    announce.info(
      { dir, previousMeshCA: caFingerprint(previous.ca), meshCA: caFingerprint(loaded.files.ca) },
      'grace window over: the previous mesh CA is no longer trusted',
    );
    previous = undefined;
    effective = loaded;
    generation += 1;
    options.onReload?.(generation);
  };
  const reload = (): Promise<boolean> => {
    inFlight ??= (async () => {
      try {
        const next = await load(dir, groups);
        if (next.digest === loaded.digest) return false;
        const oldCa = loaded.files.ca;
        const caChanged = !next.files.ca.equals(oldCa);
        if (caChanged && graceMs > 0) {
          previous = { ca: oldCa, until: new Date(Date.now() + graceMs) };
          clearTimeout(graceTimer);
          graceTimer = setTimeout(endGrace, graceMs);
          graceTimer.unref();
        }
        loaded = next;
        effective = previous === undefined ? next : trusting(next, previous.ca);
        generation += 1;
        log.info({ dir, generation, identity: loaded.identity }, 'certificates reloaded');
        if (caChanged) {
          announce.info(
            {
              dir,
              oldMeshCA: caFingerprint(oldCa),
              newMeshCA: caFingerprint(next.files.ca),
              graceMs,
              previousTrustedUntil: previous?.until.toISOString(),
            },
            graceMs > 0
              ? 'mesh CA changed: trusting the previous mesh CA too until the grace window ends'
              : 'mesh CA changed: the previous mesh CA is no longer trusted (no grace window)',
          );
        }
        options.onReload?.(generation);
        return true;
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };
  /** The last reload failure logged: a broken set is reported once, not on every poll. */
  let lastFailure: string | undefined;
  const quietReload = (): void => {
    reload().then(
      () => {
        lastFailure = undefined;
      },
      (err: unknown) => {
        const text = describeError(err);
        if (text === lastFailure) return;
        lastFailure = text;
        log.warn({ dir, err: text }, 'certificate reload failed, keeping the current certificates');
      },
    );
  };
  let debounce: NodeJS.Timeout | undefined;
  try {
    watcher = watch(dir, () => {
      clearTimeout(debounce);
      debounce = setTimeout(quietReload, 200);
      debounce.unref();
    });
    watcher.on('error', (err) => {
      log.warn({ dir, err: describeError(err) }, 'watching the certificate directory failed; polling only');
    });
  } catch (err) {
    log.warn({ dir, err: describeError(err) }, 'cannot watch the certificate directory; polling only');
  }
  const pollMs = options.pollMs ?? 30_000;
  if (pollMs > 0) {
    timer = setInterval(quietReload, pollMs);
    timer.unref();
  }
  return {
    get current() {
      return effective.context;
    },
    get tlsOptions() {
      return effective.files;
    },
    get identity() {
      return loaded.identity;
    },
    get generation() {
      return generation;
    },
    get trust() {
      return {
        current: caFingerprint(loaded.files.ca),
        ...(previous === undefined
          ? {}
          : { previous: caFingerprint(previous.ca), previousUntil: previous.until.toISOString() }),
      };
    },
    reload,
    close() {
      clearInterval(timer);
      clearTimeout(debounce);
      clearTimeout(graceTimer);
      watcher?.close();
    },
  };
}
