import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { addressesOf, parseAddressList, participantsOf } from '../../../src/domain/ingestion/index.ts';
import { OWNER } from './fixtures.ts';

const addresses = (header: string): string[] => parseAddressList(header).map((a) => a.address);

describe('R-30 counts addresses: parseAddressList', () => {
  it('R-30: reads a display name and keeps the address as written (case and +tag)', () => {
    expect(parseAddressList('"Jane Doe" <Jane.Doe+x@Ex.com>')).toEqual([{ address: 'Jane.Doe+x@Ex.com', name: 'Jane Doe', group: null }]);
  });

  it('R-30: a comma inside a quoted display name does not split the mailbox', () => {
    expect(parseAddressList('"Doe, Jane" <jane@x.com>, bob@y.com')).toEqual([
      { address: 'jane@x.com', name: 'Doe, Jane', group: null },
      { address: 'bob@y.com', name: null, group: null },
    ]);
  });

  it('R-30: tolerates unquoted commas in display names as clients write them', () => {
    expect(parseAddressList('Doe, Jane <jane@x.com>, Doe, Jr., John <j@x.com>')).toEqual([
      { address: 'jane@x.com', name: 'Doe, Jane', group: null },
      { address: 'j@x.com', name: 'Doe, Jr., John', group: null },
    ]);
  });

  it('R-30: an empty group such as undisclosed-recipients:; holds no address', () => {
    expect(parseAddressList('undisclosed-recipients:;')).toEqual([]);
    expect(parseAddressList('Undisclosed recipients: ;')).toEqual([]);
  });

  it('R-30: group members count, and parsing continues after the group', () => {
    expect(parseAddressList('team: a@x.com, "B, b" <b@y.com>; c@z.com')).toEqual([
      { address: 'a@x.com', name: null, group: 'team' },
      { address: 'b@y.com', name: 'B, b', group: 'team' },
      { address: 'c@z.com', name: null, group: null },
    ]);
  });

  it('R-30: RFC 2047 encoded words are left as written', () => {
    expect(parseAddressList('=?UTF-8?B?SsO2cmc=?= <jorg@x.de>, =?utf-8?Q?M=C3=BCller,_A?= <a@x.de>')).toEqual([
      { address: 'jorg@x.de', name: '=?UTF-8?B?SsO2cmc=?=', group: null },
      { address: 'a@x.de', name: '=?utf-8?Q?M=C3=BCller,_A?=', group: null },
    ]);
  });

  it('R-30: comments, old-style comment names, routes, folded lines and escaped quotes', () => {
    expect(parseAddressList('jane@x.com (Jane, Doe)')).toEqual([{ address: 'jane@x.com', name: 'Jane, Doe', group: null }]);
    expect(parseAddressList('Jane <jane@x.com> (work, main), bob@y.com')).toEqual([
      { address: 'jane@x.com', name: 'Jane', group: null },
      { address: 'bob@y.com', name: null, group: null },
    ]);
    expect(addresses('<@relay.net,@b.net:jane@x.com>')).toEqual(['jane@x.com']);
    expect(parseAddressList('"Jane\r\n Doe"\r\n\t<jane@x.com>')).toEqual([{ address: 'jane@x.com', name: 'Jane Doe', group: null }]);
    expect(parseAddressList('"a\\"b, <c@d.e>" <q@x.com>')).toEqual([{ address: 'q@x.com', name: 'a"b, <c@d.e>', group: null }]);
    expect(parseAddressList('"weird@name" <real@x.com>')).toEqual([{ address: 'real@x.com', name: 'weird@name', group: null }]);
  });

  it('R-30: semicolons separate addresses outside a group (Outlook style)', () => {
    expect(addresses('a@x.com; b@y.com;c@z.com')).toEqual(['a@x.com', 'b@y.com', 'c@z.com']);
  });

  it('R-30: empty headers, the null sender <> and bare words hold no address', () => {
    expect(parseAddressList('')).toEqual([]);
    expect(parseAddressList('   ')).toEqual([]);
    expect(parseAddressList('<>')).toEqual([]);
    expect(parseAddressList('a@x.com, Someone')).toEqual([{ address: 'a@x.com', name: null, group: null }]);
  });

  it('R-30: a malformed address with an @ still counts as a participant', () => {
    expect(addresses('"john doe"@x.com, broken@, Jane jane@x.com')).toEqual(['"john doe"@x.com', 'broken@', 'jane@x.com']);
  });

  it('R-30: addressesOf accepts a header, a list of header fragments or Graph {name, address} objects', () => {
    expect(addressesOf('a@x.com, "B" <b@y.com>')).toEqual(['a@x.com', 'b@y.com']);
    expect(addressesOf(['a@x.com, c@z.com', { name: 'B, b', address: ' b@y.com ' }, { address: '' }])).toEqual(['a@x.com', 'c@z.com', 'b@y.com']);
    expect(addressesOf(undefined)).toEqual([]);
  });

  it('R-30: participants are distinct, normalized and split into owner addresses and counterparts', () => {
    const p = participantsOf({ from: 'Jane <JANE+x@acme.com>', to: 'Ann <ann+jobs@Example.org>, ANN@example.org', cc: 'talent@ACME-talent.io', bcc: [] }, OWNER);
    expect(p).toEqual({
      addresses: ['ann@example.org', 'jane@acme.com', 'talent@acme-talent.io'],
      ownerAddresses: ['jane@acme.com', 'talent@acme-talent.io'],
      counterparts: ['ann@example.org'],
    });
  });

  it('R-30 (property): any list of quoted display names and addresses parses back to the same addresses and names', () => {
    const local = fc.stringMatching(/^[a-z][a-z0-9._+-]{0,10}[a-z0-9]$/).filter((s) => !s.includes('..'));
    const domain = fc.constantFrom('x.com', 'Example.ORG', 'mail.co.uk', 'a-b.io');
    const name = fc.option(fc.string({ unit: fc.constantFrom('a', 'B', ' ', ',', ';', ':', '"', '\\', '<', '>', '@', '(', ')', 'é'), maxLength: 12 }), { nil: null });
    fc.assert(
      fc.property(fc.array(fc.record({ local, domain, name }), { maxLength: 6 }), (items) => {
        const header = items
          .map(({ local: l, domain: d, name: n }) => (n === null ? `${l}@${d}` : `"${n.replace(/[\\"]/g, (c) => `\\${c}`)}" <${l}@${d}>`))
          .join(', ');
        const parsed = parseAddressList(header);
        expect(parsed.map((p) => p.address)).toEqual(items.map((i) => `${i.local}@${i.domain}`));
        const expectedName = (n: string | null): string | null => (n === null ? null : n.replace(/\s+/g, ' ').trim() || null);
        expect(parsed.map((p) => p.name)).toEqual(items.map((i) => expectedName(i.name)));
      }),
      { numRuns: 300 },
    );
  });
});
