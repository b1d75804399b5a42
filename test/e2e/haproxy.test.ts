/**
 * A real HAProxy terminates mutual TLS on loopback in front of the Express app and forwards the
 * client certificate (`ssl_c_der,base64` + `ssl_c_verify`). The identity through HAProxy must
 * equal the identity of the same certificate on a direct TLS connection to the app.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { DevCertificateSet } from '../../lib/dev-certs/index.js';
import { getTestPki } from '../helpers/pki.js';
import { startProxy, type RunningProxy } from './proxy-configs/proxy-process.js';
import { assertEveryClientSameThroughProxy, assertKeepAliveAndForwardedFor, startProxiedApp, type ProxiedApp } from './proxy-configs/proxied-app.js';

let pki: DevCertificateSet;
let app: ProxiedApp;
let haproxy: RunningProxy;

before(async () => {
  pki = await getTestPki();
  app = await startProxiedApp(pki, 'haproxy');
  haproxy = await startProxy({
    name: 'mtls-haproxy',
    config: 'haproxy.cfg',
    files: {
      'server-chain-key.pem': pki.server.chainPem + pki.server.keyPem,
      'client-ca.pem': pki.ca.certPem,
    },
    values: { APP_PORT: app.upstreamPort },
    command: (_dir, conf) => ['haproxy', '-db', '-f', conf],
  });
});

after(async () => {
  await haproxy?.stop();
  await app?.close();
});

test('every development client: the identity through HAProxy equals the direct TLS identity', async () => {
  await assertEveryClientSameThroughProxy(app, pki, haproxy.port, 'haproxy');
});

test('the mtls-combined access line is the same direct and through HAProxy', async () => {
  const viaTls = await app.send(app.directPort, pki.clients.valid);
  const viaHaproxy = await app.send(haproxy.port, pki.clients.valid);
  const identityPart = (line: string): string => line.slice(line.indexOf(' verify='));
  assert.equal(identityPart(await app.logLineFor(viaHaproxy.id)), identityPart(await app.logLineFor(viaTls.id)));
});

test('require: true answers 403 for a certificate HAProxy let through unverified', async () => {
  const expired = await app.send(haproxy.port, pki.clients.expired, '/required');
  assert.equal(expired.status, 403);
  assert.deepEqual(JSON.parse(expired.body), {
    code: 'ERR_MTLS_CLIENT_CERT_INVALID',
    message: 'The client certificate was not accepted (CERT_HAS_EXPIRED).',
    verify: 'FAILED:CERT_HAS_EXPIRED',
  });
  assert.equal((await app.send(haproxy.port, pki.clients.valid, '/required')).status, 200);
});

test('a client cannot forge the headers through HAProxy: set-header replaces them', async () => {
  const forged = {
    'X-SSL-Client-Cert': Buffer.from(pki.clients.valid.der).toString('base64'),
    'X-SSL-Client-Verify': '0',
  };
  const withoutCert = await app.send(haproxy.port, undefined, '/', forged);
  assert.equal(withoutCert.identity?.verify, 'NONE');
  const withOtherCert = await app.send(haproxy.port, pki.clients.untrusted, '/', forged);
  assert.equal(withOtherCert.identity?.verify, 'FAILED:UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  assert.equal(withOtherCert.identity?.certificate?.subject, 'CN=untrusted,O=mtls-observability demo');
});

test('a forged header sent straight to the app from an untrusted address is ignored, removed and counted', async () => {
  const before = app.spoofs.length;
  const sent = await app.sendPlain({
    'X-SSL-Client-Cert': Buffer.from(pki.clients.valid.der).toString('base64'),
    'X-SSL-Client-Verify': '0',
  });
  assert.deepEqual(JSON.parse(sent.body), { verify: 'NONE', forged: null });
  assert.deepEqual(sent.identity, { verified: false, verify: 'NONE', reason: 'NOT_TLS', source: 'tls' });
  assert.deepEqual(app.spoofs.slice(before), [
    { remoteAddress: '127.0.0.2', format: 'haproxy', headers: ['x-ssl-client-cert', 'x-ssl-client-verify'] },
  ]);
});

test('HAProxy keeps one HTTP/1.1 connection to the app open and sends X-Forwarded-For (the docs/proxies.md config)', async () => {
  await assertKeepAliveAndForwardedFor(app, pki, haproxy.port);
});
