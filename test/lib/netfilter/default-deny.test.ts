/** The default-deny helper against real iptables in a network namespace. */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_DENY_RULE,
  hasDefaultDeny,
  insertDefaultDeny,
  removeDefaultDeny,
} from '../../../lib/netfilter/default-deny.js';
import { createIptables, IptablesError } from '../../../lib/netfilter/iptables.js';
import { createNetnsPair } from '../../meshproxy/netns.js';

test('insert, detect, remove every copy, and tolerate absence', async (t) => {
  const pair = await createNetnsPair('dd');
  t.teardown(() => pair.destroy());
  // The binary is a wrapper that runs iptables-legacy inside the namespace.
  const dir = await mkdtemp(join(tmpdir(), `default-deny-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const wrapper = join(dir, 'iptables');
  await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${pair.server} iptables-legacy "$@"\n`, { mode: 0o755 });
  const inNs = createIptables(wrapper);
  t.false(await hasDefaultDeny(inNs));
  t.is(await removeDefaultDeny(inNs), 0);
  await insertDefaultDeny(inNs);
  await insertDefaultDeny(inNs);
  t.true(await hasDefaultDeny(inNs));
  const listing = (await pair.exec(pair.server, 'iptables-legacy', ['-S', 'INPUT'])).stdout;
  t.is(listing.split('\n').filter((l) => l.includes('--ctstate RELATED,ESTABLISHED -j DROP')).length, 2);
  t.is(await removeDefaultDeny(inNs), 2);
  t.false(await hasDefaultDeny(inNs));
  t.deepEqual([...DEFAULT_DENY_RULE], ['-m', 'conntrack', '!', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'DROP']);
});

test('a missing binary is an IptablesError naming it', async (t) => {
  const ipt = createIptables('/nonexistent/iptables-legacy');
  const err = await t.throwsAsync(ipt.run(['-S']), { instanceOf: IptablesError });
  t.is(err.code, 'ERR_IPTABLES');
  t.true(err.message.includes('/nonexistent/iptables-legacy'));
});
