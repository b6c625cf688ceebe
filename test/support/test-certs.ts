import { generate } from 'selfsigned';

/**
 * Certificates for TLS tests, made at test time (nothing committed, nothing to expire in the
 * repository), in pure JS (no openssl binary needed on CI). EC P-256 keys: the whole set takes
 * well under a second.
 */
export interface TestPki {
  /** The test CA, which signs `server` and `client`. */
  ca: string;
  /** A server certificate for `localhost`, `127.0.0.1` and `::1`, signed by `ca`. */
  server: { key: string; cert: string };
  /** A client certificate (extended key usage clientAuth), signed by `ca`. */
  client: { key: string; cert: string };
  /** An unrelated CA: trusting it instead of `ca` must fail the handshake. */
  otherCa: string;
  /** A client certificate signed by `otherCa`: a server trusting only `ca` must refuse it. */
  strangerClient: { key: string; cert: string };
}

const CA_EXTENSIONS = [
  { name: 'basicConstraints' as const, cA: true, critical: true },
  { name: 'keyUsage' as const, keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
];

async function makeCa(name: string): Promise<{ key: string; cert: string }> {
  const pems = await generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: CA_EXTENSIONS,
  });
  return { key: pems.private, cert: pems.cert };
}

async function makeLeaf(
  name: string,
  issuer: { key: string; cert: string },
  usage: 'server' | 'client',
): Promise<{ key: string; cert: string }> {
  const pems = await generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ca: issuer,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      usage === 'server' ? { name: 'extKeyUsage', serverAuth: true } : { name: 'extKeyUsage', clientAuth: true },
      ...(usage === 'server'
        ? [
            {
              name: 'subjectAltName' as const,
              altNames: [
                { type: 2 as const, value: 'localhost' },
                { type: 7 as const, ip: '127.0.0.1' },
                { type: 7 as const, ip: '::1' },
              ],
            },
          ]
        : []),
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

/** A fresh CA, a server and a client certificate signed by it, and a second, unrelated CA. */
export async function makeTestPki(): Promise<TestPki> {
  const [ca, other] = await Promise.all([makeCa('nestjs-ms-rpc test CA'), makeCa('unrelated test CA')]);
  const [server, client, strangerClient] = await Promise.all([
    makeLeaf('localhost', ca, 'server'),
    makeLeaf('ms-rpc test client', ca, 'client'),
    makeLeaf('stranger', other, 'client'),
  ]);
  return { ca: ca.cert, server, client, otherCa: other.cert, strangerClient };
}
