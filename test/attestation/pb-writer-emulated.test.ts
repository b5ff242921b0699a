/**
 * Documents issued from the emulated TEEs (test/emulators: /dev/sev-guest ioctls with host certificates,
 * configfs-tsm for SEV-SNP and TDX) are encoded by the hand-written pb-writer.ts; decoding them and
 * encoding the result again with the previous protobufjs encoders must give the same bytes.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { emulatorAttestationConfig as config, mountEmulators, type Emulators } from '../emulators/harness.js';
import { silentLogger } from '../../lib/log.js';
import { createIssuer } from '../../lib/attestation/platform.js';
import { decodeSnpDocument } from '../../lib/attestation/snp-document.js';
import { decodeTdxDocument } from '../../lib/attestation/tdx-document.js';
import { parseTdxQuote } from '../../lib/attestation/tdx-quote.js';
import { nativeTeeAccess } from '../../lib/attestation/native-tee.js';
import { protobufjsSnpDocument, protobufjsTdxDocument } from './pb-reference.js';

let shared: Emulators | undefined;
test.before(async () => {
  shared = await mountEmulators();
});
test.after.always(async () => {
  await shared?.unmount();
});

const tee = { tee: () => Promise.resolve(nativeTeeAccess()) };

test.serial('SEV-SNP documents from the emulated ioctl device and configfs-tsm equal protobufjs', async (t) => {
  const emu = shared!;
  for (const over of [{ snpDevice: emu.snpDevice }, { tsmReportDir: emu.tsmSnpDir }]) {
    const issuer = await createIssuer(config(emu, over), silentLogger(), tee);
    t.is(issuer.kind, 'snp');
    for (let i = 0; i < 3; i++) {
      const issued = Buffer.from(await issuer.issue(randomBytes(64)));
      const doc = decodeSnpDocument(issued);
      t.not(doc.chain, undefined, 'the emulator hands out certificates');
      t.true(protobufjsSnpDocument(doc).equals(issued), JSON.stringify(over));
    }
  }
});

test.serial('TDX documents from the emulated configfs-tsm equal protobufjs', async (t) => {
  const emu = shared!;
  const issuer = await createIssuer(config(emu, { tsmReportDir: emu.tsmTdxDir }), silentLogger());
  t.is(issuer.kind, 'tdx');
  for (let i = 0; i < 3; i++) {
    const issued = Buffer.from(await issuer.issue(randomBytes(64)));
    const quote = decodeTdxDocument(issued);
    t.true(protobufjsTdxDocument(parseTdxQuote(Buffer.concat([quote.raw, quote.extraBytes]))).equals(issued));
  }
});
