import { describe, expect, it } from 'vitest';
import {
  classifyAddress,
  isPublicAddress,
  normaliseIPv4Spelling,
  parseAddress,
  parseNetwork,
} from './addresses';

const classOf = (text: string) => {
  const address = parseAddress(text);
  if (!address) throw new Error(`${text} did not parse`);
  return classifyAddress(address);
};

describe('classifyAddress', () => {
  it.each([
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
    ['93.184.216.34', 'public'],
    ['2606:4700:4700::1111', 'public'],
    ['2a00:1450:4001:82a::200e', 'public'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'reserved'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.255', 'shared'],
    ['169.254.169.254', 'link_local'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'documentation'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['198.18.0.1', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::ffff:127.0.0.1', 'embedded_ipv4'],
    ['::ffff:7f00:1', 'embedded_ipv4'],
    ['::ffff:8.8.8.8', 'embedded_ipv4'],
    ['::ffff:169.254.169.254', 'embedded_ipv4'],
    ['::127.0.0.1', 'embedded_ipv4'],
    ['::ffff:0:7f00:1', 'embedded_ipv4'],
    ['64:ff9b::7f00:1', 'embedded_ipv4'],
    ['64:ff9b::a9fe:a9fe', 'embedded_ipv4'],
    ['64:ff9b:1::a00:1', 'embedded_ipv4'],
    ['2002:7f00:1::', 'embedded_ipv4'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'embedded_ipv4'],
    ['100::1', 'reserved'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['2001:10::1', 'reserved'],
    ['fc00::1', 'unique_local'],
    ['fd00:ec2::254', 'unique_local'],
    ['fe80::1', 'link_local'],
    ['fe80::1%eth0', 'link_local'],
    ['febf::1', 'link_local'],
    ['fec0::1', 'reserved'],
    ['ff02::1', 'multicast'],
    ['4000::1', 'reserved'],
  ])('%s is %s', (address, kind) => {
    expect(classOf(address)).toBe(kind);
    expect(isPublicAddress(address)).toBe(kind === 'public');
  });

  it('does not take anything but an address for one', () => {
    for (const text of [
      'not an address',
      '',
      '127.1',
      '2130706433',
      '1.2.3.4.5',
      'gggg::1',
      '::ffff:300.1.1.1',
    ]) {
      expect(parseAddress(text), text).toBeNull();
      expect(isPublicAddress(text), text).toBe(false);
    }
  });
});

describe('normaliseIPv4Spelling', () => {
  it.each([
    ['2130706433', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['127.0.1', '127.0.0.1'],
    ['0', '0.0.0.0'],
    ['017700000001', '127.0.0.1'],
    ['169.254.43518', '169.254.169.254'],
    ['0xa9.0xfe.0xa9.0xfe', '169.254.169.254'],
    ['8.8.8.8', '8.8.8.8'],
  ])('reads %s as %s', (text, address) => {
    expect(normaliseIPv4Spelling(text)).toBe(address);
  });

  it('leaves names and impossible numbers alone', () => {
    for (const text of [
      'example.com',
      '1e100.net',
      '4294967296',
      '256.0.0.1',
      '08.0.0.1',
      '1.2.3.4.5',
      'deadbeef',
    ]) {
      expect(normaliseIPv4Spelling(text), text).toBeNull();
    }
  });
});

describe('parseNetwork', () => {
  it('reads CIDRs and single addresses of both families, and refuses the rest', () => {
    expect(parseNetwork('10.1.0.0/16')).toMatchObject({ family: 4, prefix: 16 });
    expect(parseNetwork('127.0.0.1')).toMatchObject({ family: 4, prefix: 32 });
    expect(parseNetwork('fc00::/7')).toMatchObject({ family: 6, prefix: 7 });
    for (const text of [
      '10.0.0.0/33',
      '10.0.0.0/',
      'fc00::/129',
      'example.com',
      '10.0.0.0/8/8',
      '10.0.0.0/a',
    ]) {
      expect(parseNetwork(text), text).toBeNull();
    }
  });
});
