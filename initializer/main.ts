#!/usr/bin/env node
/** contrast-initializer (see cli.ts). */
import { main } from './cli.js';

main();
