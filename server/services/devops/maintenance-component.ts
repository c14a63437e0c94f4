import type { Component } from '../../base/initializer';
import type { MaintenanceMode } from './maintenance';

/**
 * Maintenance mode as a component: read at start and followed through the change feed. Its
 * health check says whether writes are paused (warn), so health stays truthful in maintenance
 * instead of turning the instance unready: reads are still served.
 */
export function maintenanceComponent(maintenance: MaintenanceMode): Component {
  return {
    name: 'maintenance',
    phase: 'monitoring',
    critical: false,
    async start() {
      await maintenance.start();
    },
    async health() {
      const state = maintenance.current();
      return {
        'maintenance:enabled': [
          {
            componentType: 'system',
            status: state.enabled ? 'warn' : 'pass',
            observedValue: state.enabled,
            time: new Date().toISOString(),
            ...(state.enabled ? { output: `mutations paused: ${state.message}` } : {}),
          },
        ],
      };
    },
  };
}
