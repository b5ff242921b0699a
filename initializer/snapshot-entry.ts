/**
 * Entry of a V8 start-up snapshot of the initializer (`node --build-snapshot`), for images that start
 * it with `node --snapshot-blob`: everything the pod path loads (logger, configuration, attestation
 * issuers, aTLS, the grpc-js MeshAPI client) is evaluated at build time and deserialized at start-up.
 * The native addon is not in the snapshot: it is loaded on first use, as always. See
 * bench/initializer/snapshot.ts for how the blob is built and README "## Initializer" for its use.
 */
import { startupSnapshot } from 'node:v8';
import { main } from './cli.js';
// Loaded lazily by main on the pod path; imported here so that the snapshot holds them evaluated.
import '../lib/attestation/platform.js';
import '../lib/attestation/insecure.js';
import '../lib/attestation/snp-issuer.js';
import '../lib/attestation/snp-kds.js';
import '../lib/attestation/tdx-issuer.js';

startupSnapshot.setDeserializeMainFunction(() => {
  main();
});
