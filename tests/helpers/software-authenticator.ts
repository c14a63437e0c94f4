import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';

/**
 * A WebAuthn authenticator in software, for tests that have no browser: it makes an ES256 key
 * pair per credential and answers registration options (attestation `none`) and authentication
 * options (an assertion signed over authenticatorData ‖ SHA-256(clientDataJSON)) as the W3C
 * WebAuthn Level 3 spec lays them out, in the JSON of `PublicKeyCredential.toJSON()`.
 */
export class SoftwareAuthenticator {
  private readonly credentials = new Map<
    string,
    { privateKey: KeyObject; counter: number; userHandle: string }
  >();

  constructor(
    /** The origin the "page" runs on, written into clientDataJSON. */
    readonly origin: string,
  ) {}

  /** Answers `navigator.credentials.create()` options (as the server's JSON gives them). */
  register(options: { challenge: string; rp: { id?: string }; user: { id: string } }) {
    const rpId = options.rp.id ?? new URL(this.origin).hostname;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const id = randomBytes(16);
    const credentialId = id.toString('base64url');
    this.credentials.set(credentialId, { privateKey, counter: 0, userHandle: options.user.id });
    const jwk = publicKey.export({ format: 'jwk' });
    // RFC 9053 COSE_Key: kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y.
    const coseKey = cbor(
      new Map<number, unknown>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
    const length = Buffer.alloc(2);
    length.writeUInt16BE(id.length);
    const authData = Buffer.concat([
      authenticatorData(rpId, 0x45, 0), // user present, user verified, attested credential data
      Buffer.alloc(16), // AAGUID: none
      length,
      id,
      coseKey,
    ]);
    const attestationObject = cbor(
      new Map<string, unknown>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]),
    );
    return {
      id: credentialId,
      rawId: credentialId,
      type: 'public-key' as const,
      response: {
        clientDataJSON: clientData('webauthn.create', options.challenge, this.origin),
        attestationObject: attestationObject.toString('base64url'),
        transports: ['internal'],
      },
      clientExtensionResults: {},
    };
  }

  /**
   * Answers `navigator.credentials.get()` options with the first allowed credential it holds.
   * `counter` overrides the signature counter (a cloned authenticator's would go back);
   * `userVerified: false` answers as an authenticator that checked no PIN or biometric.
   */
  assert(
    options: { challenge: string; rpId?: string; allowCredentials?: { id: string }[] },
    {
      counter,
      origin = this.origin,
      userVerified = true,
    }: { counter?: number; origin?: string; userVerified?: boolean } = {},
  ) {
    const allowed = options.allowCredentials?.map((c) => c.id) ?? [...this.credentials.keys()];
    const credentialId = allowed.find((id) => this.credentials.has(id));
    if (!credentialId) throw new Error('no credential of this authenticator is allowed');
    const credential = this.credentials.get(credentialId)!;
    credential.counter = counter ?? credential.counter + 1;
    const rpId = options.rpId ?? new URL(this.origin).hostname;
    // User present (0x01), and user verified (0x04) unless told otherwise.
    const authData = authenticatorData(rpId, userVerified ? 0x05 : 0x01, credential.counter);
    const clientDataJSON = clientData('webauthn.get', options.challenge, origin);
    const signed = Buffer.concat([
      authData,
      createHash('sha256').update(Buffer.from(clientDataJSON, 'base64url')).digest(),
    ]);
    return {
      id: credentialId,
      rawId: credentialId,
      type: 'public-key' as const,
      response: {
        clientDataJSON,
        authenticatorData: authData.toString('base64url'),
        // ECDSA over SHA-256, DER-encoded, as WebAuthn's ES256 signatures are.
        signature: sign('sha256', signed, credential.privateKey).toString('base64url'),
        userHandle: credential.userHandle,
      },
      clientExtensionResults: {},
    };
  }
}

function clientData(type: string, challenge: string, origin: string): string {
  return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false })).toString('base64url');
}

/** rpIdHash ‖ flags ‖ signCount (WebAuthn §6.1). */
function authenticatorData(rpId: string, flags: number, counter: number): Buffer {
  const count = Buffer.alloc(4);
  count.writeUInt32BE(counter);
  return Buffer.concat([createHash('sha256').update(rpId).digest(), Buffer.from([flags]), count]);
}

/** The little of CBOR (RFC 8949) WebAuthn needs: integers, byte and text strings, maps. */
function cbor(value: unknown): Buffer {
  if (typeof value === 'number') {
    return value >= 0 ? head(0, value) : head(1, -1 - value);
  }
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), value]);
  if (value instanceof Map) {
    const parts = [head(5, value.size)];
    for (const [key, item] of value) parts.push(cbor(key), cbor(item));
    return Buffer.concat(parts);
  }
  throw new TypeError(`cannot encode ${typeof value} as CBOR here`);
}

function head(major: number, length: number): Buffer {
  if (length < 24) return Buffer.from([(major << 5) | length]);
  if (length < 0x100) return Buffer.from([(major << 5) | 24, length]);
  const bytes = Buffer.alloc(3);
  bytes[0] = (major << 5) | 25;
  bytes.writeUInt16BE(length, 1);
  return bytes;
}
