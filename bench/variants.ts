/** The servers the end-to-end table compares, and the ways the load generator connects to them. */
export const VARIANTS = {
  ref: 'express + morgan combined (reference)',
  // The reference against a copy of itself: its ratio is the method's own error.
  control: 'express + morgan combined (A/A control)',
  mtls: '+ mtlsIdentity() + mtls-combined',
  mtlsMetrics: '+ mtlsIdentity() + mtls-combined + metrics',
  // Peers: what a user writes without this library.
  handTokens: 'peer: morgan tokens calling getPeerCertificate()',
  certAuth: 'peer: client-certificate-auth + those tokens',
  naivePkijs: 'peer: pkijs parse per request + tokens',
} as const;
export type VariantName = keyof typeof VARIANTS;
export const VARIANT_NAMES = Object.keys(VARIANTS) as VariantName[];
/** The peers the library (`mtls`) must beat in every mode. */
export const PEERS = ['handTokens', 'certAuth', 'naivePkijs'] as const satisfies readonly VariantName[];

export const MODES = {
  keepalive: 'keep-alive',
  handshakeSame: 'new handshake, same cert',
  handshakeDistinct: 'new handshake, distinct cert',
  resume: 'TLS 1.3 resumption',
} as const;
export type ModeName = keyof typeof MODES;
export const MODE_NAMES = Object.keys(MODES) as ModeName[];
