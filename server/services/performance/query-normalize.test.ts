import { describe, expect, it } from 'vitest';
import { fingerprintOf, normalizeSql, sqlShape } from './query-normalize';

describe('normalizeSql', () => {
  it('replaces Kysely parameters with ? and collapses whitespace', () => {
    expect(normalizeSql('select "id"  from\n\t"users"   where "email" = $1 and "age" > $12')).toBe(
      'select "id" from "users" where "email" = ? and "age" > ?',
    );
  });

  it('replaces inlined numbers and strings, including escaped quotes and prefixed strings', () => {
    expect(normalizeSql("select pg_sleep(0.3), 'it''s', E'a\\'b', x'1F', -42, 1e-3, 0x1f, 1_000")).toBe(
      'select pg_sleep(?), ?, ?, ?, -?, ?, ?, ?',
    );
  });

  it('keeps digits that belong to identifiers and quoted identifiers as they are', () => {
    expect(normalizeSql('select t1.col2, "weird 3 ""name""" from t1 where a$1 = $2')).toBe(
      'select t1.col2, "weird 3 ""name""" from t1 where a$1 = ?',
    );
  });

  it('replaces dollar-quoted bodies and drops comments', () => {
    expect(
      normalizeSql("do $body$ begin raise 'x; 1'; end $body$ -- trailing\n/* a /* nested */ note */ ;"),
    ).toBe('do ? ;');
    expect(normalizeSql('select $$it is 5$$::text')).toBe('select ?::text');
  });

  it('collapses in-lists to one element, whatever their length', () => {
    expect(normalizeSql('select * from t where id in ($1, $2, $3) and k not in (1,2)')).toBe(
      'select * from t where id in (?) and k not in (?)',
    );
    expect(normalizeSql('select * from t where id in ($1)')).toBe('select * from t where id in (?)');
  });

  it('collapses multi-row values lists whose rows have the same shape', () => {
    expect(
      normalizeSql('insert into "t" ("a", "b") values ($1, now()), ($3, now()), ($5, now()) returning *'),
    ).toBe('insert into "t" ("a", "b") values (?, now()) returning *');
    expect(normalizeSql('insert into t (a, b) values ($1, default), ($2, $3)')).toBe(
      'insert into t (a, b) values (?, default), (?, ?)',
    );
  });
});

describe('sqlShape', () => {
  it('gives the same fingerprint to one statement with different values and different lists', () => {
    const a = sqlShape('select * from "users" where "id" in ($1, $2) limit $3');
    const b = sqlShape('select * from   "users" where "id" in ($1, $2, $3, $4) limit 10');
    expect(a.fingerprint).toBe(b.fingerprint);
    expect(a.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(a.text).toBe('select * from "users" where "id" in (?) limit ?');
  });

  it('gives different statements different fingerprints', () => {
    expect(fingerprintOf('select ? from a')).not.toBe(fingerprintOf('select ? from b'));
  });

  it('names the leading keyword, lowercased', () => {
    expect(sqlShape('  WITH x as (select 1) select * from x').operation).toBe('with');
    expect(sqlShape('(select 1) union (select 2)').operation).toBe('select');
    expect(sqlShape('begin').operation).toBe('begin');
    expect(sqlShape('').operation).toBe('');
  });
});
