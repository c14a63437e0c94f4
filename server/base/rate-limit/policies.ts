import type { Config } from '../config';
import { DEFAULT_RATE_LIMIT_POLICIES, type LimiterPolicy } from './limiter';

const MINUTE = 60_000;

/** The platform's named policies with the limits configuration sets (failure modes are fixed). */
export function rateLimitPolicies(
  config: Config,
): Record<keyof typeof DEFAULT_RATE_LIMIT_POLICIES, LimiterPolicy> {
  const { ip, user, login, refresh } = DEFAULT_RATE_LIMIT_POLICIES;
  return {
    ip: { ...ip, limit: config.RATE_LIMIT_IP_PER_MINUTE, periodMs: MINUTE },
    user: { ...user, limit: config.RATE_LIMIT_USER_PER_MINUTE, periodMs: MINUTE },
    login: { ...login, limit: config.RATE_LIMIT_LOGIN_PER_MINUTE, periodMs: MINUTE },
    refresh: { ...refresh, limit: config.RATE_LIMIT_REFRESH_PER_MINUTE, periodMs: MINUTE },
  };
}
