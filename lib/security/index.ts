export { TokenAuthenticator, MAX_AUTH_TOKEN_LENGTH } from './token-authenticator.js';
export {
  CLIENT_SECURITY_OPTION_KEYS,
  DEFAULT_SERVER_SECURITY_OPTIONS,
  SERVER_SECURITY_OPTION_KEYS,
  resolveClientSecurityOptions,
  resolveServerSecurityOptions,
} from './security-options.js';
export type { ClientSecurityOptions, ServerAuthOptions, ServerSecurityOptions } from './security-options.js';
