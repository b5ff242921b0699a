// npm run test:unit: every test file not listed in test/system-tests.json (no root, seconds).
import { readFileSync } from 'node:fs';
import base from './ava.config.js';

const system = JSON.parse(readFileSync(new URL('./test/system-tests.json', import.meta.url), 'utf8')).files;

export default { ...base, files: [...base.files, ...system.map((f) => `!${f}`)] };
