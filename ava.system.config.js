// npm run test:system: the test files listed in test/system-tests.json (root, namespaces, containerd, FUSE).
import { readFileSync } from 'node:fs';
import base from './ava.config.js';

const system = JSON.parse(readFileSync(new URL('./test/system-tests.json', import.meta.url), 'utf8')).files;

export default { ...base, files: system };
