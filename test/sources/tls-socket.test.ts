import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { MAX_SUBJECT_ALT_NAMES, parseCertificate } from '../../lib/certificate/parse.js';
import { CertificateCache } from '../../lib/certificate/cache.js';
import { TlsSocketSource } from '../../lib/sources/tls-socket.js';
import type { DevCertificate, DevCertificateSet } from '../../lib/dev-certs/index.js';
import { getTestPki } from '../helpers/pki.js';
import { http2MtlsServerOptions, httpsRequest, keepAliveAgent, startHttpsServer } from '../helpers/https.js';
import { ConnectionIdentities, connectionOf } from '../../lib/identity/registry.js';
import { IDENTITY_REASONS, type PeerIdentity } from '../../lib/identity/peer-identity.js';

let pki: DevCertificateSet;
before(async () => {
  pki = await getTestPki();
});

const CA = 'CN=mtls-observability development CA';

function newSource(maxEntries?: number) {
  const certificates = new CertificateCache(maxEntries !== undefined ? { maxEntries } : {});
  return { certificates, source: new TlsSocketSource({ certificates, connections: new ConnectionIdentities() }) };
}

/** An HTTPS server whose handler resolves each request; `seen` collects the identities. */
async function serve(source: TlsSocketSource, options: Parameters<typeof startHttpsServer>[1] = {}) {
  const seen: PeerIdentity[] = [];
  const server = await startHttpsServer((req, res) => {
    seen.push(source.resolve(req));
    res.end('ok');
  }, options);
  return { ...server, seen };
}

/** The identity without its certificate, plus the certificate's subject and issuer. */
function summary(identity: PeerIdentity) {
  const { certificate, ...rest } = identity;
  return { ...rest, subject: certificate?.subject, issuer: certificate?.issuer };
}

const EXPECTED: Record<keyof DevCertificateSet['clients'], ReturnType<typeof summary>> = {
  valid: { verified: true, verify: 'SUCCESS', source: 'tls', subject: 'CN=alice,O=mtls-observability demo', issuer: CA },
  expired: {
    verified: false,
    verify: 'FAILED:CERT_HAS_EXPIRED',
    reason: 'CERT_HAS_EXPIRED',
    source: 'tls',
    subject: 'CN=expired,O=mtls-observability demo',
    issuer: CA,
  },
  notYetValid: {
    verified: false,
    verify: 'FAILED:CERT_NOT_YET_VALID',
    reason: 'CERT_NOT_YET_VALID',
    source: 'tls',
    subject: 'CN=not-yet-valid,O=mtls-observability demo',
    issuer: CA,
  },
  untrusted: {
    verified: false,
    verify: 'FAILED:UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    reason: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    source: 'tls',
    subject: 'CN=untrusted,O=mtls-observability demo',
    issuer: 'CN=mtls-observability untrusted CA',
  },
  selfSigned: {
    verified: false,
    verify: 'FAILED:DEPTH_ZERO_SELF_SIGNED_CERT',
    reason: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    source: 'tls',
    subject: 'CN=self-signed,O=mtls-observability demo',
    issuer: 'CN=self-signed,O=mtls-observability demo',
  },
  wrongEku: {
    verified: false,
    verify: 'FAILED:INVALID_PURPOSE',
    reason: 'INVALID_PURPOSE',
    source: 'tls',
    subject: 'CN=wrong-eku,O=mtls-observability demo',
    issuer: CA,
  },
  hostile: {
    verified: true,
    verify: 'SUCCESS',
    source: 'tls',
    subject:
      'CN=mallory\\"\\0A127.0.0.1 - admin [27/Nov/2026:00:00:00 \\+0000] \\"GET /admin HTTP/1.1\\" 200 0 \\"\\\\,O=mtls-observability demo',
    issuer: CA,
  },
};

test('each development client gives its exact verify outcome and reason (TLS 1.3 and 1.2)', async () => {
  for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
    const { source } = newSource();
    const server = await serve(source, { maxVersion });
    try {
      for (const [name, expected] of Object.entries(EXPECTED)) {
        const client = pki.clients[name as keyof DevCertificateSet['clients']];
        const response = await httpsRequest({ port: server.port, client });
        assert.equal(response.status, 200);
        assert.deepEqual(summary(server.seen.at(-1)!), expected, `${name} over ${maxVersion}`);
      }
      await httpsRequest({ port: server.port });
      assert.deepEqual(server.seen.at(-1), { verified: false, verify: 'NONE', reason: 'CERT_MISSING', source: 'tls' });
    } finally {
      await server.close();
    }
  }
});

test('no client certificate: Node gives an empty getPeerCertificate() and UNABLE_TO_GET_ISSUER_CERT; the identity says NONE / CERT_MISSING', async () => {
  for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
    const { source } = newSource();
    const node: unknown[] = [];
    const server = await startHttpsServer(
      (req, res) => {
        const socket = req.socket as TLSSocket;
        node.push(socket.getPeerCertificate(), socket.authorized, socket.authorizationError);
        node.push(source.resolve(req));
        res.end();
      },
      { maxVersion },
    );
    try {
      await httpsRequest({ port: server.port });
      assert.deepEqual(
        node,
        [{}, false, 'UNABLE_TO_GET_ISSUER_CERT', { verified: false, verify: 'NONE', reason: 'CERT_MISSING', source: 'tls' }],
        maxVersion,
      );
    } finally {
      await server.close();
    }
  }
});

test('keep-alive: getPeerCertificate() is called once per connection, never per request (TLS 1.3 and 1.2)', async () => {
  for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
    const { source } = newSource();
    let calls = 0;
    const counted = new WeakSet<object>();
    const seen: PeerIdentity[] = [];
    const server = await startHttpsServer(
      (req, res) => {
        const socket = req.socket as TLSSocket;
        if (!counted.has(socket)) {
          counted.add(socket);
          const original = socket.getPeerCertificate.bind(socket);
          socket.getPeerCertificate = ((detailed?: boolean) => {
            calls++;
            return original(detailed as true);
          });
        }
        seen.push(source.resolve(req));
        res.end();
      },
      { maxVersion },
    );
    const agent = keepAliveAgent(pki.clients.valid);
    try {
      for (let i = 0; i < 4; i++) await httpsRequest({ port: server.port, agent });
      assert.equal(calls, 1, maxVersion);
      assert.ok(seen.every((identity) => identity === seen[0] && identity.verify === 'SUCCESS'), maxVersion);
    } finally {
      agent.destroy();
      await server.close();
    }
  }
});

test('a resumed TLS 1.3 session still reports the certificate of its first handshake', async () => {
  const { source } = newSource();
  const seen: { reused: boolean; identity: PeerIdentity }[] = [];
  const server = await startHttpsServer((req, res) => {
    seen.push({ reused: (req.socket as TLSSocket).isSessionReused(), identity: source.resolve(req) });
    res.end();
  });
  // No keep-alive, but the agent keeps session tickets: the second connection resumes.
  const agent = new https.Agent({ keepAlive: false, cert: pki.clients.valid.chainPem, key: pki.clients.valid.keyPem });
  try {
    await httpsRequest({ port: server.port, agent });
    await httpsRequest({ port: server.port, agent });
    assert.deepEqual(
      seen.map(({ reused, identity }) => ({ reused, ...summary(identity) })),
      [
        { reused: false, ...EXPECTED.valid },
        { reused: true, ...EXPECTED.valid },
      ],
    );
  } finally {
    agent.destroy();
    await server.close();
  }
});

test('verified needs authorized === true and no authorizationError (what Node reports after a renegotiation to a failing certificate)', () => {
  const { source } = newSource();
  const socket = {
    encrypted: true,
    authorized: true,
    authorizationError: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    getPeerCertificate: () => ({ raw: Buffer.from(pki.clients.selfSigned.der) }),
    getProtocol: () => 'TLSv1.2',
    once: () => {},
  };
  const identity = source.resolve({ httpVersionMajor: 1, socket } as unknown as IncomingMessage);
  assert.deepEqual(summary(identity), EXPECTED.selfSigned);
});

test("Node's TLS binding still answers verifyError(), which the renegotiation checks rely on (TLS 1.2)", async () => {
  const results: unknown[] = [];
  const server = await startHttpsServer(
    (req, res) => {
      const handle = (req.socket as unknown as { _handle?: { verifyError?: () => unknown } })._handle;
      results.push(typeof handle?.verifyError, handle?.verifyError?.() ?? null);
      res.end();
    },
    { maxVersion: 'TLSv1.2' },
  );
  try {
    await httpsRequest({ port: server.port, client: pki.clients.valid });
    await httpsRequest({ port: server.port, client: pki.clients.expired });
    assert.equal(results.length, 4);
    assert.equal(results[0], 'function');
    assert.equal(results[1], null);
    assert.equal(results[2], 'function');
    assert.equal((results[3] as { code?: unknown }).code, 'CERT_HAS_EXPIRED');
  } finally {
    await server.close();
  }
});

test('the certificate in the identity is the parsed DER the client presented', async () => {
  const { source } = newSource();
  const server = await serve(source);
  try {
    await httpsRequest({ port: server.port, client: pki.clients.valid });
    const certificate = server.seen[0]!.certificate!;
    assert.deepEqual(certificate, parseCertificate(pki.clients.valid.der));
    assert.equal(certificate.spiffeId, 'spiffe://example.org/ns/demo/sa/alice');
    assert.ok(Object.isFrozen(server.seen[0]));
  } finally {
    await server.close();
  }
});

test('keep-alive: parsed once per connection, one identity object for all its requests', async () => {
  const { source, certificates } = newSource();
  const server = await serve(source);
  const agent = keepAliveAgent(pki.clients.valid);
  try {
    for (let i = 0; i < 5; i++) await httpsRequest({ port: server.port, agent });
    assert.equal(server.seen.length, 5);
    assert.ok(server.seen.every((identity) => identity === server.seen[0]));
    assert.equal(certificates.parseCount, 1);
    // A new connection per request with the same certificate: the certificate cache answers.
    for (let i = 0; i < 3; i++) await httpsRequest({ port: server.port, client: pki.clients.valid });
    assert.equal(certificates.parseCount, 1);
    // A second distinct certificate: parsed once more, then cached as well.
    for (let i = 0; i < 3; i++) await httpsRequest({ port: server.port, client: pki.clients.expired });
    assert.equal(certificates.parseCount, 2);
    assert.equal(server.seen[8]!.certificate?.subject, 'CN=expired,O=mtls-observability demo');
    assert.equal(server.seen[5]!.certificate, server.seen[0]!.certificate);
  } finally {
    agent.destroy();
    await server.close();
  }
});

test('certificate cache disabled: parsed once per connection, still never per request', async () => {
  const { source, certificates } = newSource(0);
  const server = await serve(source);
  const agent = keepAliveAgent(pki.clients.valid);
  try {
    for (let i = 0; i < 4; i++) await httpsRequest({ port: server.port, agent });
    assert.equal(certificates.parseCount, 1);
    for (let i = 0; i < 3; i++) await httpsRequest({ port: server.port, client: pki.clients.valid });
    assert.equal(certificates.parseCount, 4);
  } finally {
    agent.destroy();
    await server.close();
  }
});

test('a certificate that does not parse: FAILED:ERR_MTLS_CERT_PARSE without a certificate', async () => {
  // OpenSSL accepts any number of subjectAltName entries; the parser refuses more than
  // MAX_SUBJECT_ALT_NAMES rather than cut the list, so this trusted certificate does not parse.
  const tooManyNames = await pki.ca.issue({
    subject: 'many-names',
    san: { dns: Array.from({ length: MAX_SUBJECT_ALT_NAMES + 1 }, (_, i) => `h${i}.example`) },
  });
  const { source, certificates } = newSource();
  const server = await serve(source);
  try {
    await httpsRequest({ port: server.port, client: tooManyNames });
    await httpsRequest({ port: server.port, client: tooManyNames });
    const failed = { verified: false, verify: 'FAILED:ERR_MTLS_CERT_PARSE', reason: 'ERR_MTLS_CERT_PARSE', source: 'tls' };
    assert.deepEqual(server.seen, [failed, failed]);
    // The failure is cached like a certificate: the second connection does not parse again.
    assert.equal(certificates.parseCount, 1);
  } finally {
    await server.close();
  }
});

test('plain HTTP: verify NONE with reason NOT_TLS', async () => {
  const { source } = newSource();
  const seen: PeerIdentity[] = [];
  const server = http.createServer((req, res) => {
    seen.push(source.resolve(req));
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject);
    });
    assert.deepEqual(seen, [{ verified: false, verify: 'NONE', reason: IDENTITY_REASONS.notTls, source: 'tls' }]);
    assert.equal(IDENTITY_REASONS.notTls, 'NOT_TLS');
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a connection destroyed before the first lookup: CONNECTION_CLOSED, not cached', async () => {
  const { source } = newSource();
  const seen: PeerIdentity[] = [];
  const server = await startHttpsServer((req) => {
    req.socket.destroy();
    seen.push(source.resolve(req), source.resolve(req));
  });
  try {
    await assert.rejects(httpsRequest({ port: server.port, client: pki.clients.valid }));
    assert.deepEqual(seen[0], { verified: false, verify: 'NONE', reason: 'CONNECTION_CLOSED', source: 'tls' });
    assert.deepEqual(seen[1], seen[0]);
  } finally {
    await server.close();
  }
});

test('a cached identity survives the socket being destroyed', async () => {
  const { source } = newSource();
  const seen: PeerIdentity[] = [];
  const server = await startHttpsServer((req) => {
    seen.push(source.resolve(req));
    req.socket.destroy();
    seen.push(source.resolve(req));
  });
  try {
    await assert.rejects(httpsRequest({ port: server.port, client: pki.clients.valid }));
    assert.equal(seen[1], seen[0]);
    assert.equal(seen[0]!.verify, 'SUCCESS');
  } finally {
    await server.close();
  }
});

/** Several HTTP/2 requests on one session, presenting `client`. */
async function http2Requests(port: number, client: DevCertificate | undefined, count: number): Promise<number[]> {
  const session = http2.connect(`https://127.0.0.1:${port}`, {
    ca: pki.ca.certPem,
    servername: 'localhost',
    ...(client ? { cert: client.chainPem, key: client.keyPem } : {}),
  });
  try {
    const statuses: number[] = [];
    const one = () =>
      new Promise<number>((resolve, reject) => {
        const stream = session.request({ ':path': '/' });
        let status = 0;
        stream.on('response', (headers) => (status = Number(headers[':status'])));
        stream.on('error', reject);
        stream.resume();
        stream.on('end', () => resolve(status));
        stream.end();
      });
    // Concurrent streams on the same session.
    statuses.push(...(await Promise.all(Array.from({ length: count }, one))));
    return statuses;
  } finally {
    await new Promise<void>((resolve) => session.close(() => resolve()));
  }
}

test('HTTP/2: every stream of a session shares one identity; parsed once per session', async () => {
  const { source, certificates } = newSource();
  const seen: PeerIdentity[] = [];
  const sockets = new Set<unknown>();
  const keys: boolean[] = [];
  const server = http2.createSecureServer(
    http2MtlsServerOptions(pki),
    (req, res) => {
      const message = req as unknown as IncomingMessage;
      sockets.add(req.socket);
      seen.push(source.resolve(message));
      keys.push(connectionOf(message) === (req.httpVersionMajor === 2 ? req.stream.session?.socket : req.socket));
      res.end('ok');
    },
  );
  const connections = new Set<Socket>();
  server.on('connection', (socket: Socket) => connections.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    assert.deepEqual(await http2Requests(port, pki.clients.valid, 3), [200, 200, 200]);
    assert.equal(seen.length, 3);
    // req.socket is a new proxy per stream (research C.6), the session socket is not.
    assert.equal(sockets.size, 3);
    assert.ok(seen.every((identity) => identity === seen[0]));
    assert.equal(seen[0]!.verify, 'SUCCESS');
    assert.equal(certificates.parseCount, 1);
    assert.deepEqual(await http2Requests(port, pki.clients.expired, 2), [200, 200]);
    assert.deepEqual(summary(seen[4]!), EXPECTED.expired);
    assert.deepEqual(await http2Requests(port, undefined, 1), [200]);
    assert.deepEqual(seen[5], { verified: false, verify: 'NONE', reason: 'CERT_MISSING', source: 'tls' });
    // HTTP/1.1 on the same server (allowHTTP1).
    await httpsRequest({ port, client: pki.clients.valid });
    assert.equal(seen[6]!.verify, 'SUCCESS');
    assert.equal(certificates.parseCount, 2);
    assert.deepEqual(keys, [true, true, true, true, true, true, true]);
  } finally {
    for (const socket of connections) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('HTTP/2: a session destroyed before the lookup gives CONNECTION_CLOSED, never a throw', async () => {
  const { source } = newSource();
  const seen: PeerIdentity[] = [];
  const server = http2.createSecureServer(
    { cert: pki.server.chainPem, key: pki.server.keyPem, ca: pki.ca.certPem, requestCert: true, rejectUnauthorized: false },
    (req) => {
      req.stream.session!.destroy();
      seen.push(source.resolve(req as unknown as IncomingMessage));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const session = http2.connect(`https://127.0.0.1:${port}`, {
      ca: pki.ca.certPem,
      servername: 'localhost',
      cert: pki.clients.valid.chainPem,
      key: pki.clients.valid.keyPem,
    });
    session.on('error', () => {});
    const stream = session.request({ ':path': '/' });
    stream.on('error', () => {});
    stream.end();
    await new Promise((resolve) => session.once('close', resolve));
    assert.deepEqual(seen, [{ verified: false, verify: 'NONE', reason: 'CONNECTION_CLOSED', source: 'tls' }]);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('the protocol is asked once per read of a connection, and not again while its identity is cached', async () => {
  for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
    const { source } = newSource();
    const calls: number[] = [];
    const server = await startHttpsServer(
      (req, res) => {
        const socket = req.socket as TLSSocket;
        const getProtocol = socket.getProtocol.bind(socket);
        let count = 0;
        socket.getProtocol = () => {
          count++;
          return getProtocol();
        };
        assert.equal(source.resolve(req).verified, true);
        calls.push(count);
        res.end();
      },
      { maxVersion },
    );
    const agent = keepAliveAgent(pki.clients.valid);
    try {
      for (let i = 0; i < 3; i++) await httpsRequest({ port: server.port, agent });
      assert.deepEqual(calls, [1, 0, 0], maxVersion);
    } finally {
      agent.destroy();
      await server.close();
    }
  }
});
