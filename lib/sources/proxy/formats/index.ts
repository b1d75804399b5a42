/** The supported forwarded-certificate formats, by the name an identity gives as its `source`. */
import type { ProxyFormatName } from '../../../identity/peer-identity.js';
import type { ProxyFormat } from './format.js';
import { awsAlbFormat } from './aws-alb.js';
import { caddyFormat } from './caddy.js';
import { cloudflareFormat } from './cloudflare.js';
import { envoyXfccFormat } from './envoy-xfcc.js';
import { haproxyFormat } from './haproxy.js';
import { nginxFormat } from './nginx.js';
import { rfc9440Format } from './rfc9440.js';
import { traefikFormat } from './traefik.js';

/** Each format by name. */
export const PROXY_FORMATS = Object.freeze({
  'envoy-xfcc': envoyXfccFormat,
  nginx: nginxFormat,
  traefik: traefikFormat,
  'aws-alb': awsAlbFormat,
  caddy: caddyFormat,
  haproxy: haproxyFormat,
  cloudflare: cloudflareFormat,
  rfc9440: rfc9440Format,
} satisfies Record<ProxyFormatName, ProxyFormat>);

/**
 * Every header a supported format reads or strips by default (certificates, chains, verify
 * results and their companions), lowercase, each once, in the order of {@link PROXY_FORMATS}.
 */
export const FORWARDED_CERTIFICATE_HEADER_NAMES: readonly string[] = Object.freeze([
  ...new Set(
    Object.values(PROXY_FORMATS).flatMap((format: ProxyFormat) => [
      ...Object.values(format.headers),
      ...(format.companionHeaders ?? []),
    ]),
  ),
]);
