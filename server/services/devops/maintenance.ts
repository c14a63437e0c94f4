import type { Kysely } from 'kysely';
import type { PlatformDatabase } from '../../../db/connect';
import type { Database } from '../../../db/database';
import { findPlatformSetting, upsertPlatformSetting } from '../../../db/repositories/platform-settings';
import type { AuditActor, AuditLog } from '../../base/audit';
import type { ChangeFeed } from '../../base/change-feed';

/** Maintenance mode as every instance applies it. */
export interface MaintenanceState {
  enabled: boolean;
  /** Shown to callers whose mutations are refused. */
  message: string;
  /** Seconds a refused caller should wait before retrying (Retry-After). */
  retryAfterSeconds: number;
  since: string | null;
  by: string | null;
}

const SETTING = 'maintenance';
const CHANNEL = 'maintenance_changes';

export const MAINTENANCE_OFF: MaintenanceState = Object.freeze({
  enabled: false,
  message: '',
  retryAfterSeconds: 0,
  since: null,
  by: null,
});

/**
 * Mutations the platform keeps accepting in maintenance: signing in and out (an operator must be
 * able to sign in to end it), the switches themselves, and the backup work maintenance is for.
 */
const ALLOWED_IN_MAINTENANCE = new Set([
  'auth.login',
  'auth.refresh',
  'auth.logout',
  'devops.maintenance.set',
  'devops.instance.drain',
  // Restoring the platform's own database needs maintenance on; a last backup before it is wise.
  'devops.backups.create',
  'devops.backups.verify',
  'devops.backups.restore',
]);

/**
 * Maintenance mode: while on, mutations answer 503 with Retry-After and the operator's message;
 * reads, health and readiness stay truthful (the instance is healthy, only writes are paused).
 * The state lives in PostgreSQL and reaches every instance through the change feed; each
 * instance keeps it in memory, so checking it costs a property read per call.
 */
export class MaintenanceMode {
  private state: MaintenanceState = MAINTENANCE_OFF;
  private subscribed = false;

  constructor(
    private readonly options: { database: PlatformDatabase; changes: ChangeFeed; audit: AuditLog },
  ) {}

  current(): MaintenanceState {
    return this.state;
  }

  /** Whether a call to `path` of `type` is refused now. */
  refuses(type: string, path: string): boolean {
    return this.state.enabled && type === 'mutation' && !ALLOWED_IN_MAINTENANCE.has(path);
  }

  /** Reads the state, and follows changes from every instance from now on. */
  async start(): Promise<void> {
    if (!this.subscribed) {
      this.subscribed = true;
      const reload = () => {
        this.load().catch(() => undefined);
      };
      this.options.changes.subscribe(CHANNEL, reload);
      this.options.changes.onReconnect(reload);
    }
    await this.load();
  }

  async load(): Promise<MaintenanceState> {
    const row = await this.options.database.read((db) => findPlatformSetting(db, SETTING));
    this.state = row ? (row.value as unknown as MaintenanceState) : MAINTENANCE_OFF;
    return this.state;
  }

  /** Turns maintenance on or off for every instance; audited, announced on commit. */
  async set(
    actor: AuditActor & { userId: string },
    change: { enabled: boolean; message?: string; retryAfterSeconds?: number },
  ): Promise<MaintenanceState> {
    const state: MaintenanceState = change.enabled
      ? {
          enabled: true,
          message: change.message ?? 'the platform is in maintenance; retry later',
          retryAfterSeconds: change.retryAfterSeconds ?? 300,
          since: new Date().toISOString(),
          by: actor.userId,
        }
      : MAINTENANCE_OFF;
    const value = JSON.stringify(state);
    await this.options.database.transaction(async (trx: Kysely<Database>) => {
      await upsertPlatformSetting(trx, { name: SETTING, value, updatedBy: actor.userId });
      await this.options.changes.publish(trx, CHANNEL, state.enabled ? 'on' : 'off');
      await this.options.audit.record(trx, {
        scope: 'platform',
        type: 'maintenance_changed',
        result: 'success',
        actor,
        details: {
          enabled: state.enabled,
          message: state.message,
          retryAfterSeconds: state.retryAfterSeconds,
        },
      });
    });
    // This instance applies it at once; the others on the notification.
    this.state = state;
    return state;
  }
}
