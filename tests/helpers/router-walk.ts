import type { z } from 'zod';
import { appRouter } from '../../server/http/routers/index';
import type { Meta, Policy, ProcedureScope } from '../../server/http/trpc';

/** A procedure as the router walk sees it. */
export interface WalkedProcedure {
  path: string;
  type: 'query' | 'mutation' | 'subscription';
  scope: ProcedureScope | undefined;
  policy: Policy | undefined;
  /** The zod input schema, when the procedure takes input. */
  input: z.ZodType | undefined;
}

interface ProcedureInternals {
  _def: { type: WalkedProcedure['type']; meta?: Partial<Meta>; inputs: unknown[] };
}

/** Every procedure of the router: tRPC v11 keeps them in one flat record keyed by dotted path. */
export const PROCEDURES: readonly WalkedProcedure[] = Object.entries(
  appRouter._def.procedures as unknown as Record<string, ProcedureInternals>,
).map(([path, procedure]) => ({
  path,
  type: procedure._def.type,
  scope: procedure._def.meta?.scope,
  policy: procedure._def.meta?.policy,
  input: procedure._def.inputs[0] as z.ZodType | undefined,
}));

const BY_PATH = new Map(PROCEDURES.map((p) => [p.path, p]));

/** The procedure at `path`; throws when the router has none there. */
export function procedureAt(path: string): WalkedProcedure {
  const found = BY_PATH.get(path);
  if (!found) throw new Error(`no procedure ${path} in the router`);
  return found;
}

const CHALLENGE = `bcsf_${'A'.repeat(43)}`;
const CREDENTIAL = { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: {} };

/**
 * Inputs for every `auth.secondFactor.*` procedure that pass validation but prove nothing (a code
 * no secret made, an unknown challenge, a credential no authenticator signed): what the router
 * walks call them with. `setRequirement` is each walk's own (turning it on ends sessions).
 */
export const SECOND_FACTOR_INPUTS: Record<string, unknown> = {
  'auth.secondFactor.status': undefined,
  'auth.secondFactor.totp.begin': undefined,
  'auth.secondFactor.totp.confirm': { code: '000000' },
  'auth.secondFactor.regenerateRecoveryCodes': { code: '000000' },
  'auth.secondFactor.remove': { password: 'not-the-password-0123' },
  'auth.secondFactor.requirement': undefined,
  'auth.secondFactor.verify': { challenge: CHALLENGE, code: '000000' },
  'auth.secondFactor.passkeys.list': undefined,
  'auth.secondFactor.passkeys.registrationOptions': undefined,
  'auth.secondFactor.passkeys.register': { credential: CREDENTIAL, name: 'walked' },
  'auth.secondFactor.passkeys.remove': { id: 'AAAA', password: 'not-the-password-0123' },
  'auth.secondFactor.passkeyOptions': { challenge: CHALLENGE },
  'auth.secondFactor.passwordless.options': undefined,
  'auth.secondFactor.passwordless.signIn': { passkey: CREDENTIAL },
  'auth.secondFactor.verifyPasskey': { challenge: CHALLENGE, passkey: CREDENTIAL },
  'auth.secondFactor.enrolment.begin': { challenge: CHALLENGE },
  'auth.secondFactor.enrolment.finish': { challenge: CHALLENGE, code: '000000' },
};
