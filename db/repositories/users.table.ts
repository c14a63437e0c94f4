import type { ColumnType, Generated, Selectable } from 'kysely';
import type { PlatformRole, Role } from '../../shared/auth';
import type { CreatedAt, Timestamp } from '../column-types';

export interface UsersTable {
  id: Generated<string>;
  organization_id: string;
  /** Always lower-case: the unique index is then case-insensitive. */
  email: string;
  name: Generated<string>;
  /** PHC string (`$scrypt$ln=17,r=8,p=1$…`); see server/services/auth/passwords.ts. */
  password_hash: string;
  role: Role;
  /** Authority over the installation (platform scope), separate from the organization role; null: none. */
  platform_role: ColumnType<PlatformRole | null, PlatformRole | null | undefined, PlatformRole | null>;
  disabled: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: Timestamp;
  password_changed_at: Timestamp;
}

export type UserRow = Selectable<UsersTable>;
