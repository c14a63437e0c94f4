import type { Kysely } from 'kysely';
import type { z } from 'zod';
import type { PlatformDatabase } from '../../../db/connect';
import type { Database } from '../../../db/database';
import {
  type ConfigRevisionWithAuthor,
  findEnvironment,
  findRevision,
  insertEnvironment,
  insertMissingEnvironments,
  insertRevision,
  latestRevision,
  listEnvironments,
  listRevisions,
} from '../../../db/repositories/environments';
import type { EnvironmentRow } from '../../../db/repositories/environments.table';
import { sqlState } from '../../../db/retry';
import {
  type ConfigChange,
  type ConfigDiff,
  type ConfigHistoryPage,
  type ConfigSecretChanges,
  type ConfigValues,
  configSecretChanges,
  configValues,
  type EnvironmentComparison,
  type EnvironmentSummary,
  type EnvironmentView,
} from '../../../shared/devops-environments';
import type { AuditActor, AuditLog } from '../../base/audit';
import { PlatformError } from '../../base/errors';
import { compareConfigs, diffConfigs, EMPTY_CONFIG, isEmptyDiff, type StoredConfig } from './config-diff';
import { ConfigInvalidError, validateConfiguration } from './config-schema';
import { ConfigSecretSealer } from './config-secrets';
import { authorOf, environmentFields, revisionView, sortedRecord, storedConfig } from './config-views';

/** Who acts: every method is confined to the actor's organization; changes record the rest. */
export interface EnvironmentActor extends AuditActor {
  organizationId: string;
}

/** The environments every organization starts with. */
export const DEFAULT_ENVIRONMENTS = [
  { name: 'development', description: 'Development', protected: false },
  { name: 'staging', description: 'Staging', protected: false },
  { name: 'production', description: 'Production', protected: true },
] as const;

/** A configuration ready for a process: its secrets opened. Internal only; no procedure returns it. */
export interface ResolvedConfiguration {
  environment: string;
  revision: number;
  values: ConfigValues;
  secrets: Record<string, string>;
}

export interface SetConfigInput {
  /** The complete set of plain values; absent: they stay as they are. */
  values?: ConfigValues;
  /** A string sets a secret, null deletes it; secrets not named stay as they are. */
  secrets?: ConfigSecretChanges;
  message?: string;
  /** CONFLICT unless this is the current revision. Required for a protected environment. */
  expectedRevision?: number;
}

export interface RollbackOptions {
  message?: string;
  expectedRevision?: number;
}

/**
 * Environments and their configuration. A configuration is append-only: a change, and a rollback
 * too, makes a new revision (1, 2, 3… per environment) with its author and message, so the
 * history is complete. Changes to one environment are serialised by a lock on its row; a unique
 * (environment, revision) constraint stands behind it. Secrets are sealed at rest
 * (config-secrets.ts) and only ever leave redacted, except through `resolve`, for the platform's
 * own use. An environment of another organization is NOT_FOUND, like one that does not exist.
 */
export class EnvironmentService {
  private readonly sealer: ConfigSecretSealer;
  /** Organizations whose default environments this instance has made sure of. */
  private readonly ensured = new Set<string>();

  constructor(private readonly options: { database: PlatformDatabase; audit: AuditLog; kek: Uint8Array }) {
    this.sealer = new ConfigSecretSealer(options.kek);
  }

  /**
   * Creates the default environments the organization lacks (production protected), each with an
   * empty revision 1, and returns the names it created. Safe to call concurrently and repeatedly.
   */
  async ensureDefaults(organizationId: string): Promise<string[]> {
    const created = await this.options.database.transaction(async (trx) => {
      const rows = await insertMissingEnvironments(
        trx,
        DEFAULT_ENVIRONMENTS.map((environment) => ({ ...environment, organization_id: organizationId })),
      );
      for (const row of rows) await this.recordCreation(trx, row, { organizationId }, 'default environment');
      return rows.map((row) => row.name);
    });
    this.ensured.add(organizationId);
    return created;
  }

  async list(actor: EnvironmentActor): Promise<EnvironmentSummary[]> {
    await this.ready(actor.organizationId);
    const rows = await this.options.database.read((db) =>
      listEnvironments(
        db,
        actor.organizationId,
        DEFAULT_ENVIRONMENTS.map((environment) => environment.name),
      ),
    );
    return rows.map((row) => ({ ...environmentFields(row), revision: row.revision }));
  }

  /** The environment with its current revision, secrets redacted. */
  async get(actor: EnvironmentActor, name: string): Promise<EnvironmentView> {
    await this.ready(actor.organizationId);
    return this.options.database.read(async (db) => {
      const environment = await this.find(db, actor, name);
      const current = await this.current(db, environment);
      return { ...environmentFields(environment), current: revisionView(current) };
    });
  }

  async create(
    actor: EnvironmentActor,
    input: { name: string; description?: string; protected?: boolean },
  ): Promise<EnvironmentView> {
    await this.ready(actor.organizationId);
    const environment = await this.options.database
      .transaction(async (trx) => {
        const row = await insertEnvironment(trx, {
          organization_id: actor.organizationId,
          name: input.name,
          description: input.description?.trim() ?? '',
          protected: input.protected ?? false,
        });
        await this.recordCreation(trx, row, actor, 'environment created');
        return row;
      })
      .catch((error: unknown) => {
        if (sqlState(error) === '23505') {
          throw new PlatformError('CONFLICT', `an environment named ${input.name} exists`);
        }
        throw error;
      });
    return this.get(actor, environment.name);
  }

  /**
   * Makes a new revision: `values` (when given) replace the plain values, `secrets` set or delete
   * the secrets they name. A change that changes nothing makes no revision (`created: false`).
   */
  async setConfig(actor: EnvironmentActor, name: string, change: SetConfigInput): Promise<ConfigChange> {
    // The shapes first, before any lock: a malformed change never waits for one.
    const values = change.values === undefined ? undefined : parseOrThrow(configValues, change.values);
    const secrets = parseOrThrow(configSecretChanges, change.secrets ?? {});
    await this.ready(actor.organizationId);
    return this.commit(actor, name, change.expectedRevision, async (environment, current) => {
      const next: StoredConfig = {
        values: values ?? current.values,
        secrets: { ...current.secrets },
      };
      for (const [key, value] of Object.entries(secrets)) {
        if (value === null) {
          delete next.secrets[key];
          continue;
        }
        // The same value again keeps its sealed text: no change, no new revision.
        const kept = current.secrets[key];
        if (kept && kept.fingerprint === this.sealer.fingerprint(actor.organizationId, value)) continue;
        next.secrets[key] = this.sealer.seal(
          { organizationId: actor.organizationId, environmentId: environment.id },
          key,
          value,
        );
      }
      return { next, message: change.message ?? '', rolledBackFrom: null };
    });
  }

  /** Makes the values and secrets of `toRevision` current again, as a new revision. */
  async rollback(
    actor: EnvironmentActor,
    name: string,
    toRevision: number,
    options: RollbackOptions = {},
  ): Promise<ConfigChange> {
    await this.ready(actor.organizationId);
    return this.commit(actor, name, options.expectedRevision, async (environment, _current, trx) => {
      const target = await findRevision(trx, environment.id, toRevision);
      if (!target) throw new PlatformError('NOT_FOUND', `${name} has no revision ${toRevision}`);
      return {
        // The sealed texts are copied: they are bound to this environment and key, and open as before.
        next: storedConfig(target),
        message: options.message || `rollback to revision ${toRevision}`,
        rolledBackFrom: toRevision,
      };
    });
  }

  /** Revisions newest first, each with its diff from the one before it. */
  async history(
    actor: EnvironmentActor,
    name: string,
    { limit = 20, cursor }: { limit?: number; cursor?: string } = {},
  ): Promise<ConfigHistoryPage> {
    await this.ready(actor.organizationId);
    return this.options.database.read(async (db) => {
      const environment = await this.find(db, actor, name);
      // One more than the page: the revision before the page's oldest, for that one's diff.
      const before = cursor === undefined ? undefined : Number(cursor);
      const rows = await listRevisions(db, environment.id, { limit: limit + 1, before });
      const page = rows.slice(0, limit);
      const entries = page.map((row, index) => {
        const previous = rows[index + 1];
        return {
          revision: row.revision,
          author: authorOf(row),
          message: row.message,
          createdAt: row.created_at.toISOString(),
          rolledBackFrom: row.rolled_back_from,
          diff: diffConfigs(previous ? storedConfig(previous) : EMPTY_CONFIG, storedConfig(row)),
        };
      });
      const last = page.at(-1);
      return { items: entries, nextCursor: rows.length > limit && last ? String(last.revision) : null };
    });
  }

  /** What changed from revision `from` to revision `to` (either may be the older). */
  async diff(
    actor: EnvironmentActor,
    name: string,
    from: number,
    to: number,
  ): Promise<{ environment: string; from: number; to: number; diff: ConfigDiff }> {
    await this.ready(actor.organizationId);
    return this.options.database.read(async (db) => {
      const environment = await this.find(db, actor, name);
      const [older, newer] = await Promise.all([
        findRevision(db, environment.id, from),
        findRevision(db, environment.id, to),
      ]);
      if (!older) throw new PlatformError('NOT_FOUND', `${name} has no revision ${from}`);
      if (!newer) throw new PlatformError('NOT_FOUND', `${name} has no revision ${to}`);
      return { environment: name, from, to, diff: diffConfigs(storedConfig(older), storedConfig(newer)) };
    });
  }

  /** Two environments' current configurations side by side; secrets by fingerprint. */
  async compare(actor: EnvironmentActor, a: string, b: string): Promise<EnvironmentComparison> {
    await this.ready(actor.organizationId);
    return this.options.database.read(async (db) => {
      const [environmentA, environmentB] = await Promise.all([
        this.find(db, actor, a),
        this.find(db, actor, b),
      ]);
      const [currentA, currentB] = await Promise.all([
        this.current(db, environmentA),
        this.current(db, environmentB),
      ]);
      return {
        a: { name: a, revision: currentA.revision },
        b: { name: b, revision: currentB.revision },
        ...compareConfigs(storedConfig(currentA), storedConfig(currentB)),
      };
    });
  }

  /**
   * The current configuration with its secrets opened, for the platform's own use (handing it to
   * a deployment). Never exposed through a procedure; never log what it returns.
   */
  async resolve(actor: { organizationId: string }, name: string): Promise<ResolvedConfiguration> {
    await this.ready(actor.organizationId);
    const { environment, current } = await this.options.database.read(async (db) => {
      const found = await this.find(db, actor, name);
      return { environment: found, current: await this.current(db, found) };
    });
    const secrets: Record<string, string> = {};
    for (const [key, secret] of Object.entries(current.secrets)) {
      secrets[key] = this.sealer.open({ environmentId: environment.id }, key, secret);
    }
    return { environment: name, revision: current.revision, values: sortedRecord(current.values), secrets };
  }

  /**
   * The one way a configuration changes: under a lock on the environment's row, checks the
   * expected revision, builds the next configuration, validates it against the environment's
   * rules, and inserts it as the next revision with its audit event, in one transaction.
   */
  private async commit(
    actor: EnvironmentActor,
    name: string,
    expectedRevision: number | undefined,
    build: (
      environment: EnvironmentRow,
      current: StoredConfig,
      trx: Kysely<Database>,
    ) => Promise<{ next: StoredConfig; message: string; rolledBackFrom: number | null }>,
  ): Promise<ConfigChange> {
    return this.options.database
      .transaction(async (trx) => {
        const environment = await this.find(trx, actor, name, { forUpdate: true });
        const current = await this.current(trx, environment);
        if (expectedRevision === undefined && environment.protected) {
          throw new PlatformError(
            'BAD_REQUEST',
            `${name} is protected: a change must name the revision it replaces (expectedRevision)`,
          );
        }
        if (expectedRevision !== undefined && expectedRevision !== current.revision) {
          throw new PlatformError(
            'CONFLICT',
            `${name} is at revision ${current.revision}, not ${expectedRevision}: reload and retry`,
          );
        }
        const { next, message, rolledBackFrom } = await build(environment, storedConfig(current), trx);
        validateConfiguration(environment, { values: next.values, secretKeys: Object.keys(next.secrets) });
        const diff = diffConfigs(storedConfig(current), next);
        // A rollback is recorded even when it restores what is current: it was asked for explicitly.
        if (rolledBackFrom === null && isEmptyDiff(diff)) {
          return { environment: name, revision: current.revision, created: false, rolledBackFrom, diff };
        }
        const revision = current.revision + 1;
        await insertRevision(trx, {
          environment_id: environment.id,
          revision,
          values: next.values,
          secrets: next.secrets,
          author_user_id: actor.userId ?? null,
          author_api_key_id: actor.apiKeyId ?? null,
          message,
          rolled_back_from: rolledBackFrom,
        });
        await this.options.audit.record(trx, {
          type: rolledBackFrom === null ? 'config_changed' : 'config_rolled_back',
          result: 'success',
          actor,
          target: { type: 'environment', id: environment.id },
          details: {
            environment: name,
            revision,
            previousRevision: current.revision,
            rolledBackFrom,
            ...changedKeys(diff),
          },
        });
        return { environment: name, revision, created: true, rolledBackFrom, diff };
      })
      .catch((error: unknown) => {
        // Unreachable while the row lock holds; the constraint is the last word if it ever does not.
        if (sqlState(error) === '23505') {
          throw new PlatformError('CONFLICT', `${name} changed meanwhile: reload and retry`);
        }
        throw error;
      });
  }

  private async recordCreation(
    trx: Kysely<Database>,
    environment: EnvironmentRow,
    actor: EnvironmentActor,
    message: string,
  ): Promise<void> {
    await insertRevision(trx, {
      environment_id: environment.id,
      revision: 1,
      values: {},
      secrets: {},
      author_user_id: actor.userId ?? null,
      author_api_key_id: actor.apiKeyId ?? null,
      message,
      rolled_back_from: null,
    });
    await this.options.audit.record(trx, {
      type: 'environment_created',
      result: 'success',
      actor,
      target: { type: 'environment', id: environment.id },
      details: { environment: environment.name, protected: environment.protected },
    });
  }

  /** Defaults are made on an organization's first use: organizations are created elsewhere. */
  private async ready(organizationId: string): Promise<void> {
    if (!this.ensured.has(organizationId)) await this.ensureDefaults(organizationId);
  }

  private async find(
    db: Kysely<Database>,
    actor: { organizationId: string },
    name: string,
    options: { forUpdate?: boolean } = {},
  ): Promise<EnvironmentRow> {
    const environment = await findEnvironment(db, actor.organizationId, name, options);
    if (!environment) throw new PlatformError('NOT_FOUND', `no environment named ${name}`);
    return environment;
  }

  private async current(
    db: Kysely<Database>,
    environment: EnvironmentRow,
  ): Promise<ConfigRevisionWithAuthor> {
    const current = await latestRevision(db, environment.id);
    // Every environment is created with its revision 1, in the same transaction.
    if (!current) throw new Error(`environment ${environment.id} has no revision`);
    return current;
  }
}

/** The service checks shapes too: it is called from elsewhere than the procedures. */
function parseOrThrow<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (!result.success) throw new ConfigInvalidError(result.error);
  return result.data;
}

/** The audit event's account of a change: key names only, never values (nor secrets). */
function changedKeys(diff: ConfigDiff) {
  return {
    valuesAdded: Object.keys(diff.values.added),
    valuesRemoved: Object.keys(diff.values.removed),
    valuesChanged: Object.keys(diff.values.changed),
    secretsAdded: diff.secrets.added,
    secretsRemoved: diff.secrets.removed,
    secretsChanged: diff.secrets.changed,
  };
}
