/**
 * The suite's version: the one home of this fact. Read from the repository's package.json through a
 * JSON import, so that tsc copies it next to dist/ and the bundler inlines it into each program (the
 * images need no package.json at run time). Programs, images and manifests all import it from here.
 */
import pkg from '../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
