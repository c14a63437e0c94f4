import { TRPCError } from '@trpc/server';
import { afterAll, describe, expect, it } from 'vitest';
import { closeRouterDeps, routerContext, routerDeps } from '../../../../tests/helpers/router-context';
import type { Role } from '../../../base/principal';
import { RequestAnalytics } from '../../../services/performance/analytics';
import { createCallerFactory } from '../../trpc';
import { appRouter } from '../index';

afterAll(closeRouterDeps);

function build() {
  const analytics = new RequestAnalytics();
  // The app's dependencies with this analytics in place: the procedures read nothing else.
  const deps = routerDeps((deps) => ({ performance: { ...deps.performance, analytics } }));
  const callerAs = (role: Role) =>
    createCallerFactory(appRouter)(
      routerContext(
        {
          kind: 'user',
          userId: 'u',
          organizationId: 'o',
          role,
          // The performance router acts on the platform: its callers are platform operators and admins.
          platformRole: role === 'viewer' ? null : role,
          sessionId: 's',
        },
        deps,
      ),
    ).performance;
  return { analytics, callerAs };
}

async function codeOf(call: Promise<unknown>): Promise<string> {
  const error = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TRPCError);
  return (error as TRPCError).code;
}

describe('performance analytics procedures', () => {
  it('answer an operator with the figures recorded', async () => {
    const { analytics, callerAs } = build();
    const calls = analytics.series('procedure', 'system.info');
    for (let i = 0; i < 200; i++) calls.record(0.003, 200);
    const operator = callerAs('operator');

    const overview = await operator.overview();
    expect(overview.procedures).toMatchObject({ series: 1, requests: 200, errors: 0, maxMs: 3 });
    const procedure = await operator.procedure({ path: 'system.info' });
    expect(procedure).toMatchObject({ kind: 'procedure', name: 'system.info', requests: 200 });
    const routes = await operator.routes({ kind: 'procedure', sort: 'p99' });
    expect(routes.total).toBe(1);
    expect(routes.series[0]?.name).toBe('system.info');
    // No input at all takes the defaults.
    expect((await operator.routes()).total).toBe(1);
  });

  it('answer NOT_FOUND for a procedure never called, without echoing its path', async () => {
    const { callerAs } = build();
    const call = callerAs('operator').procedure({ path: "system.info'; select 1 from users --" });
    expect(await codeOf(call)).toBe('NOT_FOUND');
    await call.catch((error: Error) => expect(error.message).not.toContain('select'));
  });

  it('refuse viewers and malformed input', async () => {
    const { callerAs } = build();
    expect(await codeOf(callerAs('viewer').overview())).toBe('FORBIDDEN');
    expect(await codeOf(callerAs('viewer').routes({}))).toBe('FORBIDDEN');
    const admin = callerAs('admin');
    expect(await codeOf(admin.routes({ limit: 501 }))).toBe('BAD_REQUEST');
    expect(await codeOf(admin.routes({ filter: 'x'.repeat(201) }))).toBe('BAD_REQUEST');
    expect(await codeOf(admin.procedure({ path: '' }))).toBe('BAD_REQUEST');
  });
});
