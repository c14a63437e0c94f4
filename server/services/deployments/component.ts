import type { PlatformDatabase } from '../../../db/connect';
import { probeDeployments } from '../../../db/repositories/deployments';
import type { Component } from '../../base/initializer';
import type { DeploymentEngine } from './deployment-engine';

/**
 * The deployment engine. Not critical: an instance whose engine cannot run still serves requests,
 * and another instance's engine drives the deployments (leases make that safe).
 */
export function deploymentsComponent(
  engine: DeploymentEngine,
  { database }: { database: PlatformDatabase },
): Component {
  return {
    name: 'deployments',
    phase: 'monitoring',
    critical: false,
    async start() {
      engine.start();
    },
    async stop() {
      await engine.stop();
    },
    async health() {
      const status = engine.status();
      return {
        'deployments:engine': [
          {
            componentType: 'component',
            status: status.lastError ? 'warn' : 'pass',
            observedValue: status.driving.length,
            observedUnit: 'deployments driven',
            time: new Date().toISOString(),
            ...(status.lastError ? { output: status.lastError } : {}),
          },
        ],
      };
    },
    selfTests: [
      {
        name: 'the deployment tables answer',
        async run() {
          await database.read(probeDeployments);
        },
      },
    ],
  };
}
