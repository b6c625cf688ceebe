import { X509Certificate } from 'node:crypto';
import { createSecureContext, type ConnectionOptions as TlsConnectionOptions, type TlsOptions } from 'node:tls';
import { checkInteger, checkKnownKeys, checkOptionsObject } from '../common/option-checks.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { TLS_CONNECT_OPTION_KEYS, TLS_SERVER_OPTION_KEYS } from './tls-option-keys.js';
import { MAX_AUTH_TOKEN_LENGTH, TokenAuthenticator } from './token-authenticator.js';

/** TLS and token settings of a client connection (part of ConnectionOptions, so of channel and client options). */
export interface ClientSecurityOptions {
  /**
   * Connect with TLS. Node `tls.connect` options, passed through: `ca` (trust the servers' CA),
   * `cert` + `key` (client certificate, for mTLS), `servername`, `rejectUnauthorized`,
   * `checkServerIdentity`, `minVersion`... `host` and `port` come from each provider's address.
   * The server certificate is checked against the provider's address (an IP SAN for an IP, as
   * registries usually advertise), or against `servername` when set (one DNS name for a fleet).
   * @default undefined (plain TCP)
   */
  tls?: TlsConnectionOptions;
  /**
   * Shared token sent in the client Hello, for servers configured with `auth`. A server without
   * `auth` ignores it. A refused token fails calls at once with an AuthError (code 'ERR_AUTH');
   * reconnects keep their normal backoff, so a misconfigured client never hammers the server.
   * @default undefined (no token)
   */
  authToken?: string;
}

export const CLIENT_SECURITY_OPTION_KEYS = ['tls', 'authToken'] as const;

/** Shared-token authentication of a server. */
export interface ServerAuthOptions {
  /**
   * Tokens accepted from clients (non-empty strings, at most 4096 characters). Several may be
   * valid at once to rotate a token without downtime.
   */
  tokens: string[];
}

/** TLS and authentication settings of a server (part of MsRpcServerOptions). */
export interface ServerSecurityOptions {
  /**
   * Listen with TLS. Node `tls.createServer` options, passed through: `key` + `cert` (or `pfx`);
   * for mTLS add `ca`, `requestCert: true` and `rejectUnauthorized: true`, and clients without a
   * certificate signed by `ca` never get past the TLS handshake (they get an error frame naming
   * the reason, then a close). Its `handshakeTimeout` defaults to this server's
   * `handshakeTimeout` (Node's own default is 120 s).
   * @default undefined (plain TCP)
   */
  tls?: TlsOptions;
  /**
   * Require a shared token in each client's Hello. Until a client presented a valid one, the
   * server dispatches nothing (no request, event or ping) and withholds its own Hello; a missing
   * or wrong token, any other frame first, or no Hello within `handshakeTimeout` gets an
   * ERR_AUTH error frame, one warning in the log (remote address, never the token) and a close.
   * @default undefined (clients are accepted with or without a token)
   */
  auth?: ServerAuthOptions;
  /**
   * Time (ms) a client has to complete the TLS handshake (with `tls`) and to present its token
   * (with `auth`); a silent socket is closed after it.
   * @default 5000
   */
  handshakeTimeout: number;
}

export const DEFAULT_SERVER_SECURITY_OPTIONS: Readonly<Pick<ServerSecurityOptions, 'handshakeTimeout'>> = Object.freeze({
  handshakeTimeout: 5000,
});

export const SERVER_SECURITY_OPTION_KEYS = ['tls', 'auth', 'handshakeTimeout'] as const;

/** Keys that name the address: they come from the provider, not from the TLS options. */
const ADDRESS_KEYS = ['host', 'port', 'path', 'socket'];

export function resolveClientSecurityOptions(partial: Partial<ClientSecurityOptions> = {}, prefix = ''): ClientSecurityOptions {
  const p = (field: string) => (prefix ? `${prefix}.${field}` : field);
  const out: ClientSecurityOptions = {};
  if (partial.tls !== undefined) {
    checkTlsObject(p('tls'), partial.tls, TLS_CONNECT_OPTION_KEYS);
    for (const key of ADDRESS_KEYS) {
      if ((partial.tls as Record<string, unknown>)[key] !== undefined) {
        throw new InvalidOptionsError(p(`tls.${key}`), 'the address comes from each provider; remove it from the TLS options');
      }
    }
    checkSecureContext(p('tls'), partial.tls);
    out.tls = partial.tls;
  }
  if (partial.authToken !== undefined) {
    const token: unknown = partial.authToken;
    // The message never echoes the value: it is a secret.
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_AUTH_TOKEN_LENGTH) {
      throw new InvalidOptionsError(p('authToken'), `expected a non-empty string of at most ${MAX_AUTH_TOKEN_LENGTH} characters`);
    }
    out.authToken = token;
  }
  return out;
}

export function resolveServerSecurityOptions(partial: Partial<ServerSecurityOptions> = {}, prefix = ''): ServerSecurityOptions {
  const p = (field: string) => (prefix ? `${prefix}.${field}` : field);
  const out: ServerSecurityOptions = {
    handshakeTimeout: partial.handshakeTimeout ?? DEFAULT_SERVER_SECURITY_OPTIONS.handshakeTimeout,
  };
  checkInteger(p('handshakeTimeout'), out.handshakeTimeout, 1);
  if (partial.tls !== undefined) {
    const tls = partial.tls;
    checkTlsObject(p('tls'), tls, TLS_SERVER_OPTION_KEYS);
    if (!((tls.key && tls.cert) || tls.pfx || tls.SNICallback || tls.secureContext)) {
      throw new InvalidOptionsError(p('tls'), 'a TLS server needs a certificate: give `key` and `cert` (or `pfx`)');
    }
    checkSecureContext(p('tls'), tls);
    out.tls = tls;
  }
  if (partial.auth !== undefined) {
    const auth: unknown = partial.auth;
    checkOptionsObject(p('auth'), auth, ['tokens']);
    // Validates each token; the server builds its own authenticator from the resolved options.
    void new TokenAuthenticator((auth as ServerAuthOptions).tokens, p('auth.tokens'));
    out.auth = { tokens: [...(auth as ServerAuthOptions).tokens] };
  }
  return out;
}

function checkTlsObject(field: string, value: unknown, known: readonly string[]): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionsError(field, 'expected an object of Node TLS options');
  }
  checkKnownKeys(field, value, known);
}

/** Bad PEM, a key that does not match its certificate...: fail at construction, not on the first connect. */
function checkSecureContext(field: string, options: TlsConnectionOptions | TlsOptions): void {
  if (options.secureContext) return;
  checkCertificates(`${field}.ca`, options.ca);
  try {
    createSecureContext(options);
  } catch (err) {
    throw new InvalidOptionsError(field, `Node rejected the TLS options: ${(err as Error).message}`);
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/**
 * Node skips what it cannot parse in `ca` without a word, so a mangled CA would only show up as
 * "certificate not trusted" on every handshake. Each entry must be PEM certificates or one DER.
 */
function checkCertificates(field: string, ca: TlsOptions['ca']): void {
  if (ca === undefined) return;
  const entries = Array.isArray(ca) ? ca : [ca];
  entries.forEach((entry, i) => {
    const where = Array.isArray(ca) ? `${field}[${i}]` : field;
    const text = typeof entry === 'string' ? entry : Buffer.isBuffer(entry) ? entry.toString('latin1') : undefined;
    if (text === undefined) throw new InvalidOptionsError(where, 'expected a PEM string or a Buffer');
    const blocks = text.match(PEM_CERTIFICATE);
    try {
      if (blocks) for (const block of blocks) new X509Certificate(block);
      else if (Buffer.isBuffer(entry)) new X509Certificate(entry);
      else throw new Error('no PEM certificate block');
    } catch (err) {
      throw new InvalidOptionsError(where, `not a certificate: ${(err as Error).message}`);
    }
  });
}
