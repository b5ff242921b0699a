/**
 * Test key material for the TEE emulators, generated once per build and cached in
 * test/emulators/build/keys-<hash>/ (a new hash when the platform constants change).
 *
 *   SNP: ARK (RSA-4096, self-signed) -> ASK (RSA-4096) -> VCEK (P-384), all links RSASSA-PSS/SHA-384
 *        with salt 48 like AMD's; the VCEK carries the KDS extensions (1.3.6.1.4.1.3704.1.*) for
 *        TEST_PLATFORM's chip ID and reported TCB. certs.bin is the GHCB certificate table (VCEK, ASK, ARK).
 *   TDX: test "Intel SGX Root CA" -> "Intel SGX PCK Platform CA" -> "Intel SGX PCK Certificate" (P-256,
 *        ECDSA/SHA-256; the leaf has the SGX extension with PPID, TCB, PCE-ID, FMSPC), and the P-256
 *        attestation key that signs quotes.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createHash, webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
import { mkdir, mkdtemp, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeSnpCertTable, SNP_CERT_GUIDS } from '../../lib/native/tee-certs.js';
import { enumerated, ia5, integer, octets, oid, sequence } from './der.js';

/** The emulated machine: chip ID and TCB (Milan byte order: bl, tee, 0,0,0,0, snp, ucode). */
export const TEST_PLATFORM = {
  product: 'Milan-B0',
  chipId: createHash('sha512').update('contrast test chip').digest(),
  tcb: { bootloader: 3, tee: 0, snp: 8, microcode: 115 },
  fmspc: Buffer.from('00906ed50000', 'hex'),
} as const;

export function tcbBytes(tcb = TEST_PLATFORM.tcb): Buffer {
  return Buffer.from([tcb.bootloader, tcb.tee, 0, 0, 0, 0, tcb.snp, tcb.microcode]);
}

const KEYS_VERSION = 'v1';
const AMD_OU = 'OU=Engineering, O=Advanced Micro Devices, L=Santa Clara, ST=CA, C=US';
const INTEL_O = 'O=Intel Corporation, L=Santa Clara, ST=CA, C=US';
const PSS = { name: 'RSA-PSS', hash: 'SHA-384', saltLength: 48 };
const RSA_GEN = { ...PSS, modulusLength: 4096, publicExponent: new Uint8Array([1, 0, 1]) };
const P384 = { name: 'ECDSA', namedCurve: 'P-384' };
const P256 = { name: 'ECDSA', namedCurve: 'P-256' };
const ES256 = { name: 'ECDSA', hash: 'SHA-256' };

x509.cryptoProvider.set(webcrypto);

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64.endsWith('\n') ? b64 : `${b64}\n`}-----END ${label}-----\n`;
}

async function privatePem(key: CryptoKey): Promise<string> {
  return pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', key));
}

function validity(): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - 86_400_000), notAfter: new Date(now + 20 * 365 * 86_400_000) };
}

const caExtensions = (): x509.Extension[] => [
  new x509.BasicConstraintsExtension(true, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
];

function vcekExtensions(): x509.Extension[] {
  const p = '1.3.6.1.4.1.3704.1.';
  const t = TEST_PLATFORM.tcb;
  const ext = (suffix: string, value: Uint8Array): x509.Extension => new x509.Extension(p + suffix, false, value);
  return [
    ext('1', integer(0)),
    ext('2', ia5(TEST_PLATFORM.product)),
    ext('3.1', integer(t.bootloader)),
    ext('3.2', integer(t.tee)),
    ext('3.3', integer(t.snp)),
    ext('3.4', integer(0)),
    ext('3.5', integer(0)),
    ext('3.6', integer(0)),
    ext('3.7', integer(0)),
    ext('3.8', integer(t.microcode)),
    ext('4', TEST_PLATFORM.chipId), // raw bytes, no OCTET STRING tag, like AMD's KDS
  ];
}

/** SGX extension of a PCK certificate (1.2.840.113741.1.13.1): PPID, TCB, PCE-ID, FMSPC, SGX type. */
function sgxExtension(): x509.Extension {
  const base = '1.2.840.113741.1.13.1';
  const item = (suffix: string, value: Buffer): Buffer => sequence(oid(`${base}.${suffix}`), value);
  const comps = Array.from({ length: 16 }, (_, i) => item(`2.${i + 1}`, integer(i < 2 ? 3 : 0)));
  const tcb = sequence(
    ...comps,
    item('2.17', integer(13)),
    item('2.18', octets(Buffer.from('03030000000000000000000000000000', 'hex'))),
  );
  const value = sequence(
    item('1', octets(createHash('sha256').update('contrast test ppid').digest().subarray(0, 16))),
    item('2', tcb),
    item('3', octets(Buffer.from([0, 0]))),
    item('4', octets(TEST_PLATFORM.fmspc)),
    item('5', enumerated(0)),
  );
  return new x509.Extension(base, false, value);
}

interface Issued {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

async function issue(
  subject: string,
  issuer: Issued | undefined,
  gen: webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams,
  sign: webcrypto.Algorithm,
  extensions: x509.Extension[],
): Promise<Issued> {
  const keys = await webcrypto.subtle.generateKey(gen, true, ['sign', 'verify']);
  const common = {
    serialNumber: createHash('sha256')
      .update(subject)
      .digest('hex')
      .slice(0, 16)
      .replace(/^[89a-f]/, '1'),
    ...validity(),
    signingAlgorithm: sign,
    extensions,
  };
  const cert =
    issuer === undefined
      ? await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: subject, keys })
      : await x509.X509CertificateGenerator.create({
          ...common,
          subject,
          issuer: issuer.cert.subject,
          publicKey: keys.publicKey,
          signingKey: issuer.keys.privateKey,
        });
  return { cert, keys };
}

async function generate(dir: string): Promise<void> {
  const ark = await issue(`CN=ARK-Milan, ${AMD_OU}`, undefined, RSA_GEN, PSS, caExtensions());
  const ask = await issue(`CN=SEV-Milan, ${AMD_OU}`, ark, RSA_GEN, PSS, caExtensions());
  const vcek = await issue(`CN=SEV-VCEK, ${AMD_OU}`, ask, P384, PSS, vcekExtensions());
  const root = await issue(`CN=Intel SGX Root CA, ${INTEL_O}`, undefined, P256, ES256, caExtensions());
  const platform = await issue(`CN=Intel SGX PCK Platform CA, ${INTEL_O}`, root, P256, ES256, caExtensions());
  const pck = await issue(`CN=Intel SGX PCK Certificate, ${INTEL_O}`, platform, P256, ES256, [sgxExtension()]);
  const attestation = await webcrypto.subtle.generateKey(P256, true, ['sign', 'verify']);
  const certPem = (c: Issued): string => c.cert.toString('pem') + '\n';
  const files: Record<string, string | Buffer> = {
    'ark.pem': certPem(ark),
    'ask.pem': certPem(ask),
    'vcek.pem': certPem(vcek),
    'vcek.der': Buffer.from(vcek.cert.rawData),
    'vcek.key': await privatePem(vcek.keys.privateKey),
    'certs.bin': encodeSnpCertTable([
      { guid: SNP_CERT_GUIDS.vcek, der: new Uint8Array(vcek.cert.rawData) },
      { guid: SNP_CERT_GUIDS.ask, der: new Uint8Array(ask.cert.rawData) },
      { guid: SNP_CERT_GUIDS.ark, der: new Uint8Array(ark.cert.rawData) },
    ]),
    'tdx-root.pem': certPem(root),
    'pck-chain.pem': certPem(pck) + certPem(platform) + certPem(root),
    'pck.key': await privatePem(pck.keys.privateKey),
    'attestation.key': await privatePem(attestation.privateKey),
    'attestation.pub.pem': pem('PUBLIC KEY', await webcrypto.subtle.exportKey('spki', attestation.publicKey)),
  };
  for (const [name, data] of Object.entries(files)) await writeFile(join(dir, name), data, { mode: 0o600 });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function complete(dir: string): Promise<boolean> {
  try {
    await readFile(join(dir, 'attestation.pub.pem'));
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns the cached key directory under buildDir, generating it if missing. One generator at a time
 * (an exclusive lock file, shared by all test processes; a lock older than 2 minutes is stale); the
 * keys are written to a temporary directory and renamed into place.
 */
export async function ensureTestKeys(buildDir: string): Promise<string> {
  const id = createHash('sha256')
    .update(KEYS_VERSION)
    .update(TEST_PLATFORM.chipId)
    .update(tcbBytes())
    .digest('hex')
    .slice(0, 12);
  const dir = join(buildDir, `keys-${id}`);
  const lock = `${dir}.lock`;
  await mkdir(buildDir, { recursive: true });
  for (const deadline = Date.now() + 300_000; Date.now() < deadline;) {
    if (await complete(dir)) return dir;
    let handle;
    try {
      handle = await open(lock, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = await stat(lock).then(
        (st) => Date.now() - st.mtimeMs,
        () => 0,
      );
      if (age > 120_000) await rm(lock, { force: true });
      await sleep(200);
      continue;
    }
    try {
      if (await complete(dir)) return dir;
      const tmp = await mkdtemp(`${dir}.tmp-`);
      try {
        await generate(tmp);
        await rm(dir, { recursive: true, force: true });
        await rename(tmp, dir);
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        throw err;
      }
    } finally {
      await handle.close();
      await rm(lock, { force: true });
    }
  }
  throw new Error(`test keys in ${dir}: gave up waiting for ${lock}`);
}
