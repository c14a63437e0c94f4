import type { OrganizationRow } from '../../../db/repositories/organizations.table';
import type { UserRow } from '../../../db/repositories/users.table';
import type { PlatformRole, Role } from '../../../shared/auth';

/** A user as the API shows it: never the password hash. */
export interface UserView {
  id: string;
  organizationId: string;
  email: string;
  name: string;
  role: Role;
  /** Authority over the installation, separate from the organization role. */
  platformRole: PlatformRole | null;
  disabled: boolean;
  createdAt: Date;
  updatedAt: Date;
  passwordChangedAt: Date;
}

export interface OrganizationView {
  id: string;
  name: string;
  createdAt: Date;
  suspendedAt: Date | null;
  suspendedReason: string | null;
}

/** An organization row as the API shows it. */
export function toOrganizationView(row: OrganizationRow): OrganizationView {
  return {
    id: row.id,
    name: row.name,
    createdAt: row.created_at,
    suspendedAt: row.suspended_at,
    suspendedReason: row.suspended_reason,
  };
}

/** A user row as the API shows it. */
export function toUserView(row: UserRow): UserView {
  return {
    id: row.id,
    organizationId: row.organization_id,
    email: row.email,
    name: row.name,
    role: row.role,
    platformRole: row.platform_role,
    disabled: row.disabled,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    passwordChangedAt: row.password_changed_at,
  };
}
