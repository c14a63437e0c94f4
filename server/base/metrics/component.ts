import type { Component } from '../initializer';
import type { EventLoopMonitor } from './event-loop';
import type { Metrics } from './metrics';

/** Event-loop and memory watch, and the metrics registry. Not critical: blind is not broken. */
export function monitoringComponent(metrics: Metrics, eventLoop: EventLoopMonitor): Component {
  return {
    name: 'monitoring',
    phase: 'monitoring',
    critical: false,
    async start() {
      eventLoop.start();
    },
    async stop() {
      eventLoop.stop();
    },
    async health() {
      const time = new Date().toISOString();
      const lagMs = Math.round(eventLoop.lagSeconds() * 1000 * 100) / 100;
      const memory = process.memoryUsage();
      return {
        'eventloop:lag': [
          {
            componentType: 'system',
            // Above 100 ms every request waits noticeably behind other work.
            status: lagMs > 100 ? 'warn' : 'pass',
            observedValue: lagMs,
            observedUnit: 'ms',
            time,
          },
        ],
        'memory:rss': [
          { componentType: 'system', status: 'pass', observedValue: memory.rss, observedUnit: 'bytes', time },
        ],
      };
    },
    selfTests: [
      {
        name: 'metrics render in Prometheus text format',
        async run() {
          const text = await metrics.registry.metrics();
          if (!text.includes('platform_build_info{')) throw new Error('platform_build_info is missing');
        },
      },
    ],
  };
}
