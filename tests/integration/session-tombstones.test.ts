import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPeerApp, startTestApp, type TestApp } from '../helpers/app';
import { createOrganization, createUser, login, platformAdminActor } from '../helpers/auth';
import { send } from '../helpers/http';

/**
 * Sessions deleted with their user or organization leave tombstones: an instance that was not
 * listening when the deletion was announced (it started later, or its change feed was down and it
 * reloads on reconnecting) still refuses their access tokens, because it rebuilds its list of
 * revoked sessions from revoked sessions and tombstones alike.
 */

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ LOG_LEVEL: 'warn' });
});
afterAll(() => t?.close());

const me = (app: { request: TestApp['app']['request'] }, headers: Record<string, string>) =>
  send(app, '/api/trpc/auth.me', { headers });

describe('deleted sessions', () => {
  it("stay refused on an instance that learns of them only from the database: a removed member's", async () => {
    const admin = await createOrganization(t);
    const member = await createUser(t, 'operator', admin);
    const session = await login(t, member);
    expect((await me(t.app, session.headers)).res.status).toBe(200);

    await t.deps.auth.users.remove(
      {
        kind: 'user',
        userId: admin.id,
        organizationId: admin.organizationId,
        role: 'admin',
        platformRole: null,
        sessionId: 'test',
      },
      member.id,
    );
    expect(
      await t.deps.database.db
        .selectFrom('sessions')
        .select('id')
        .where('id', '=', session.sessionId)
        .execute(),
    ).toEqual([]);

    // A second instance starting now never heard the announcement.
    const later = await startPeerApp(t);
    try {
      const answer = await me(later.app, session.headers);
      expect(answer.res.status, answer.text).toBe(401);
    } finally {
      await later.close();
    }
  });

  it('stay refused likewise when their whole organization was deleted', async () => {
    const admin = await createOrganization(t);
    const session = await login(t, admin);
    await t.deps.auth.organizations.delete(platformAdminActor(t), admin.organizationId);
    const later = await startPeerApp(t);
    try {
      expect((await me(later.app, session.headers)).res.status).toBe(401);
    } finally {
      await later.close();
    }
  });
});
