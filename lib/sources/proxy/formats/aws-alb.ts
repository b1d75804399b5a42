/**
 * AWS Application Load Balancer mutual TLS (Elastic Load Balancing guide, "Mutual authentication
 * with TLS"). Verify mode sends `X-Amzn-Mtls-Clientcert-Leaf`, the URL-encoded PEM of the leaf
 * (`+`, `=` and `/` left unescaped) after the ALB validated the chain against its trust store.
 * Passthrough mode sends `X-Amzn-Mtls-Clientcert`, the URL-encoded PEM of the whole presented
 * chain, **without verifying it**: such an identity is never `verified`.
 */
import type { ProxyFormat } from './format.js';
import { percentEncodedPemCertificates } from './decoding.js';

/** AWS ALB `X-Amzn-Mtls-Clientcert-Leaf` (verify mode) or `X-Amzn-Mtls-Clientcert` (passthrough). */
export const awsAlbFormat: ProxyFormat = {
  name: 'aws-alb',
  headers: { leaf: 'x-amzn-mtls-clientcert-leaf', chain: 'x-amzn-mtls-clientcert' },
  companionHeaders: [
    'x-amzn-mtls-clientcert-serial-number',
    'x-amzn-mtls-clientcert-issuer',
    'x-amzn-mtls-clientcert-subject',
    'x-amzn-mtls-clientcert-validity',
  ],
  read(header, limits) {
    // The passthrough header first: an ALB in passthrough mode verifies nothing, so a `-Leaf`
    // header beside it (which that ALB does not write) must not make the identity verified.
    const chain = header('chain');
    if (chain !== undefined) {
      const der = percentEncodedPemCertificates(chain, limits.maxChainLength)[0]!;
      return { kind: 'failed', reason: 'PROXY_UNVERIFIED', der };
    }
    const leaf = header('leaf');
    if (leaf !== undefined) {
      return { kind: 'verified', der: percentEncodedPemCertificates(leaf, 1)[0]! };
    }
    return { kind: 'none' };
  },
};
