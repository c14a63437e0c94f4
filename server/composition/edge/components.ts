import type { PlatformDatabase } from '../../../db/connect';
import type { Config } from '../../base/config';
import type { Component } from '../../base/initializer';
import { databaseResponseTime } from '../../services/database/response-time';
import type { OriginKeys } from './origin-keys';

// An isolate has no start-up to speak of: the database is opened by each request that needs it
// (and migrated by the origin, never from here), the keys are fetched when a token first needs
// them. So the edge's components have nothing to start, and what GET /api/health and readiness
// report is measured on the request that asks: a round trip to the database, the keys held.

/** The database as the edge reaches it: through the request's own connection. */
export function edgeDatabaseComponent(database: () => PlatformDatabase, config: Config): Component {
  return {
    name: 'database',
    phase: 'database',
    critical: true,
    async start() {},
    async health() {
      const latencyMs = await database().ping(config.HEALTH_DB_TIMEOUT_MS);
      return {
        // The origin's check, though a first query here includes connecting.
        'database:responseTime': [databaseResponseTime(latencyMs, new Date().toISOString())],
      };
    },
  };
}

/**
 * The origin's signing keys, without which no access token verifies here. Not critical: public
 * procedures and probes are served without them.
 */
export function originKeysComponent(keys: OriginKeys): Component {
  return {
    name: 'origin-keys',
    phase: 'auth',
    critical: false,
    async start() {},
    async health() {
      // Throws when none can be fetched: the report then shows this check failing, by error code.
      await keys.currentKeys();
      const { kids } = keys.status();
      return {
        'origin-keys:count': [
          {
            componentId: 'jwks',
            componentType: 'component',
            status: kids.length > 0 ? 'pass' : 'warn',
            observedValue: kids.length,
            observedUnit: 'keys',
            time: new Date().toISOString(),
          },
        ],
      };
    },
  };
}
