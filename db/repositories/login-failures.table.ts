export interface LoginFailuresTable {
  /** `account:<email>` or `ip:<address>`. */
  key: string;
  failures: number;
  last_failure_at: Date | string;
  locked_until: Date | string;
}
