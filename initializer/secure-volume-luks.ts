/**
 * The LUKS2 contract of an encrypted persistent volume (secure-pv), as upstream's
 * `internal/cryptsetup` formats it: `cryptsetup luksFormat` arguments, and the check of a header
 * before every open. A header is accepted only when it is exactly what that format writes: one
 * keyslot (argon2id, aes-xts-plain64), one crypt segment, one pbkdf2 digest tying them, no tokens.
 * A header an attacker with access to the disk replaced or extended (another keyslot, a null cipher,
 * another KDF, a token) is refused before the volume is opened.
 */
import { SecureVolumeError } from './errors.js';

export interface LuksProfile {
  readonly name: string;
  /** Integrity of the data segment: `hmac(sha256)` (dm-integrity), or undefined for none. */
  readonly integrity: 'hmac(sha256)' | undefined;
  /** Volume key bytes: 64 (AES-XTS-256 x2) plus 32 for the HMAC key with integrity. */
  readonly keySize: number;
}

/** Upstream's parameters: what a volume formatted by upstream's initializer carries, and what ours writes. */
export const UPSTREAM_PROFILE: LuksProfile = Object.freeze({
  name: 'upstream',
  integrity: 'hmac(sha256)',
  keySize: 96,
});

/**
 * The same without dm-integrity, for kernels without device-mapper (this project's CI machines, where
 * `luksFormat --integrity` cannot format the integrity superblock). Never the default; only tests
 * inject it.
 */
export const NO_INTEGRITY_PROFILE: LuksProfile = Object.freeze({
  name: 'no-integrity (test kernels without dm-integrity)',
  integrity: undefined,
  keySize: 64,
});

export const SECTOR_SIZE = 4096;

/** `cryptsetup luksFormat` arguments (upstream's, in upstream's order). */
export function formatArgs(profile: LuksProfile, devicePath: string, keyFile: string): string[] {
  return [
    'luksFormat',
    '--type=luks2',
    '--cipher=aes-xts-plain64',
    '--pbkdf=argon2id',
    '--pbkdf-memory=10240',
    ...(profile.integrity === undefined ? [] : ['--integrity=hmac-sha256', '--integrity-no-wipe']),
    `--sector-size=${SECTOR_SIZE}`,
    '--batch-mode',
    `--key-file=${keyFile}`,
    devicePath,
  ];
}

/** The binary header: LUKS magic and version 2 (upstream's first check of the backup file). */
export function checkBinaryHeader(header: Uint8Array, where: string): void {
  const magic = Buffer.from(header.subarray(0, 6));
  if (!magic.equals(Buffer.from('LUKS\xba\xbe', 'latin1')))
    throw new SecureVolumeError(
      'ERR_INIT_SECURE_PV_HEADER',
      `${where}: no primary LUKS header (magic ${magic.toString('hex')})`,
    );
  const version = header.length >= 8 ? Buffer.from(header).readUInt16BE(6) : -1;
  if (version !== 2)
    throw new SecureVolumeError('ERR_INIT_SECURE_PV_HEADER', `${where}: LUKS version ${version}, expected 2`);
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});
const keysOf = (v: unknown): string[] => Object.keys(obj(v));

/**
 * Checks `luksDump --dump-json-metadata` output against the profile. Returns nothing; throws
 * ERR_INIT_SECURE_PV_HEADER naming the first difference.
 */
export function verifyHeaderJson(text: string, profile: LuksProfile, where: string): void {
  let meta: Json;
  try {
    meta = obj(JSON.parse(text));
  } catch (err) {
    throw new SecureVolumeError('ERR_INIT_SECURE_PV_HEADER', `${where}: luksDump did not print JSON`, { cause: err });
  }
  const problems: string[] = [];
  const expect = (what: string, actual: unknown, wanted: unknown): void => {
    if (JSON.stringify(actual) !== JSON.stringify(wanted))
      problems.push(`${what} is ${JSON.stringify(actual)}, expected ${JSON.stringify(wanted)}`);
  };
  const unknownTop = Object.keys(meta).filter(
    (k) => !['keyslots', 'tokens', 'segments', 'digests', 'config'].includes(k),
  );
  expect('top-level sections beyond keyslots/tokens/segments/digests/config', unknownTop, []);
  expect('keyslots', keysOf(meta['keyslots']), ['0']);
  const ks = obj(obj(meta['keyslots'])['0']);
  expect('keyslot 0 type', ks['type'], 'luks2');
  expect('keyslot 0 key_size', ks['key_size'], profile.keySize);
  const area = obj(ks['area']);
  expect('keyslot 0 area type', area['type'], 'raw');
  expect('keyslot 0 area encryption', area['encryption'], 'aes-xts-plain64');
  expect('keyslot 0 area key_size', area['key_size'], 64);
  const af = obj(ks['af']);
  expect('keyslot 0 af', [af['type'], af['stripes'], af['hash']], ['luks1', 4000, 'sha256']);
  const kdf = obj(ks['kdf']);
  expect('keyslot 0 kdf type', kdf['type'], 'argon2id');
  if (typeof kdf['salt'] !== 'string' || kdf['salt'] === '') problems.push('keyslot 0 kdf salt is empty');
  expect('tokens', keysOf(meta['tokens']), []);
  expect('segments', keysOf(meta['segments']), ['0']);
  const seg = obj(obj(meta['segments'])['0']);
  expect('segment 0 type', seg['type'], 'crypt');
  expect('segment 0 flags', seg['flags'] ?? [], []);
  expect('segment 0 iv_tweak', seg['iv_tweak'], '0');
  expect('segment 0 encryption', seg['encryption'], 'aes-xts-plain64');
  expect('segment 0 sector_size', seg['sector_size'], SECTOR_SIZE);
  if (profile.integrity === undefined) expect('segment 0 integrity', seg['integrity'], undefined);
  else {
    const integrity = obj(seg['integrity']);
    expect(
      'segment 0 integrity',
      [integrity['type'], integrity['journal_encryption'], integrity['journal_integrity']],
      [profile.integrity, 'none', 'none'],
    );
  }
  expect('digests', keysOf(meta['digests']), ['0']);
  const dg = obj(obj(meta['digests'])['0']);
  expect('digest 0 type', dg['type'], 'pbkdf2');
  expect('digest 0 keyslots', dg['keyslots'], ['0']);
  expect('digest 0 segments', dg['segments'], ['0']);
  expect('digest 0 hash', dg['hash'], 'sha256');
  if (typeof dg['salt'] !== 'string' || dg['salt'] === '' || typeof dg['digest'] !== 'string' || dg['digest'] === '')
    problems.push('digest 0 salt or digest is empty');
  if (problems.length > 0) {
    throw new SecureVolumeError(
      'ERR_INIT_SECURE_PV_HEADER',
      `${where}: the LUKS header is not the one this volume was formatted with (${profile.name} profile), refusing to open it: ${problems.join('; ')}`,
    );
  }
}
