/**
 * Test certificates, generated per test run with @peculiar/x509 over WebCrypto (ECDSA P-256, like the
 * Coordinator's PKI): a mesh CA, workload leaves (serverAuth + clientAuth), a leaf of another CA, and an
 * expired leaf of the mesh CA. `writeTlsDir()` lays them out as the initializer does.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

x509.cryptoProvider.set(webcrypto);
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface Issued {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface CA extends Issued {
  readonly cert: x509.X509Certificate;
  readonly keys: CryptoKeyPair;
}

const DAY = 86_400_000;
let serial = 1;

function nl(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return nl(x509.PemConverter.encode(der, 'PRIVATE KEY'));
}

export async function createCA(cn: string): Promise<CA> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: (serial++).toString(16).padStart(2, '0'),
    name: `CN=${cn}`,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 3650 * DAY),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys, certPem: nl(cert.toString('pem')), keyPem: await keyPem(keys.privateKey) };
}

export async function issueLeaf(ca: CA, cn: string, opts: { notBefore?: Date; notAfter?: Date } = {}): Promise<Issued> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (serial++).toString(16).padStart(2, '0'),
    subject: `CN=${cn}`,
    issuer: ca.cert.subject,
    notBefore: opts.notBefore ?? new Date(Date.now() - 3_600_000),
    notAfter: opts.notAfter ?? new Date(Date.now() + 365 * DAY),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: cn }]),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return { certPem: nl(cert.toString('pem')), keyPem: await keyPem(keys.privateKey) };
}

export interface TestPki {
  readonly meshCA: CA;
  readonly otherCA: CA;
  readonly client: Issued;
  readonly server: Issued;
  readonly foreign: Issued;
  readonly expired: Issued;
}

export async function createTestPki(): Promise<TestPki> {
  const meshCA = await createCA('system:coordinator:intermediate');
  const otherCA = await createCA('some other CA');
  return {
    meshCA,
    otherCA,
    client: await issueLeaf(meshCA, 'client'),
    server: await issueLeaf(meshCA, 'server'),
    foreign: await issueLeaf(otherCA, 'client'),
    expired: await issueLeaf(meshCA, 'client', {
      notBefore: new Date(Date.now() - 30 * DAY),
      notAfter: new Date(Date.now() - DAY),
    }),
  };
}

/** Writes mesh-ca.pem, certChain.pem (leaf then CA) and key.pem (0400) like the initializer, each by rename. */
export async function writeTlsDir(dir: string, ca: CA, leaf: Issued): Promise<void> {
  await mkdir(dir, { recursive: true });
  const put = async (name: string, data: string, mode: number): Promise<void> => {
    const tmp = join(dir, `.${name}.tmp`);
    await writeFile(tmp, data);
    await chmod(tmp, mode);
    await rename(tmp, join(dir, name));
  };
  await put('mesh-ca.pem', ca.certPem, 0o444);
  await put('certChain.pem', leaf.certPem + ca.certPem, 0o444);
  await put('key.pem', leaf.keyPem, 0o400);
}

/** Writes a PEM pair for a client program (cert.pem, key.pem) into `dir`. */
export async function writePair(dir: string, leaf: Issued, withChainOf?: CA): Promise<{ cert: string; key: string }> {
  await mkdir(dir, { recursive: true });
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await writeFile(cert, leaf.certPem + (withChainOf?.certPem ?? ''));
  await writeFile(key, leaf.keyPem, { mode: 0o600 });
  return { cert, key };
}

/**
 * A fresh test PKI written under `dir` for a meshproxy test with a mesh client: the proxy's TLS
 * directory (`tls/`, the server leaf), the mesh CA alone (`ca.pem`) and the client's pair (`mesh/`,
 * chained to the mesh CA).
 */
export async function writeMeshPki(dir: string): Promise<{ ca: string; mesh: { cert: string; key: string } }> {
  const pki = await createTestPki();
  await writeTlsDir(join(dir, 'tls'), pki.meshCA, pki.server);
  const ca = join(dir, 'ca.pem');
  await writeFile(ca, pki.meshCA.certPem);
  const mesh = await writePair(join(dir, 'mesh'), pki.client, pki.meshCA);
  return { ca, mesh };
}
