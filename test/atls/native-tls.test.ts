/** The addon's TLS session face: argument checks and call-order errors, without a peer. */
import test from 'ava';
import { encodeAlpn, NativeTlsError, NativeTlsSession } from '../../lib/native/tls.js';

test('ALPN wire format', (t) => {
  t.deepEqual(encodeAlpn(['h2', 'atls']), Buffer.from([2, 0x68, 0x32, 4, 0x61, 0x74, 0x6c, 0x73]));
  t.is(t.throws(() => encodeAlpn(['']), { instanceOf: NativeTlsError }).code, 'ERR_TLS_INVALID_ARG');
  t.is(t.throws(() => encodeAlpn(['x'.repeat(256)]), { instanceOf: NativeTlsError }).code, 'ERR_TLS_INVALID_ARG');
});

test('a fresh session produces a ClientHello and waits for the server', (t) => {
  const s = new NativeTlsSession({ serverName: 'example', alpn: ['h2'] });
  t.teardown(() => {
    s.free();
  });
  t.is(s.handshake(), 'want_read');
  const hello = s.takeOutput();
  t.truthy(hello);
  t.is(hello?.[0], 22);
  t.is(s.takeOutput(), null);
  t.deepEqual(s.caNames(), []);
});

test('certificate calls out of order are ERR_TLS_STATE', (t) => {
  const s = new NativeTlsSession();
  t.teardown(() => {
    s.free();
  });
  t.is(
    t.throws(
      () => {
        s.declineCertificate();
      },
      { instanceOf: NativeTlsError },
    ).code,
    'ERR_TLS_STATE',
  );
  t.is(
    t.throws(
      () => {
        s.setCertificate(Buffer.from('x'), Buffer.from('y'));
      },
      { instanceOf: NativeTlsError },
    ).code,
    'ERR_TLS_STATE',
  );
});

test('garbage from the server is ERR_TLS_PROTOCOL', (t) => {
  const s = new NativeTlsSession();
  t.teardown(() => {
    s.free();
  });
  s.handshake();
  s.feed(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'));
  t.is(t.throws(() => s.handshake(), { instanceOf: NativeTlsError }).code, 'ERR_TLS_PROTOCOL');
});

test('bad options and freed sessions', (t) => {
  t.is(
    t.throws(() => new NativeTlsSession({ serverName: 'x'.repeat(300) }), { instanceOf: NativeTlsError }).code,
    'ERR_TLS_INVALID_ARG',
  );
  t.is(
    t.throws(() => new NativeTlsSession({ minVersion: 'TLSv1.3', maxVersion: 'TLSv1.2' }), {
      instanceOf: NativeTlsError,
    }).code,
    'ERR_TLS_INVALID_ARG',
  );
  const s = new NativeTlsSession();
  s.free();
  s.free();
  t.true(s.freed);
  t.is(t.throws(() => s.handshake(), { instanceOf: NativeTlsError }).code, 'ERR_TLS_STATE');
});
