import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { QueryEvent } from '../../../db/connect';
import { startChildSpan } from '../../base/tracing/context';
import { sqlShape } from './query-normalize';

/** Statement texts whose shape is kept; past it a shape is worked out again per query (unbounded SQL texts are a bug elsewhere). */
const MAX_SHAPES = 2_000;

interface SpanShape {
  name: string;
  text: string;
  operation: string;
}

/**
 * A client span per database query, under the span active where the query ran (a request's
 * procedure, a deployment step): named by its operation, with the normalised SQL
 * (`db.query.text`: every value a `?`, so no value a caller sent reaches a trace), rows and,
 * on failure, the SQLSTATE. Made after the fact from the pool's onQuery event, which gives the
 * duration: nothing wraps the query itself. A query outside any traced work makes no span.
 */
export function querySpans(tracer: Tracer): (event: QueryEvent) => void {
  const shapes = new Map<string, SpanShape>();
  const shapeOf = (sqlText: string): SpanShape => {
    let shape = shapes.get(sqlText);
    if (shape === undefined) {
      const { text, operation } = sqlShape(sqlText);
      shape = { name: operation ? `${operation.toUpperCase()} postgresql` : 'postgresql', text, operation };
      if (shapes.size < MAX_SHAPES) shapes.set(sqlText, shape);
    }
    return shape;
  };
  return function recordQuerySpan(event) {
    const ended = performance.now();
    const shape = shapeOf(event.sql);
    const span = startChildSpan(tracer, shape.name, {
      kind: SpanKind.CLIENT,
      startTime: ended - event.durationMs,
      attributes: {
        'db.system.name': 'postgresql',
        // The name before semantic conventions 1.26, which many backends still read.
        'db.system': 'postgresql',
        'db.query.text': shape.text,
        'db.operation.name': shape.operation,
      },
    });
    if (span === undefined) return;
    if (event.error === undefined) {
      if (event.rows !== undefined) span.setAttribute('db.response.returned_rows', event.rows);
    } else {
      const code = (event.error as { code?: unknown } | null)?.code;
      span.setAttribute('error.type', typeof code === 'string' ? code : 'error');
      if (typeof code === 'string') span.setAttribute('db.response.status_code', code);
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end(ended);
  };
}
