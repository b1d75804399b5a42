import { test, before, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { DevCertificate, DevCertificateSet } from '../lib/dev-certs.js';
import {
  locatePeerCertificate,
  readPeerCertificateDer,
  resetSessionPathForTests,
  sessionPathState,
  type PeerCertificateSocket,
} from '../lib/peer-certificate-der.js';
import { tlv } from './helpers/certificate-vectors.js';
import { getTestPki } from './helpers/pki.js';

let pki: DevCertificateSet;
before(async () => {
  pki = await getTestPki();
});
beforeEach(() => resetSessionPathForTests());

/** Bytes as hex (Buffer and Uint8Array compare unequal in deepStrictEqual); other values as they are. */
function hex(value: unknown): unknown {
  return value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex') : value;
}

/** What the server side of one real connection saw. */
interface ServerView {
  /** `getSession()` on the server socket, before anything else was read. */
  readonly session: Buffer;
  /** `getPeerCertificate().raw`, or undefined without a client certificate. */
  readonly raw: Buffer | undefined;
  /** `readPeerCertificateDer()` on the same socket, after the two above. */
  readonly read: ReturnType<typeof readPeerCertificateDer>;
  readonly reused: boolean;
  /** The client's session, for resuming. */
  readonly clientSession: Buffer | undefined;
}

/** Opens one connection to a fresh server and reports what the server side saw. */
async function connect(
  client: DevCertificate | undefined,
  options: { maxVersion?: tls.SecureVersion; session?: Buffer; server?: tls.Server } = {},
): Promise<ServerView & { server: tls.Server }> {
  const server =
    options.server ??
    tls.createServer({ key: pki.server.keyPem, cert: pki.server.chainPem, ca: pki.ca.certPem, requestCert: true, rejectUnauthorized: false });
  const seen = new Promise<Omit<ServerView, 'clientSession'>>((resolve) => {
    server.once('secureConnection', (socket: tls.TLSSocket) => {
      const session = socket.getSession()!;
      const raw = (socket.getPeerCertificate() as { raw?: Buffer }).raw;
      resolve({ session, raw, read: readPeerCertificateDer(socket), reused: socket.isSessionReused() });
      socket.end('x');
    });
  });
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  let clientSession: Buffer | undefined;
  await new Promise<void>((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca: pki.ca.certPem,
      servername: 'localhost',
      ...(client ? { cert: client.chainPem, key: client.keyPem } : {}),
      ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
      ...(options.session ? { session: options.session } : {}),
    });
    socket.on('session', (s: Buffer) => (clientSession = s));
    socket.on('data', () => {});
    socket.on('end', () => socket.end());
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
  const view = await seen;
  return { ...view, clientSession, server };
}

function close(server: tls.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
  test(`${maxVersion}: the session holds exactly the DER Node reports, for every development client`, async () => {
    for (const [name, client] of Object.entries(pki.clients)) {
      const view = await connect(client, { maxVersion });
      await close(view.server);
      const located = locatePeerCertificate(view.session);
      assert.ok(view.raw, name);
      assert.ok(located, name);
      assert.equal(hex(view.session.subarray(located.start, located.end)), hex(view.raw), name);
      assert.equal(hex(view.read), hex(view.raw), name);
    }
  });

  test(`${maxVersion}: without a client certificate the session has none, and the reader says 'none'`, async () => {
    const view = await connect(undefined, { maxVersion });
    await close(view.server);
    assert.equal(view.raw, undefined);
    assert.equal(locatePeerCertificate(view.session), undefined);
    assert.equal(view.read, 'none');
  });
}

test('a resumed TLS 1.3 session still yields the certificate of the first handshake', async () => {
  const first = await connect(pki.clients.valid);
  assert.ok(first.clientSession);
  const second = await connect(pki.clients.valid, { session: first.clientSession, server: first.server });
  await close(first.server);
  assert.equal(second.reused, true);
  assert.equal(hex(second.read), hex(pki.clients.valid.der));
  assert.equal(hex(second.raw), hex(pki.clients.valid.der));
});

/** A socket stand-in over a captured session, counting calls. */
function fakeSocket(session: Uint8Array | null, raw: Uint8Array | undefined | null) {
  const calls = { getSession: 0, getPeerCertificate: 0 };
  const given: Uint8Array[] = [];
  const socket: PeerCertificateSocket = {
    getSession() {
      calls.getSession++;
      if (session === null) return null;
      const copy = Buffer.from(session);
      given.push(copy);
      return copy;
    },
    getPeerCertificate() {
      calls.getPeerCertificate++;
      return raw === null ? null : raw === undefined ? {} : { raw };
    },
  };
  return { socket, calls, given };
}

test('the first certificate of a process is checked against Node; later ones come from the session alone', async () => {
  const view = await connect(pki.clients.valid);
  await close(view.server);
  resetSessionPathForTests();
  const first = fakeSocket(view.session, view.raw);
  assert.equal(hex(readPeerCertificateDer(first.socket)), hex(pki.clients.valid.der));
  assert.deepEqual(first.calls, { getSession: 1, getPeerCertificate: 1 });
  assert.equal(sessionPathState(), 'checked');
  const second = fakeSocket(view.session, view.raw);
  assert.equal(hex(readPeerCertificateDer(second.socket)), hex(pki.clients.valid.der));
  assert.deepEqual(second.calls, { getSession: 1, getPeerCertificate: 0 });
});

test('the session copy handed out by the socket is zeroed but for the certificate (it holds the connection secrets)', async () => {
  const view = await connect(pki.clients.valid);
  await close(view.server);
  const fake = fakeSocket(view.session, view.raw);
  const der = readPeerCertificateDer(fake.socket);
  assert.equal(hex(der), hex(pki.clients.valid.der));
  assert.equal(fake.given.length, 1);
  const given = Buffer.from(fake.given[0]!);
  const located = locatePeerCertificate(view.session)!;
  assert.equal(hex(given.subarray(located.start, located.end)), hex(pki.clients.valid.der));
  assert.ok(given.subarray(0, located.start).every((byte) => byte === 0));
  assert.ok(given.subarray(located.end).every((byte) => byte === 0));
  assert.equal(located.start + pki.clients.valid.der.length, located.end);
  assert.ok(located.start > 0 && located.end < given.length, `${located.start}-${located.end} of ${given.length}`);
  // The session without a certificate's location: all of it is zeroed.
  const broken = fakeSocket(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x07]), view.raw);
  readPeerCertificateDer(broken.socket);
  assert.ok(broken.given[0]!.every((byte) => byte === 0));
});

test('a session that disagrees with Node switches the session path off for the process', async () => {
  const alice = await connect(pki.clients.valid);
  await close(alice.server);
  resetSessionPathForTests();
  const other = pki.clients.hostile.der;
  const liar = fakeSocket(alice.session, other);
  assert.equal(hex(readPeerCertificateDer(liar.socket)), hex(other));
  assert.equal(sessionPathState(), 'off');
  const next = fakeSocket(alice.session, alice.raw);
  assert.equal(hex(readPeerCertificateDer(next.socket)), hex(alice.raw));
  assert.deepEqual(next.calls, { getSession: 0, getPeerCertificate: 1 });
});

test('a session with a certificate where Node sees none also switches the session path off', async () => {
  const alice = await connect(pki.clients.valid);
  await close(alice.server);
  resetSessionPathForTests();
  const fake = fakeSocket(alice.session, undefined);
  assert.equal(readPeerCertificateDer(fake.socket), 'none');
  assert.equal(sessionPathState(), 'off');
});

test('a destroyed socket: unavailable, and the check waits for a socket that can answer', () => {
  const gone = fakeSocket(null, null);
  assert.equal(readPeerCertificateDer(gone.socket), 'unavailable');
  assert.deepEqual(gone.calls, { getSession: 1, getPeerCertificate: 1 });
  assert.equal(sessionPathState(), 'unchecked');
});

test('sessions that are not OpenSSL SSL_SESSION structures are never read as a certificate', async () => {
  const alice = await connect(pki.clients.valid);
  await close(alice.server);
  const located = locatePeerCertificate(alice.session)!;
  const certificate = alice.session.subarray(located.start, located.end);
  const integer = (n: number) => tlv(0x02, [n]);
  const octets = tlv(0x04, [1, 2, 3]);
  const cases: Record<string, Uint8Array> = {
    empty: new Uint8Array(0),
    'random bytes': Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff),
    truncated: alice.session.subarray(0, alice.session.length - 10),
    'trailing bytes': Buffer.concat([alice.session, Buffer.from([0])]),
    'not a SEQUENCE': tlv(0x31, integer(1), tlv(0xa3, certificate)),
    'version 2': tlv(0x30, integer(2), integer(0x0304), octets, octets, octets, tlv(0xa3, certificate)),
    '[3] holding an INTEGER': tlv(0x30, integer(1), integer(0x0304), octets, octets, octets, tlv(0xa3, integer(5))),
    '[3] with two elements': tlv(0x30, integer(1), integer(0x0304), octets, octets, octets, tlv(0xa3, certificate, integer(5))),
    'a later field but no [3]': tlv(0x30, integer(1), integer(0x0304), octets, octets, octets, tlv(0xa4, certificate), tlv(0xa3, certificate)),
  };
  for (const [name, session] of Object.entries(cases)) {
    assert.equal(locatePeerCertificate(session), undefined, name);
    resetSessionPathForTests();
    const fake = fakeSocket(session, alice.raw);
    assert.equal(hex(readPeerCertificateDer(fake.socket)), hex(alice.raw), name);
    assert.deepEqual(fake.calls, { getSession: 1, getPeerCertificate: 1 }, name);
    assert.equal(sessionPathState(), 'unchecked', name);
  }
  // The hand-built shape itself is accepted when it is well formed.
  const wellFormed = tlv(0x30, integer(1), integer(0x0304), octets, octets, octets, tlv(0xa1, integer(7)), tlv(0xa3, certificate));
  const found = locatePeerCertificate(wellFormed)!;
  assert.equal(hex(wellFormed.subarray(found.start, found.end)), hex(alice.raw));
});
