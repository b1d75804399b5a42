import morgan from 'morgan';
import { mtlsIdentity } from 'mtls-observability';
import { morganFormats, newRequest, socketStub, typicalCa, TYPICAL_CLIENT } from './in-process.js';
const { mtlsCombined } = morganFormats();
const ca = await typicalCa();
const client = await ca.issue(TYPICAL_CLIENT);
const mw = mtlsIdentity();
const noop = () => {};
const N = 200000;
const reqs = [];
let t = 0;
for (let round = 0; round < 10; round++) {
  const batch = Array.from({ length: N / 10 }, () => newRequest(socketStub(client.der, true)));
  const t0 = process.hrtime.bigint();
  for (const [req, res] of batch) { mw(req, res, noop); }
  t += Number(process.hrtime.bigint() - t0);
  const t1 = process.hrtime.bigint();
  for (const [req, res] of batch) { mtlsCombined(morgan, req, res); }
  reqs.push(Number(process.hrtime.bigint() - t1));
}
console.log('middleware per new-connection (stub) µs', t / N / 1000, 'format µs', reqs.reduce((a, b) => a + b) / N / 1000);
