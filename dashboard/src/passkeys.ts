/**
 * The browser's half of a WebAuthn ceremony: the server's options (JSON, base64url fields) to
 * `navigator.credentials`, and the credential back to JSON (`PublicKeyCredential.toJSON()`), so
 * the server verifies exactly what the authenticator signed.
 */

/** What `PublicKeyCredential.toJSON()` gives: the shape the server's input schema reads. */
export type CredentialJSON = {
  id: string;
  rawId: string;
  type: 'public-key';
  response: Record<string, unknown>;
  clientExtensionResults: Record<string, unknown>;
  authenticatorAttachment?: string | null;
};

export function passkeysSupported(): boolean {
  return typeof PublicKeyCredential !== 'undefined' && 'parseCreationOptionsFromJSON' in PublicKeyCredential;
}

/** Creates a passkey with the registration options the server gave. */
export async function createPasskey(options: unknown): Promise<CredentialJSON> {
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(
    options as PublicKeyCredentialCreationOptionsJSON,
  );
  const credential = (await navigator.credentials.create({ publicKey })) as PublicKeyCredential | null;
  if (!credential) throw new Error('no passkey was created');
  return credential.toJSON() as unknown as CredentialJSON;
}

/** Signs the server's authentication options with one of the user's passkeys. */
export async function usePasskey(options: unknown): Promise<CredentialJSON> {
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(
    options as PublicKeyCredentialRequestOptionsJSON,
  );
  const credential = (await navigator.credentials.get({ publicKey })) as PublicKeyCredential | null;
  if (!credential) throw new Error('no passkey answered');
  return credential.toJSON() as unknown as CredentialJSON;
}
