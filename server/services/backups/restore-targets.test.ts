import { describe, expect, it } from 'vitest';
import { parseRestoreTargetEntry } from '../../../shared/devops-backups';
import { ConfigError, loadConfig } from '../../base/config';
import { createOutboundPolicy } from '../../base/outbound/index';
import {
  checkAllowed,
  connectionSettings,
  parseTargetUrl,
  RestoreTargetRefusedError,
  RestoreTargetUnreachableError,
} from './restore-targets';

describe('BACKUP_RESTORE_TARGETS', () => {
  it('reads host[:port]/database entries, port 5432 by default, IPv6 in brackets', () => {
    const config = loadConfig({
      BACKUP_RESTORE_TARGETS: ' DB.Internal./restore_check , 10.1.2.3:5433/staging,[FD00::5]:6000/x,',
    });
    expect(config.BACKUP_RESTORE_TARGETS).toEqual([
      { host: 'db.internal', port: 5432, database: 'restore_check' },
      { host: '10.1.2.3', port: 5433, database: 'staging' },
      { host: 'fd00::5', port: 6000, database: 'x' },
    ]);
    expect(loadConfig({}).BACKUP_RESTORE_TARGETS).toEqual([]);
  });

  it.each([
    'postgres://user:hunter2-secret@db/x',
    'db',
    'db:5432',
    'db:99999/x',
    'db:0/x',
    'db/x/y',
    'db/has space',
    'user@db/x',
    'db/x?sslmode=require',
    '[not-v6]/x',
    '::1/x',
  ])('refuses %j at start-up without echoing it', (entry) => {
    let error: unknown;
    try {
      loadConfig({ BACKUP_RESTORE_TARGETS: `ok/db,${entry}` });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(
      /^invalid configuration: BACKUP_RESTORE_TARGETS .*entry 2 is not one/,
    );
    expect((error as Error).message).not.toContain('hunter2');
  });
});

describe('restore target URLs', () => {
  const allowed = [
    parseRestoreTargetEntry('db.internal:5433/restore')!,
    parseRestoreTargetEntry('127.0.0.1/x')!,
  ];

  it('parses the URL, decoding credentials, and takes only sslmode', () => {
    expect(parseTargetUrl('postgresql://u%40x:p%2Fw@DB.internal:5433/restore?sslmode=verify-ca')).toEqual({
      host: 'db.internal',
      port: 5433,
      database: 'restore',
      user: 'u@x',
      password: 'p/w',
      sslMode: 'verify-full',
    });
    expect(parseTargetUrl('postgres://u@[::1]/x')).toMatchObject({ host: '::1', port: 5432, password: '' });
  });

  it.each([
    ['not a url', /not a valid URL/],
    ['mysql://u@db.internal:5433/restore', /postgres/],
    ['postgres://db.internal:5433/restore', /user/],
    ['postgres://u@db.internal:5433/', /one database/],
    ['postgres://u@db.internal:5433/a/b', /one database/],
    ['postgres://u@db.internal:5433/restore?host=10.0.0.1', /no parameter but sslmode/],
    ['postgres://u@db.internal:5433/restore?sslmode=require&port=1', /no parameter but sslmode/],
    ['postgres://u@db.internal:5433/restore?sslmode=allow', /sslmode/],
    ['postgres://u@db.internal:5433/restore#x', /fragment/],
    ['postgres://u@db%2einternal:5433/restore', /host/],
    ['postgres://u@db.internal:5433/re%00store', /one database/],
  ])('refuses %j as a bad URL', (url, message) => {
    const error = (() => {
      try {
        parseTargetUrl(url);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(RestoreTargetRefusedError);
    expect((error as RestoreTargetRefusedError).reason).toBe('bad_url');
    expect((error as Error).message).toMatch(message);
  });

  it('allows exactly the listed host, port and database', () => {
    expect(() =>
      checkAllowed(parseTargetUrl('postgres://u@db.internal:5433/restore'), allowed),
    ).not.toThrow();
    expect(() => checkAllowed(parseTargetUrl('postgres://u@127.0.0.1:5432/x'), allowed)).not.toThrow();
    for (const url of [
      'postgres://u@db.internal/restore',
      'postgres://u@db.internal:5433/other',
      'postgres://u@other.internal:5433/restore',
      'postgres://u@localhost/x',
      'postgres://u@127.0.0.2/x',
    ]) {
      expect(() => checkAllowed(parseTargetUrl(url), allowed), url).toThrow(/not on the allow-list/);
    }
  });

  it('connects to the address it checked, with every setting explicit', async () => {
    const settings = await connectionSettings(
      parseTargetUrl('postgres://u:p@127.0.0.1:5433/x?sslmode=require'),
      createOutboundPolicy(),
    );
    expect(settings).toEqual({
      host: '127.0.0.1',
      port: 5433,
      database: 'x',
      user: 'u',
      password: 'p',
      ssl: { rejectUnauthorized: false },
    });
    const named = await connectionSettings(
      parseTargetUrl('postgres://u@localhost/x?sslmode=verify-full'),
      createOutboundPolicy(),
    );
    expect(['127.0.0.1', '::1']).toContain(named.host);
    expect(named).toMatchObject({ password: '', ssl: { rejectUnauthorized: true, servername: 'localhost' } });
  });

  it('answers a name that does not resolve as unreachable, like any other failure', async () => {
    const error = await connectionSettings(
      parseTargetUrl('postgres://u@no-such-host.invalid/x'),
      createOutboundPolicy(),
    ).catch((caught) => caught);
    expect(error).toBeInstanceOf(RestoreTargetUnreachableError);
    expect(error.message).toBe('the restore target could not be reached');
  });
});
