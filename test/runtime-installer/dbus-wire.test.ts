import test from 'ava';
import {
  decodeMessage,
  encodeMessage,
  messageLength,
  MessageType,
  splitSignature,
  type DBusValue,
} from '../../runtime-installer/dbus/wire.js';
import { socketPathOf } from '../../runtime-installer/dbus/connection.js';

const bodies: [string, DBusValue[]][] = [
  ['s', ['containerd.service']],
  ['ss', ['containerd.service', 'replace']],
  ['uoss', [7, '/org/freedesktop/systemd1/job/7', 'containerd.service', 'done']],
  ['v', [{ signature: 't', value: 1795979671425000n }]],
  ['ybnqiuxtd', [1, true, -2, 3, -4, 5, -6n, 7n, 1.5]],
  [
    'a{sv}as(yv)',
    [
      [
        ['a', { signature: 's', value: 'x' }],
        ['b', { signature: 'u', value: 3 }],
      ],
      ['p', 'q'],
      [9, { signature: 'ai', value: [1, 2] }],
    ],
  ],
  ['', []],
];
for (const [sig, body] of bodies) {
  test(`message round trip with body ${sig || '(empty)'}`, (t) => {
    const bytes = encodeMessage({
      type: MessageType.MethodCall,
      serial: 42,
      path: '/a',
      interface: 'i.f',
      member: 'M',
      destination: 'd.e',
      signature: sig,
      body,
    });
    t.is(messageLength(bytes), bytes.length);
    const m = decodeMessage(bytes);
    t.is(m.serial, 42);
    t.is(m.member, 'M');
    t.is(m.path, '/a');
    t.is(m.signature, sig);
    t.deepEqual(m.body, body);
    // Truncated input: every prefix is either incomplete or rejected, never misread.
    for (let n = 0; n < bytes.length; n++) {
      const prefix = bytes.subarray(0, n);
      const len = n >= 16 ? messageLength(prefix) : undefined;
      t.true(len === undefined || len > n);
    }
  });
}

test('known bytes: the Hello call as dbus-send would frame it', (t) => {
  const bytes = encodeMessage({
    type: MessageType.MethodCall,
    serial: 1,
    path: '/org/freedesktop/DBus',
    interface: 'org.freedesktop.DBus',
    member: 'Hello',
    destination: 'org.freedesktop.DBus',
    signature: '',
    body: [],
  });
  t.is(bytes.subarray(0, 12).toString('hex'), '6c01000100000000' + '01000000');
  t.is(bytes.length % 8, 0);
  t.true(bytes.includes(Buffer.from('org.freedesktop.DBus\0')));
});

test('signatures split into complete types; invalid ones are rejected', (t) => {
  t.deepEqual(splitSignature('sa{sv}(ii)v'), ['s', 'a{sv}', '(ii)', 'v']);
  t.throws(() => splitSignature('(ii'));
  t.throws(() => splitSignature('z'));
});

test('bus addresses', (t) => {
  t.is(socketPathOf('unix:path=/var/run/dbus/system_bus_socket'), '/var/run/dbus/system_bus_socket');
  t.is(socketPathOf('tcp:host=x;unix:path=/tmp/b,guid=1'), '/tmp/b');
  t.is((t.throws(() => socketPathOf('tcp:host=x')) as { code?: string }).code, 'ERR_DBUS_ADDRESS');
});
