import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import express from 'express';
import { certificateModel } from '../../lib/certificate/model.js';
import { parseCertificate } from '../../lib/certificate/parse.js';
import { CertificateParseError, isMtlsError } from '../../lib/errors.js';
import { failedIdentity, missingIdentity, verifiedIdentity } from '../../lib/identity/peer-identity.js';
import { mtlsIdentity } from '../../lib/middleware.js';
import type { DevCertificate, DevCertificateSet } from '../../lib/dev-certs/index.js';
import { getTestPki } from '../helpers/pki.js';
import { httpsRequest, startHttpsServer } from '../helpers/https.js';

const EKU = '2.5.29.37';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
/** A private-enterprise OID for an app's own extension. */
const TIER_OID = '1.3.6.1.4.1.55555.1.1';

let pki: DevCertificateSet;
/** alice's certificate and key, with one more (non-critical) extension: TIER_OID holding UTF8String "gold", signed by the trusted CA. */
let tiered: DevCertificate;

before(async () => {
  pki = await getTestPki();
  const valid = pki.clients.valid;
  const cert = pkijs.Certificate.fromBER(valid.der);
  cert.extensions = [
    ...(cert.extensions ?? []),
    new pkijs.Extension({ extnID: TIER_OID, critical: false, extnValue: new asn1js.Utf8String({ value: 'gold' }).toBER(false) }),
  ];
  await cert.sign(pki.ca.keyPair.privateKey, 'SHA-256');
  const der = new Uint8Array(cert.toSchema(true).toBER(false));
  const certPem = new X509Certificate(der).toString();
  tiered = { ...valid, der, certPem, chainPem: certPem };
  // A real certificate of the CA: Node verifies its signature.
  assert.ok(new X509Certificate(der).verify(new X509Certificate(pki.ca.certPem).publicKey));
});

/** The key purposes of a model's extended key usage extension. */
function keyPurposes(model: pkijs.Certificate | undefined): string[] | undefined {
  const extension = model?.extensions?.find((e) => e.extnID === EKU);
  return (extension?.parsedValue as pkijs.ExtKeyUsage | undefined)?.keyPurposes;
}

/** The UTF8String value of the app's own extension. */
function tierOf(model: pkijs.Certificate | undefined): string | undefined {
  const extension = model?.extensions?.find((e) => e.extnID === TIER_OID);
  if (extension === undefined) return undefined;
  const parsed = asn1js.fromBER(extension.extnValue.getValue());
  return parsed.result instanceof asn1js.Utf8String ? parsed.result.getValue() : undefined;
}

test('certificateModel(res.locals.mtls) through a real HTTPS server: EKU and a custom extension, the same model for the same certificate', async () => {
  const models: (pkijs.Certificate | undefined)[] = [];
  const app = express();
  app.use(mtlsIdentity({ tracing: false, metrics: false }));
  app.get('/decide', (_req, res) => {
    const model = certificateModel(res.locals.mtls);
    models.push(model);
    res.json({ eku: keyPurposes(model) ?? null, tier: tierOf(model) ?? null });
  });
  const server = await startHttpsServer(app);
  try {
    // Two connections (no agent keeps them): the certificate cache hands both the same certificate.
    for (let i = 0; i < 2; i++) {
      const response = await httpsRequest({ port: server.port, path: '/decide', client: tiered });
      assert.equal(response.body, `{"eku":["${CLIENT_AUTH}"],"tier":"gold"}`);
    }
    assert.equal((await httpsRequest({ port: server.port, path: '/decide', client: pki.clients.valid })).body, `{"eku":["${CLIENT_AUTH}"],"tier":null}`);
    assert.equal((await httpsRequest({ port: server.port, path: '/decide' })).body, '{"eku":null,"tier":null}');
  } finally {
    await server.close();
  }
  assert.equal(models.length, 4);
  // (Under tsx, require() and import can give two copies of pkijs; plain Node gives one, tested below.)
  assert.equal(models[0]!.constructor.name, 'Certificate');
  assert.equal(models[1], models[0]);
  assert.notEqual(models[2], models[0]);
  assert.equal(models[3], undefined);
});

test('certificateModel of a certificate or an identity: built once, kept with the certificate', () => {
  const certificate = parseCertificate(pki.clients.wrongEku.der);
  const model = certificateModel(certificate);
  assert.deepEqual(keyPurposes(model), [SERVER_AUTH]);
  assert.equal(certificateModel(certificate), model);
  assert.equal(certificateModel(verifiedIdentity('tls', certificate)), model);
  assert.equal(certificateModel(failedIdentity('tls', 'INVALID_PURPOSE', certificate)), model);
  // Another parse of the same DER is another certificate object, with its own model.
  const again = certificateModel(parseCertificate(pki.clients.wrongEku.der));
  assert.notEqual(again, model);
  assert.equal(again!.serialNumber.valueBlock.toString(), model!.serialNumber.valueBlock.toString());
  // The model reads a copy: the certificate's DER is not a buffer pkijs holds.
  assert.deepEqual(certificate.der, pki.clients.wrongEku.der);
});

test('certificateModel: undefined without a certificate; CertificateParseError when pkijs cannot read the DER; TypeError for anything else', () => {
  assert.equal(certificateModel(undefined), undefined);
  assert.equal(certificateModel(missingIdentity('tls')), undefined);
  assert.equal(certificateModel(failedIdentity('tls', 'ERR_MTLS_CERT_PARSE')), undefined);

  // An object built by hand whose DER is not a certificate.
  const broken = { ...parseCertificate(pki.clients.valid.der), der: Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01) };
  assert.throws(() => certificateModel(broken), (error: unknown) => {
    assert.ok(error instanceof CertificateParseError);
    assert.ok(isMtlsError(error));
    assert.equal(error.code, 'ERR_MTLS_CERT_PARSE');
    assert.equal(error.message, "pkijs could not read the certificate: Cannot create 'Certificate' from ASN.1 object");
    assert.ok(error.cause instanceof Error);
    return true;
  });
  const message = 'certificateModel(): expected a PeerIdentity (res.locals.mtls, getPeerIdentity(req)) or a PeerCertificate.';
  for (const value of [null, 'CN=alice', {}, { certificate: 'x' }, { der: [1, 2] }]) {
    assert.throws(() => certificateModel(value as never), { name: 'TypeError', message });
  }
});

test('the package entry does not load pkijs until certificateModel is called, and then the pkijs the app imports', async () => {
  const distRoot = fileURLToPath(new URL('../../dist/', import.meta.url));
  // No module of the main entry imports pkijs statically (the development certificates do, and
  // have their own entry point)...
  const files = (await readdir(distRoot, { recursive: true })).filter((f) => f.endsWith('.js') && !f.startsWith('dev-certs'));
  assert.ok(files.includes(join('certificate', 'model.js')));
  for (const file of files) {
    assert.doesNotMatch(await readFile(join(distRoot, file), 'utf8'), /from ['"](pkijs|asn1js)['"]|import\(['"]pkijs/, file);
  }
  // ...and the first call require()s it, which gives the instance an app's `import` gets.
  const script = `
    import Module from 'node:module';
    const required = [];
    const load = Module._load;
    Module._load = function (request, ...rest) { required.push(request); return load.call(this, request, ...rest); };
    const m = await import(${JSON.stringify(join(distRoot, 'index.js'))});
    console.log(JSON.stringify({ loaded: required.includes('pkijs'), model: m.certificateModel(undefined) ?? null }));
    const model = m.certificateModel(m.parseCertificate(process.env.CERT_PEM));
    console.log(JSON.stringify({ loaded: required.includes('pkijs') }));
    const pkijs = await import('pkijs');
    console.log(JSON.stringify({ sameClass: model instanceof pkijs.Certificate }));
  `;
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, CERT_PEM: pki.clients.valid.certPem } }, (error, out, err) =>
      error ? reject(new Error(err)) : resolve({ stdout: out, stderr: err }),
    );
  });
  assert.equal(stdout, '{"loaded":false,"model":null}\n{"loaded":true}\n{"sameClass":true}\n');
  assert.equal(stderr, '');
});
