/**
 * The development PKI for tests, generated once per test-file process (Node's test runner runs each
 * file in its own process) and shared by every test in it.
 */
import { createDevCertificates, type DevCertificateSet } from '../../lib/dev-certs/index.js';

let pending: Promise<DevCertificateSet> | undefined;

/** The memoized {@link DevCertificateSet}: CA, server and one client per failure mode. */
export function getTestPki(): Promise<DevCertificateSet> {
  pending ??= createDevCertificates();
  return pending;
}
