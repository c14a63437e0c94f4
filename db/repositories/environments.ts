import { type Kysely, sql } from 'kysely';
import type { Database } from '../database';
import type { ConfigRevisionRow, EnvironmentRow, SealedConfigSecret } from './environments.table';

/** A revision with its author's email (null once the user is gone, or for the platform itself). */
export interface ConfigRevisionWithAuthor extends ConfigRevisionRow {
  author_email: string | null;
}

export interface NewEnvironmentValues {
  organization_id: string;
  name: string;
  description: string;
  protected: boolean;
}

export interface NewRevisionValues {
  environment_id: string;
  revision: number;
  values: Record<string, string | number | boolean>;
  secrets: Record<string, SealedConfigSecret>;
  author_user_id: string | null;
  author_api_key_id: string | null;
  message: string;
  rolled_back_from: number | null;
}

/** Inserts the environments an organization lacks; returns only those it inserted. */
export function insertMissingEnvironments(
  db: Kysely<Database>,
  rows: NewEnvironmentValues[],
): Promise<EnvironmentRow[]> {
  return (
    db
      .insertInto('environments')
      .values(rows)
      // Waits for a concurrent insert of the same name to commit, then skips it: after this, every
      // environment of `rows` exists, whoever made it.
      .onConflict((oc) => oc.columns(['organization_id', 'name']).doNothing())
      .returningAll()
      .execute()
  );
}

/** Inserts one environment; a name the organization already has fails with unique_violation. */
export function insertEnvironment(db: Kysely<Database>, row: NewEnvironmentValues): Promise<EnvironmentRow> {
  return db.insertInto('environments').values(row).returningAll().executeTakeFirstOrThrow();
}

/** An organization's environment by name; `forUpdate` locks its row, serialising its changes. */
export function findEnvironment(
  db: Kysely<Database>,
  organizationId: string,
  name: string,
  { forUpdate = false }: { forUpdate?: boolean } = {},
): Promise<EnvironmentRow | undefined> {
  let query = db
    .selectFrom('environments')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('name', '=', name);
  if (forUpdate) query = query.forUpdate();
  return query.executeTakeFirst();
}

/**
 * An organization's environments with their current revision number: those of `pipeline` first,
 * in its order (development, staging, production), then the others as they were created.
 */
export function listEnvironments(
  db: Kysely<Database>,
  organizationId: string,
  pipeline: readonly string[],
): Promise<(EnvironmentRow & { revision: number })[]> {
  return (
    db
      .selectFrom('environments as e')
      .selectAll('e')
      .select((eb) =>
        eb
          .selectFrom('config_revisions as r')
          .select((inner) => inner.fn.max('r.revision').as('revision'))
          .whereRef('r.environment_id', '=', 'e.id')
          .$asScalar()
          .$notNull()
          .as('revision'),
      )
      .where('e.organization_id', '=', organizationId)
      // array_position is null for a name not in the pipeline: those sort last.
      .orderBy(sql`array_position(${[...pipeline]}::text[], e.name)`)
      .orderBy('e.created_at')
      .orderBy('e.name')
      .execute()
  );
}

function revisionsWithAuthor(db: Kysely<Database>) {
  return db
    .selectFrom('config_revisions as r')
    .leftJoin('users as u', 'u.id', 'r.author_user_id')
    .selectAll('r')
    .select('u.email as author_email');
}

/** The environment's current revision (the highest), or undefined before its first. */
export function latestRevision(
  db: Kysely<Database>,
  environmentId: string,
): Promise<ConfigRevisionWithAuthor | undefined> {
  return revisionsWithAuthor(db)
    .where('r.environment_id', '=', environmentId)
    .orderBy('r.revision', 'desc')
    .limit(1)
    .executeTakeFirst();
}

export function findRevision(
  db: Kysely<Database>,
  environmentId: string,
  revision: number,
): Promise<ConfigRevisionWithAuthor | undefined> {
  return revisionsWithAuthor(db)
    .where('r.environment_id', '=', environmentId)
    .where('r.revision', '=', revision)
    .executeTakeFirst();
}

/** Revisions newest first, older than `before` when given. */
export function listRevisions(
  db: Kysely<Database>,
  environmentId: string,
  { limit, before }: { limit: number; before?: number },
): Promise<ConfigRevisionWithAuthor[]> {
  let query = revisionsWithAuthor(db)
    .where('r.environment_id', '=', environmentId)
    .orderBy('r.revision', 'desc')
    .limit(limit);
  if (before !== undefined) query = query.where('r.revision', '<', before);
  return query.execute();
}

export function insertRevision(db: Kysely<Database>, row: NewRevisionValues): Promise<ConfigRevisionRow> {
  return db
    .insertInto('config_revisions')
    .values({ ...row, values: JSON.stringify(row.values), secrets: JSON.stringify(row.secrets) })
    .returningAll()
    .executeTakeFirstOrThrow();
}
