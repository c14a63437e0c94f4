import type { Role, UserRow } from '../../../db/database';

/** A user as the API shows it: never the password hash. */
export interface UserView {
  id: string;
  organizationId: string;
  email: string;
  name: string;
  role: Role;
  disabled: boolean;
  createdAt: Date;
  updatedAt: Date;
  passwordChangedAt: Date;
}

export interface OrganizationView {
  id: string;
  name: string;
  createdAt: Date;
}

/** A user row as the API shows it. */
export function toUserView(row: UserRow): UserView {
  return {
    id: row.id,
    organizationId: row.organization_id,
    email: row.email,
    name: row.name,
    role: row.role,
    disabled: row.disabled,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    passwordChangedAt: row.password_changed_at,
  };
}
