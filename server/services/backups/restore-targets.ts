import { isIP } from 'node:net';
import type pg from 'pg';
import {
  normaliseTargetHost,
  type RestoreTargetAddress,
  restoreTargetAllowed,
} from '../../../shared/devops-backups';
import { allowingHost, checkDestination, type OutboundPolicy } from '../../base/outbound/index';

/**
 * Where a restore may write. The platform's own database always; any other database only when
 * BACKUP_RESTORE_TARGETS names it (host, port and database), and that is decided from the URL's
 * text alone, before anything is resolved or connected to. Then the host is resolved once through
 * the outbound policy (purpose `restore_target`) and the driver connects to that address: a name
 * that resolves differently a second later (DNS rebinding) cannot move the restore elsewhere.
 */

/** The target URL is malformed or not allow-listed; nothing was resolved or connected to. */
export class RestoreTargetRefusedError extends Error {
  override name = 'RestoreTargetRefusedError';
  constructor(
    readonly reason: 'bad_url' | 'not_allowed',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The target could not be reached, or refused the login or the database. One message whatever
 * the cause (closed port, filtered host, DNS, wrong password, missing database), so an answer
 * tells nothing about the target's network or accounts; the cause is logged on the server.
 */
export class RestoreTargetUnreachableError extends Error {
  override name = 'RestoreTargetUnreachableError';
  constructor(cause: unknown) {
    super('the restore target could not be reached', { cause });
  }
}

/** A parsed `targetDatabaseUrl`: where it points, and how to log in. */
export interface RestoreTarget extends RestoreTargetAddress {
  user: string;
  password: string;
  /** libpq's sslmode, from the URL (the only parameter taken): disable (default), require, verify-full. */
  sslMode: 'disable' | 'require' | 'verify-full';
}

const NOT_ALLOWED =
  'the restore target is not on the allow-list: an operator adds its host:port/database to BACKUP_RESTORE_TARGETS';

/**
 * Parses a `postgres://user[:password]@host[:port]/database[?sslmode=…]` URL. Every other
 * parameter is refused: the driver would obey `host`, `port`, `options` or `sslrootcert` in a
 * query string, which would move the connection past the allow-list or read the server's files.
 */
export function parseTargetUrl(text: string): RestoreTarget {
  const bad = (why: string) => new RestoreTargetRefusedError('bad_url', `the target URL ${why}`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad('is not a valid URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw bad('must be postgres://');
  const host = normaliseTargetHost(url.hostname);
  if (host === null) throw bad('has no valid host');
  const port = url.port === '' ? 5432 : Number(url.port);
  const database = decoded(url.pathname.replace(/^\//, ''));
  if (database === null || database === '' || database.includes('/')) throw bad('must name one database');
  const user = decoded(url.username);
  const password = decoded(url.password);
  if (!user || password === null) throw bad('must name a user');
  if (url.hash) throw bad('must not have a fragment');
  let sslMode: RestoreTarget['sslMode'] = 'disable';
  for (const [name, value] of url.searchParams) {
    if (name !== 'sslmode') throw bad('may carry no parameter but sslmode');
    if (value === 'disable' || value === 'require' || value === 'verify-full') sslMode = value;
    else if (value === 'verify-ca') sslMode = 'verify-full';
    else throw bad('has an sslmode other than disable, require, verify-ca or verify-full');
  }
  return { host, port, database, user, password, sslMode };
}

/** Refuses a target that is not allow-listed (RestoreTargetRefusedError 'not_allowed'). */
export function checkAllowed(target: RestoreTargetAddress, allowed: readonly RestoreTargetAddress[]): void {
  if (!restoreTargetAllowed(target, allowed)) throw new RestoreTargetRefusedError('not_allowed', NOT_ALLOWED);
}

/**
 * The driver's settings for an allow-listed target: its host resolved once through the outbound
 * policy, and every setting explicit, so that nothing is taken from the server's environment
 * (PGHOST, PGPASSWORD, ~/.pgpass) or from anything but the checked URL. Resolution failures are
 * RestoreTargetUnreachableError like any other failure to reach the target.
 */
export async function connectionSettings(
  target: RestoreTarget,
  policy: OutboundPolicy,
): Promise<pg.ClientConfig> {
  let address: string;
  try {
    // The operator named this host in BACKUP_RESTORE_TARGETS: it is vouched for whatever its
    // address class, as the outbound policy does for destinations set in the server's own
    // configuration; the check still resolves it once, through the configured resolvers.
    address = await checkDestination(
      target.host,
      'restore_target',
      allowingHost(policy, 'restore_target', target.host),
    );
  } catch (error) {
    throw new RestoreTargetUnreachableError(error);
  }
  const servername = isIP(target.host) === 0 ? target.host : undefined;
  return {
    host: address,
    port: target.port,
    database: target.database,
    user: target.user,
    password: target.password,
    ssl:
      target.sslMode === 'disable'
        ? false
        : { rejectUnauthorized: target.sslMode === 'verify-full', ...(servername ? { servername } : {}) },
  };
}

function decoded(text: string): string | null {
  try {
    const value = decodeURIComponent(text);
    return value.includes('\u0000') ? null : value;
  } catch {
    return null;
  }
}
