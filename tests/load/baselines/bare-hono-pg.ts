import { Hono } from 'hono';
import pg from 'pg';

// Bun's API as far as this file uses it: the project type-checks against Node's types only.
declare const Bun: {
  serve(options: {
    fetch: (request: Request) => Response | Promise<Response>;
    hostname: string;
    port: number;
  }): {
    port: number;
  };
};

/**
 * Baseline for a one-row read by primary key: a hand-written Hono route on Bun answering
 * `auth.apiKeys.get` the way the platform does, at the same URL and in tRPC's envelope, by
 * sending the same SQL through a `pg.Pool` to the same database. Nothing else: no middleware,
 * no auth (the organization is a constant given by the bench), no Kysely, no metrics, no logging.
 */
const databaseUrl = process.env.DATABASE_URL;
const organizationId = process.env.ORGANIZATION_ID;
if (!databaseUrl || !organizationId) throw new Error('bare-hono-pg needs DATABASE_URL and ORGANIZATION_ID');

// The bench passes the platform's pool size (DB_POOL_MAX, 10 by default).
const pool = new pg.Pool({ connectionString: databaseUrl, max: Number(process.env.DB_POOL_MAX ?? 10) });

// Character for character what Kysely compiles the platform's `findApiKeyInOrganization` to.
const SELECT_KEY = 'select * from "api_keys" where "id" = $1 and "organization_id" = $2';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const app = new Hono();

app.get('/api/trpc/auth.apiKeys.get', async (c) => {
  let id: unknown;
  try {
    id = (JSON.parse(c.req.query('input') ?? '{}') as { id?: unknown }).id;
  } catch {
    id = undefined;
  }
  // PostgreSQL refuses a malformed uuid with an error: answer that before asking it.
  if (typeof id !== 'string' || !UUID.test(id)) return c.json({ error: { message: 'bad id' } }, 400);
  const { rows } = await pool.query(SELECT_KEY, [id, organizationId]);
  const row = rows[0];
  if (!row) return c.json({ error: { message: 'no such API key' } }, 404);
  // The platform's view of the row, field for field and in its order.
  return c.json({
    result: {
      data: {
        id: row.id,
        name: row.name,
        prefix: row.prefix,
        ownerId: row.owner_id,
        scopes: row.scopes,
        expiresAt: row.expires_at,
        remaining: row.remaining,
        rateLimits: row.rate_limits,
        enabled: row.enabled,
        lastUsedAt: row.last_used_at,
        createdAt: row.created_at,
        updatedAt: row.updated_at,
        revokedAt: row.revoked_at,
        replacedBy: row.replaced_by,
      },
    },
  });
});

const server = Bun.serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3003), hostname: '127.0.0.1' });
console.log(`bare-hono-pg listening on 127.0.0.1:${server.port}`);
