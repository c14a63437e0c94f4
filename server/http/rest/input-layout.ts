import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import type { AppContext } from '../env';
import type { RestRoute } from './route';

/** A JSON Schema (draft 2020-12) as zod writes it; only the keywords read here are typed. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  [keyword: string]: unknown;
}

/**
 * Where a REST route's input comes from, derived once from the route and the procedure's zod
 * input: the path parameters (fields named in the path), and the other fields as query
 * parameters (GET, DELETE) or a JSON object body (POST, PATCH, PUT). The OpenAPI document is
 * written from the same layout, so what it says is what the server reads.
 */
export interface InputLayout {
  /** The input's JSON Schema, or null when the procedure takes no input. */
  schema: JsonSchema | null;
  /** The fields read from the path, in path order. */
  pathParameters: string[];
  /** Where the other fields come from. */
  rest: 'query' | 'body';
  /** The input of one request, as the procedure's parser expects it (undefined: none given). */
  read(c: AppContext): Promise<unknown>;
}

export function inputLayoutOf(route: RestRoute, input: z.ZodType | undefined): InputLayout {
  const schema = input ? jsonSchemaOf(input, 'input') : null;
  const fields = schema ? objectPropertiesOf(schema) : {};
  const pathParameters = [...route.path.matchAll(/\{(\w+)\}/g)].map((match) => match[1] as string);
  for (const name of pathParameters) {
    if (!fields[name]) {
      throw new Error(`REST route ${route.method} ${route.path}: {${name}} is not a field of the input`);
    }
  }
  const rest = route.method === 'GET' || route.method === 'DELETE' ? 'query' : 'body';

  async function read(c: AppContext): Promise<unknown> {
    const fromPath: Record<string, unknown> = {};
    for (const name of pathParameters) fromPath[name] = scalar(c.req.param(name) ?? '', fields[name] ?? {});
    const given = rest === 'query' ? fromQuery(c.req.queries(), fields) : await fromBody(c);
    // Path parameters win over a body field of the same name: the path names the resource.
    const value = { ...given, ...fromPath };
    // Nothing given: no input at all, so that an input's own default applies.
    return Object.keys(value).length === 0 ? undefined : value;
  }

  return { schema, pathParameters, rest, read };
}

/** A zod schema as JSON Schema 2020-12 (what OpenAPI 3.1 uses), without its `$schema` line. */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** The fields of an object schema, looking through the anyOf/allOf wrappers zod may write. */
export function objectPropertiesOf(schema: JsonSchema): Record<string, JsonSchema> {
  if (schema.properties) return schema.properties;
  for (const branch of [...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])]) {
    const found = objectPropertiesOf(branch);
    if (Object.keys(found).length > 0) return found;
  }
  return {};
}

/**
 * Query parameters as input fields: a field the schema says is a number, an integer or a boolean
 * is read as one when it looks like one (anything else is left as text, for the parser to refuse
 * with its own message); an array field takes every value given (`?status=a&status=b`); an
 * object field is JSON text. Unknown names are passed on as text, for the parser to judge.
 */
function fromQuery(
  queries: Record<string, string[]>,
  fields: Record<string, JsonSchema>,
): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const [name, values] of Object.entries(queries)) {
    const field = fields[name];
    if (field && typesOf(field).has('array')) {
      input[name] = values.map((value) => scalar(value, field.items ?? {}));
    } else {
      input[name] = scalar(values.at(-1) as string, field ?? {});
    }
  }
  return input;
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

function scalar(value: string, field: JsonSchema): unknown {
  const types = typesOf(field);
  if ((types.has('integer') || types.has('number')) && NUMBER.test(value)) return Number(value);
  if (types.has('boolean') && (value === 'true' || value === 'false')) return value === 'true';
  if (types.has('null') && value === 'null') return null;
  if (types.has('object')) {
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  }
  return value;
}

/** Every type a field may have, through anyOf/oneOf branches. */
function typesOf(field: JsonSchema): Set<string> {
  const types = new Set<string>();
  const add = (schema: JsonSchema) => {
    if (typeof schema.type === 'string') types.add(schema.type);
    else for (const type of schema.type ?? []) types.add(type);
    if (schema.const === null) types.add('null');
    for (const branch of [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]) add(branch);
  };
  add(field);
  return types;
}

/** A JSON object body; an empty body is no fields. Anything else is the caller's mistake. */
async function fromBody(c: AppContext): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  const type = c.req.header('content-type')?.toLowerCase().split(';', 1)[0]?.trim();
  if (type !== 'application/json') {
    throw new TRPCError({ code: 'UNSUPPORTED_MEDIA_TYPE', message: 'the body must be application/json' });
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new TRPCError({ code: 'BAD_REQUEST', message: 'the body is not valid JSON' });
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new TRPCError({ code: 'BAD_REQUEST', message: 'the body must be a JSON object' });
  }
  return body as Record<string, unknown>;
}
