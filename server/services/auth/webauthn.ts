/**
 * The WebAuthn library, loaded on the first passkey call rather than when the platform starts:
 * with its CBOR and ASN.1 dependencies it is ~20 MiB of a process's memory, which an installation
 * whose users have no passkeys would pay for nothing.
 */
let loading: Promise<typeof import('@simplewebauthn/server')> | undefined;

export function webauthn(): Promise<typeof import('@simplewebauthn/server')> {
  loading ??= import('@simplewebauthn/server');
  return loading;
}
