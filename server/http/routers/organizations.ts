import {
  invitationCreateInput,
  invitationIdInput,
  invitationListInput,
  organizationCreateInput,
  organizationIdInput,
  organizationListInput,
  organizationRenameInput,
  organizationSuspendInput,
  platformRoleSetInput,
} from '../../../shared/organizations';
import { platformProcedure, roleProcedure, router } from '../trpc';
import { actorOf } from './actor';

// Organization management (docs/organizations.md): the platform's admins create, suspend and
// delete organizations and grant platform roles (platform scope); an organization's admins
// invite its members (organization scope). `auth.invitations.accept`, public and rate limited
// like sign-in, sits beside login in ./auth.ts.

/** Platform scope: the installation's tenants. */
export const organizationsRouter = router({
  /** A new organization and its first admin's invitation; the token is shown this once. */
  create: platformProcedure('admin', 'auth:write')
    .input(organizationCreateInput)
    .mutation(({ ctx, input }) => ctx.deps.auth.organizations.create(actorOf(ctx, ctx.principal), input)),
  list: platformProcedure('admin', 'auth:read')
    .input(organizationListInput)
    .query(({ ctx, input }) => ctx.deps.auth.organizations.list(input)),
  get: platformProcedure('admin', 'auth:read')
    .input(organizationIdInput)
    .query(({ ctx, input }) => ctx.deps.auth.organizations.get(input.id)),
  rename: platformProcedure('admin', 'auth:write')
    .input(organizationRenameInput)
    .mutation(({ ctx, input }) =>
      ctx.deps.auth.organizations.rename(actorOf(ctx, ctx.principal), input.id, input.name),
    ),
  /** Refuses its sign-ins, sessions and keys on every instance at once; resume lifts it. */
  suspend: platformProcedure('admin', 'auth:write')
    .input(organizationSuspendInput)
    .mutation(({ ctx, input }) =>
      ctx.deps.auth.organizations.suspend(actorOf(ctx, ctx.principal), input.id, input.reason),
    ),
  resume: platformProcedure('admin', 'auth:write')
    .input(organizationIdInput)
    .mutation(({ ctx, input }) => ctx.deps.auth.organizations.resume(actorOf(ctx, ctx.principal), input.id)),
  /** Purges the organization's data; backups stay (they are the platform's). */
  delete: platformProcedure('admin', 'auth:write')
    .input(organizationIdInput)
    .mutation(({ ctx, input }) => ctx.deps.auth.organizations.delete(actorOf(ctx, ctx.principal), input.id)),
});

/** Platform scope: who holds authority over the installation. */
export const platformRolesRouter = router({
  list: platformProcedure('admin', 'auth:read').query(({ ctx }) =>
    ctx.deps.auth.organizations.listPlatformRoles(),
  ),
  /** Ends the user's sessions, like an organization role change; the last platform admin stays. */
  set: platformProcedure('admin', 'auth:write')
    .input(platformRoleSetInput)
    .mutation(({ ctx, input }) =>
      ctx.deps.auth.organizations.setPlatformRole(
        actorOf(ctx, ctx.principal),
        input.userId,
        input.platformRole,
      ),
    ),
});

/** Organization scope: an admin's invitations into their own organization. */
export const invitationProcedures = {
  /** The token is in this answer only; the database keeps its SHA-256. */
  create: roleProcedure('admin', 'auth:write')
    .input(invitationCreateInput)
    .mutation(({ ctx, input }) => ctx.deps.auth.invitations.create(actorOf(ctx, ctx.principal), input)),
  list: roleProcedure('admin', 'auth:read')
    .input(invitationListInput)
    .query(({ ctx, input }) => ctx.deps.auth.invitations.list(actorOf(ctx, ctx.principal), input)),
  revoke: roleProcedure('admin', 'auth:write')
    .input(invitationIdInput)
    .mutation(({ ctx, input }) => ctx.deps.auth.invitations.revoke(actorOf(ctx, ctx.principal), input.id)),
};
