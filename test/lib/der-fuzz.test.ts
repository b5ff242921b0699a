/**
 * Randomized test of the DER reader (lib/x509/der.ts) on untrusted input: real certificates (AMD's
 * VCEK, our aTLS and mesh certificates) mutated (bit flips, byte changes, inflated lengths, inserted and
 * deleted bytes, splices) and truncated, fed to every reader that sees peer bytes. Each must return or
 * throw DerError: no other error, and no hang (every loop consumes input, so a case ends or throws).
 */
import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { createAtlsCertificate } from '../../lib/atls/issue-certificate.js';
import { newP384Key } from '../../lib/coordinator/ca.js';
import { issueMeshCert } from '../../lib/coordinator/mesh-cert.js';
import { readCertificateFields } from '../../lib/x509/certificate-fields.js';
import {
  DerError,
  directoryString,
  nameAttributes,
  oidString,
  readChildren,
  readElement,
  readWhole,
  TAG,
  type Element,
} from '../../lib/x509/der.js';
import { milanVcek } from '../attestation/helpers.js';
import { prng } from '../helpers/prng.js';

const CASES = 4000;

/** Walks every constructed element down to its leaves, decoding OIDs and directory strings on the way. */
function walk(buf: Buffer, depth = 0): number {
  let count = 0;
  for (const e of readChildren(buf)) {
    count++;
    if (depth > 64) throw new DerError('nested too deep');
    if ((e.tag & 0x20) !== 0) count += walk(e.content, depth + 1);
    else leaf(e);
  }
  return count;
}

function leaf(e: Element): void {
  if (e.tag === TAG.OID) oidString(e.content);
  else if (
    [TAG.UTF8_STRING, TAG.PRINTABLE_STRING, TAG.IA5_STRING, TAG.T61_STRING, TAG.BMP_STRING].includes(e.tag as never)
  )
    directoryString(e);
}

/** The issuer Name of a certificate, as the aTLS client reads CA names (lib/atls/nonce.ts). */
function issuerName(der: Buffer): Buffer {
  const cert = readWhole(der, TAG.SEQUENCE, 'Certificate');
  const tbs = readChildren(cert.content)[0];
  if (tbs === undefined) throw new DerError('no TBSCertificate');
  const fields = readChildren(tbs.content);
  const issuer = fields[fields[0]?.tag === 0xa0 ? 3 : 2];
  if (issuer === undefined) throw new DerError('no issuer');
  return Buffer.concat([Buffer.from([issuer.tag]), lengthOf(issuer.content.length), issuer.content]);
}

function lengthOf(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  return n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
}

const TARGETS: Readonly<Record<string, (b: Buffer) => unknown>> = {
  readElement: (b) => readElement(b),
  walk: (b) => walk(b),
  readCertificateFields,
  nameAttributes: (b) => nameAttributes(b, '2.5.4.3'),
  issuerNameAttributes: (b) => nameAttributes(issuerName(b), '2.5.4.3'),
};

function mutate(seed: Buffer, next: () => number): Buffer {
  const pick = (n: number): number => Math.floor(next() * n);
  let b = Buffer.from(seed);
  const edits = 1 + pick(4);
  for (let i = 0; i < edits; i++) {
    const at = pick(b.length);
    switch (pick(7)) {
      case 0:
        b[at] = (b[at] ?? 0) ^ (1 << pick(8));
        break;
      case 1:
        b[at] = pick(256);
        break;
      // Long-form lengths, a multi-byte tag, zero, and string tags (BMPString, T61String, UTF8String).
      case 2:
        b[at] = [0x80, 0x81, 0x82, 0x84, 0x85, 0x8f, 0xff, 0x1f, 0x00, 0x1e, 0x14, 0x0c][pick(12)] ?? 0;
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), Buffer.from([pick(256)]), b.subarray(at)]);
        break;
      case 4:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + pick(8))]);
        break;
      case 5:
        b = b.subarray(0, at);
        break;
      default: {
        const from = pick(b.length);
        b = Buffer.concat([b.subarray(0, at), b.subarray(from, from + pick(64)), b.subarray(at)]);
      }
    }
  }
  return b;
}

async function seeds(): Promise<Array<[string, Buffer]>> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return [
    ['AMD VCEK', milanVcek()],
    [
      'aTLS certificate',
      createAtlsCertificate({ privateKey, publicKey, document: { oid: '1.3.9901.2.1', value: Buffer.alloc(200, 3) } }),
    ],
    [
      'mesh certificate',
      issueMeshCert({
        issuerKey: await newP384Key(),
        subjectPublicKey: publicKey,
        sans: ['a', '10.0.0.1'],
        workloadSecretID: 'w',
      }),
    ],
  ];
}

/** Runs one target on one input: undefined if it returned or threw DerError, else what went wrong. */
function check(target: (b: Buffer) => unknown, input: Buffer): string | undefined {
  try {
    target(input);
    return undefined;
  } catch (err) {
    return err instanceof DerError ? undefined : `${err instanceof Error ? err.name : typeof err}: ${String(err)}`;
  }
}

test('the seeds parse: every target accepts the unmutated certificates', async (t) => {
  for (const [name, der] of await seeds()) {
    for (const [target, fn] of Object.entries(TARGETS)) {
      if (target === 'nameAttributes') continue; // a certificate is not a Name
      t.notThrows(() => fn(der), `${target} on ${name}`);
    }
    t.true(walk(der) > 20, name);
  }
});

test('every truncation of each certificate throws DerError from each target', async (t) => {
  for (const [name, der] of await seeds()) {
    for (let n = 0; n < der.length; n++) {
      for (const [target, fn] of Object.entries(TARGETS)) {
        if (target === 'walk' || target === 'readElement' || target === 'nameAttributes') continue; // a prefix can be well-formed children
        const err = t.throws(() => fn(der.subarray(0, n)), undefined, `${target} on ${name} cut at ${n}`);
        if (!(err instanceof DerError)) t.fail(`${target} on ${name} cut at ${n}: ${String(err)}`);
      }
    }
  }
});

test(`${CASES} mutated certificates: each target returns or throws DerError`, async (t) => {
  const seed = 0xde2f00d;
  const next = prng(seed);
  const inputs = await seeds();
  let rejected = 0;
  for (let i = 0; i < CASES; i++) {
    const [name, der] = inputs[i % inputs.length] ?? ['', Buffer.alloc(0)];
    const input = mutate(der, next);
    for (const [target, fn] of Object.entries(TARGETS)) {
      const bad = check(fn, input);
      if (bad !== undefined) {
        t.fail(`seed ${seed} case ${i} (${name}) ${target} on ${input.toString('hex')}: ${bad}`);
        return;
      }
    }
    if (
      check((b) => {
        readCertificateFields(b);
        throw new Error('accepted');
      }, input) === undefined
    )
      rejected++;
  }
  t.true(rejected > CASES / 4, `${rejected} of ${CASES} mutated certificates rejected`);
});

test('a BMPString of odd length is a DerError, not a RangeError from Buffer.swap16', (t) => {
  t.throws(() => directoryString({ tag: TAG.BMP_STRING, content: Buffer.from([0, 0x41, 0]), end: 5 }), {
    instanceOf: DerError,
    message: /even length/,
  });
  t.is(directoryString({ tag: TAG.BMP_STRING, content: Buffer.from([0, 0x41, 0, 0x42]), end: 6 }), 'AB');
  // The same inside a Name, as the aTLS client reads a server's CA names.
  const atv = Buffer.from([0x30, 0x0a, 0x06, 0x03, 0x55, 0x04, 0x03, 0x1e, 0x03, 0x00, 0x41, 0x00]);
  const name = Buffer.concat([Buffer.from([0x30, atv.length + 2, 0x31, atv.length]), atv]);
  t.throws(() => nameAttributes(name, '2.5.4.3'), { instanceOf: DerError });
});
