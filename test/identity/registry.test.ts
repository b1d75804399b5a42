import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { ConnectionIdentities, peekPeerIdentity, attachPeerIdentity } from '../../lib/identity/registry.js';
import { mtlsIdentity } from '../../lib/middleware.js';
import type { DevCertificateSet } from '../../lib/dev-certs/index.js';
import { getTestPki } from '../helpers/pki.js';
import { httpsRequest, keepAliveAgent, startHttpsServer } from '../helpers/https.js';
import { getPeerIdentity } from '../../lib/get-peer-identity.js';
import type { PeerIdentity } from '../../lib/identity/peer-identity.js';

let pki: DevCertificateSet;
before(async () => {
  pki = await getTestPki();
});

test('without the middleware: read from the TLS connection, attached to the request', async () => {
  const seen: { first: PeerIdentity | undefined; second: PeerIdentity | undefined; peekedBefore: PeerIdentity | undefined; peekedAfter: PeerIdentity | undefined }[] = [];
  const server = await startHttpsServer((req, res) => {
    const peekedBefore = peekPeerIdentity(req);
    const first = getPeerIdentity(req);
    const second = getPeerIdentity(req);
    seen.push({ first, second, peekedBefore, peekedAfter: peekPeerIdentity(req) });
    res.end();
  });
  const agent = keepAliveAgent(pki.clients.valid);
  try {
    await httpsRequest({ port: server.port, agent });
    await httpsRequest({ port: server.port, agent });
    await httpsRequest({ port: server.port });
    assert.equal(seen[0]!.peekedBefore, undefined);
    assert.equal(seen[0]!.first, seen[0]!.second);
    assert.equal(seen[0]!.peekedAfter, seen[0]!.first);
    assert.equal(seen[0]!.first!.verify, 'SUCCESS');
    assert.equal(seen[0]!.first!.certificate!.subject, 'CN=alice,O=mtls-observability demo');
    // Same connection, next request: the per-connection cache answers with the same object.
    assert.equal(seen[1]!.first, seen[0]!.first);
    assert.deepEqual(seen[2]!.first, { verified: false, verify: 'NONE', reason: 'CERT_MISSING', source: 'tls' });
  } finally {
    agent.destroy();
    await server.close();
  }
});

test("with the middleware: the middleware's identity, identical to res.locals", async () => {
  const middleware = mtlsIdentity({ tracing: false, metrics: false });
  const results: boolean[] = [];
  const server = await startHttpsServer((req, res) => {
    const locals: Record<string, unknown> = {};
    (res as unknown as { locals: Record<string, unknown> }).locals = locals;
    middleware(req, res, () => {
      results.push(getPeerIdentity(req) === locals.mtls, peekPeerIdentity(req) === locals.mtls);
      res.end();
    });
  });
  try {
    await httpsRequest({ port: server.port, client: pki.clients.expired });
    assert.deepEqual(results, [true, true]);
  } finally {
    await server.close();
  }
});

test('the identity attached last wins (the middleware overrides an earlier lookup)', () => {
  const req = { socket: {} } as unknown as IncomingMessage;
  const first: PeerIdentity = { verified: false, verify: 'NONE', reason: 'NOT_TLS', source: 'tls' };
  const second: PeerIdentity = { verified: true, verify: 'SUCCESS', source: 'envoy-xfcc' };
  assert.deepEqual(getPeerIdentity(req), first);
  attachPeerIdentity(req, second);
  assert.equal(getPeerIdentity(req), second);
});

test('anything but a request gives undefined and never throws', () => {
  assert.equal(getPeerIdentity(undefined as unknown as IncomingMessage), undefined);
  assert.equal(getPeerIdentity(null as unknown as IncomingMessage), undefined);
  assert.equal(getPeerIdentity('req' as unknown as IncomingMessage), undefined);
  assert.equal(getPeerIdentity({} as IncomingMessage), undefined);
  assert.deepEqual(getPeerIdentity({ socket: null } as unknown as IncomingMessage), undefined);
});

test('a second copy of the library (here the built dist/) sees identities the first attached', async () => {
  // Two installs of the package (two versions, or ESM and a bundled copy) share Symbol.for keys.
  const distPath = '../../dist/get-peer-identity.js';
  const dist = (await import(distPath)) as { getPeerIdentity: typeof getPeerIdentity };
  assert.notEqual(dist.getPeerIdentity, getPeerIdentity);
  const req = { socket: {} } as unknown as IncomingMessage;
  const identity: PeerIdentity = { verified: true, verify: 'SUCCESS', source: 'nginx' };
  attachPeerIdentity(req, identity);
  assert.equal(dist.getPeerIdentity(req), identity);
});

test('ConnectionIdentities keys by object identity', () => {
  const cache = new ConnectionIdentities();
  const socketA = {};
  const socketB = {};
  const identity: PeerIdentity = { verified: false, verify: 'NONE', reason: 'CERT_MISSING', source: 'tls' };
  const readBy = {};
  cache.set(socketA, identity, true, readBy);
  assert.deepEqual(cache.entry(socketA), { identity, renegotiable: true, readBy });
  assert.equal(cache.entry(socketA)?.readBy, readBy);
  assert.equal(cache.entry(socketB), undefined);
  cache.delete(socketA);
  assert.equal(cache.entry(socketA), undefined);
});
