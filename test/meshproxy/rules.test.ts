/** Interception rules against real iptables-legacy and ip6tables-legacy in a network namespace. */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createIptables, type Iptables } from '../../lib/netfilter/iptables.js';
import type { MeshPlan } from '../../meshproxy/config-annotations.js';
import { ingressRuleset, installIngressRules, removeIngressRules } from '../../meshproxy/rules.js';
import { createNetnsPair } from './netns.js';

const planA: MeshPlan = {
  ingress: {
    disabled: false,
    ports: [
      { name: 'web', port: 8001, mode: 'tls' },
      { name: 'm', port: 8080, mode: 'plain' },
    ],
  },
  egress: [],
  adminPort: null,
};
const planB: MeshPlan = {
  ingress: { disabled: false, ports: [{ name: 'x', port: 7000, mode: 'plain' }] },
  egress: [],
  adminPort: null,
};

async function wrappers(t: { teardown: (f: () => Promise<void>) => void }, ns: string): Promise<Iptables[]> {
  const dir = await mkdtemp(join(tmpdir(), `rules-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const out: Iptables[] = [];
  for (const bin of ['iptables-legacy', 'ip6tables-legacy']) {
    const path = join(dir, bin);
    await writeFile(path, `#!/bin/sh\nexec ip netns exec ${ns} ${bin} "$@"\n`, { mode: 0o755 });
    await writeFile(`${path}-restore`, `#!/bin/sh\nexec ip netns exec ${ns} ${bin}-restore "$@"\n`, { mode: 0o755 });
    out.push(createIptables(path));
  }
  return out;
}

test('the ruleset has upstream chains and order', (t) => {
  t.is(
    ingressRuleset(planA),
    [
      '*mangle',
      ':CONTRAST_INBOUND - [0:0]',
      ':CONTRAST_IN_REDIRECT - [0:0]',
      ':CONTRAST_OUT_GUARD - [0:0]',
      '-A CONTRAST_INBOUND -p tcp -i lo -j RETURN',
      '-A CONTRAST_INBOUND -p tcp -m tcp ! --syn -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
      '-A CONTRAST_INBOUND -p tcp -j CONTRAST_IN_REDIRECT',
      '-A CONTRAST_IN_REDIRECT -p tcp --dport 8001 -j TPROXY --on-port 15007',
      '-A CONTRAST_IN_REDIRECT -p tcp --dport 8080 -j RETURN',
      '-A CONTRAST_IN_REDIRECT -p tcp -j TPROXY --on-port 15006',
      '-A CONTRAST_OUT_GUARD -o lo -j RETURN',
      '-A CONTRAST_OUT_GUARD -m mark --mark 0x400000/0x400000 -j RETURN',
      '-A CONTRAST_OUT_GUARD -m conntrack --ctorigdstport 8080 -j RETURN',
      '-A CONTRAST_OUT_GUARD -m conntrack --ctdir REPLY -j DROP',
      'COMMIT',
      '',
    ].join('\n'),
  );
});

test('installing twice, or with a changed plan, leaves exactly one set of rules; removal cleans up', async (t) => {
  const pair = await createNetnsPair('ru');
  t.teardown(() => pair.destroy());
  for (const ipt of await wrappers(t, pair.server)) {
    const show = async (): Promise<string> => ipt.must(['-t', 'mangle', '-S']);
    await installIngressRules(ipt, planA);
    const once = await show();
    await installIngressRules(ipt, planA);
    t.is(await show(), once, ipt.binary);
    t.is(once.split('\n').filter((l) => l === '-A PREROUTING -p tcp -j CONTRAST_INBOUND').length, 1);
    t.is(once.split('\n').filter((l) => l === '-A OUTPUT -p tcp -j CONTRAST_OUT_GUARD').length, 1);
    // A duplicate jump left by an older launcher is removed.
    await ipt.must(['-t', 'mangle', '-A', 'PREROUTING', '-p', 'tcp', '-j', 'CONTRAST_INBOUND']);
    await installIngressRules(ipt, planB);
    const changed = await show();
    t.is(changed.split('\n').filter((l) => l === '-A PREROUTING -p tcp -j CONTRAST_INBOUND').length, 1);
    t.false(changed.includes('--dport 8001'));
    t.true(changed.includes('--dport 7000 -j RETURN'));
    t.true(changed.includes('--ctorigdstport 7000 -j RETURN'));
    t.false(changed.includes('--ctorigdstport 8080'));
    t.true(await removeIngressRules(ipt));
    t.false((await show()).includes('CONTRAST'));
    t.false(await removeIngressRules(ipt));
  }
});
