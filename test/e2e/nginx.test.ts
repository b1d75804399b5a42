/**
 * A real nginx terminates mutual TLS on loopback in front of the Express app and forwards the
 * client certificate ($ssl_client_escaped_cert + $ssl_client_verify). The identity through nginx
 * must equal the identity of the same certificate on a direct TLS connection to the app.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { DevCertificateSet } from '../../lib/dev-certs/index.js';
import { getTestPki } from '../helpers/pki.js';
import { startNginx, type RunningProxy } from './proxy-configs/proxy-process.js';
import { assertEveryClientSameThroughProxy, assertKeepAliveAndForwardedFor, startProxiedApp, type ProxiedApp } from './proxy-configs/proxied-app.js';

let pki: DevCertificateSet;
let app: ProxiedApp;
let nginx: RunningProxy;

before(async () => {
  pki = await getTestPki();
  app = await startProxiedApp(pki, 'nginx');
  nginx = await startNginx('mtls-nginx', pki, app.upstreamPort);
});

after(async () => {
  await nginx?.stop();
  await app?.close();
});

test('every development client: the identity through nginx equals the direct TLS identity', async () => {
  await assertEveryClientSameThroughProxy(app, pki, nginx.port, 'nginx');
});

test('the mtls-combined access line is the same direct and through nginx (subject, serial, verify)', async () => {
  const viaTls = await app.send(app.directPort, pki.clients.valid);
  const viaNginx = await app.send(nginx.port, pki.clients.valid);
  const identityPart = (line: string): string => line.slice(line.indexOf(' verify='));
  const directLine = await app.logLineFor(viaTls.id);
  const nginxLine = await app.logLineFor(viaNginx.id);
  assert.equal(identityPart(nginxLine), identityPart(directLine));
  const serial = viaTls.identity!.certificate!.serialNumber;
  assert.match(
    directLine,
    new RegExp(`verify=SUCCESS subject="CN=alice,O=mtls-observability demo" issuer="CN=mtls-observability development CA" serial=${serial} `),
  );
  // Shown in the test output: the same certificate, directly and through nginx.
  process.stdout.write(`# direct: ${directLine}# nginx:  ${nginxLine}`);
});

test('require: true answers 403 for a certificate nginx rejected, 200 for a verified one', async () => {
  const expired = await app.send(nginx.port, pki.clients.expired, '/required');
  assert.equal(expired.status, 403);
  assert.deepEqual(JSON.parse(expired.body), {
    code: 'ERR_MTLS_CLIENT_CERT_INVALID',
    message: 'The client certificate was not accepted (CERT_HAS_EXPIRED).',
    verify: 'FAILED:CERT_HAS_EXPIRED',
  });
  const untrusted = await app.send(nginx.port, pki.clients.untrusted, '/required');
  assert.equal(untrusted.status, 403);
  const none = await app.send(nginx.port, undefined, '/required');
  assert.equal(none.status, 403);
  assert.deepEqual(JSON.parse(none.body), {
    code: 'ERR_MTLS_CLIENT_CERT_REQUIRED',
    message: 'A client certificate is required.',
    verify: 'NONE',
  });
  const valid = await app.send(nginx.port, pki.clients.valid, '/required');
  assert.equal(valid.status, 200);
});

test('a client cannot forge the headers through nginx: nginx overwrites or drops them', async () => {
  const forged = {
    'X-SSL-Client-Cert': encodeURIComponent(pki.clients.valid.certPem),
    'X-SSL-Client-Verify': 'SUCCESS',
  };
  const withoutCert = await app.send(nginx.port, undefined, '/', forged);
  assert.equal(withoutCert.identity?.verify, 'NONE');
  assert.deepEqual(JSON.parse(withoutCert.body), { verify: 'NONE', forged: null });
  const withOtherCert = await app.send(nginx.port, pki.clients.untrusted, '/', forged);
  assert.equal(withOtherCert.identity?.verify, 'FAILED:UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  assert.equal(withOtherCert.identity?.certificate?.subject, 'CN=untrusted,O=mtls-observability demo');
});

test('a forged header sent straight to the app from an untrusted address is ignored, removed and counted', async () => {
  const before = app.spoofs.length;
  const sent = await app.sendPlain({
    'X-SSL-Client-Cert': encodeURIComponent(pki.clients.valid.certPem),
    'X-SSL-Client-Verify': 'SUCCESS',
  });
  assert.equal(sent.status, 200);
  assert.deepEqual(JSON.parse(sent.body), { verify: 'NONE', forged: null });
  assert.deepEqual(sent.identity, { verified: false, verify: 'NONE', reason: 'NOT_TLS', source: 'tls' });
  assert.deepEqual(app.spoofs.slice(before), [
    { remoteAddress: '127.0.0.2', format: 'nginx', headers: ['x-ssl-client-cert', 'x-ssl-client-verify'] },
  ]);
});

test('nginx keeps one HTTP/1.1 connection to the app open and sends X-Forwarded-For (the docs/proxies.md config)', async () => {
  await assertKeepAliveAndForwardedFor(app, pki, nginx.port);
});
