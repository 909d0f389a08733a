import 'reflect-metadata';
import { BadRequestException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { AttachmentLinks } from '../../src/attachments/attachment-links.js';
import { requestedRange } from '../../src/attachments/byte-range.js';
import type { Clock } from '../../src/attachments/clock.js';
import { cleanFilename, contentDisposition } from '../../src/attachments/filenames.js';
import type { AppConfig } from '../../src/config/app-config.js';
import { SendMessageDto } from '../../src/messages/dto/send-message.dto.js';

describe('requestedRange', () => {
  it.each([
    [undefined, undefined],
    ['bytes=0-0', { start: 0, end: 0 }],
    ['bytes=0-99', { start: 0, end: 99 }],
    ['bytes=10-', { start: 10, end: 99 }],
    ['bytes=90-500', { start: 90, end: 99 }],
    ['bytes=-10', { start: 90, end: 99 }],
    ['bytes=-500', { start: 0, end: 99 }],
    ['bytes=100-', 'unsatisfiable'],
    ['bytes=-0', 'unsatisfiable'],
    ['bytes=5-2', undefined],
    ['bytes=0-1,3-4', undefined],
    ['bytes=-', undefined],
    ['items=0-1', undefined],
    ['bytes=99999999999999999999-', undefined],
    [' bytes=1-2 ', { start: 1, end: 2 }],
  ] as const)('%j of 100 bytes is %j', (header, expected) => {
    expect(requestedRange(header, 100)).toEqual(expected);
  });

  it('finds nothing to give of an empty file', () => {
    expect(requestedRange('bytes=0-', 0)).toBe('unsatisfiable');
    expect(requestedRange('bytes=-1', 0)).toBe('unsatisfiable');
  });
});

describe('cleanFilename and contentDisposition', () => {
  it('keeps a name that needs no cleaning', () => {
    expect(cleanFilename('Résumé 2026 (final).pdf')).toBe('Résumé 2026 (final).pdf');
  });

  it('takes the NFC form, so that the same name looks the same', () => {
    expect(cleanFilename('Re\u0301sume\u0301.txt')).toBe('Résumé.txt');
  });

  it('quotes a name safely for the header, with the exact name in filename*', () => {
    expect(contentDisposition('attachment', 'a "quoted" \\ name%.txt')).toBe(
      `attachment; filename="a _quoted_ _ name_.txt"; filename*=UTF-8''a%20%22quoted%22%20%5C%20name%25.txt`,
    );
    expect(contentDisposition('inline', '😀.png')).toBe(`inline; filename="__.png"; filename*=UTF-8''%F0%9F%98%80.png`);
  });
});

describe('AttachmentLinks', () => {
  let now = Date.UTC(2026, 11, 7, 10, 10, 0);
  const clock = { now: () => now } as Clock;
  const links = new AttachmentLinks({ jwtSecret: 'a secret long enough for the test' } as AppConfig, clock);
  const facts = { id: '7', filename: 'a.png', contentType: 'image/png', size: '10', width: 1, height: 2, createdAt: '2026-12-07T10:00:00.123456+00:00', hasThumbnail: true };
  const queryOf = (url: string) => Object.fromEntries(new URL(url, 'http://x').searchParams);

  it('makes links that expire at the end of the next half hour, and verify until then', () => {
    const view = links.view(facts, '42');
    expect(view).toMatchObject({ id: '7', size: 10, createdAt: '2026-12-07T10:00:00.123Z' });
    const query = queryOf(view.url);
    expect(query.user).toBe('42');
    expect(Number(query.expires)).toBe(Date.UTC(2026, 11, 7, 11, 0, 0) / 1000);
    expect(links.verify('content', '7', query)).toEqual({ userId: '42', expires: Number(query.expires) });
    expect(links.verify('thumbnail', '7', queryOf(view.thumbnailUrl!))).toBeDefined();
    now += 49 * 60 * 1000;
    expect(links.verify('content', '7', query)).toBeDefined();
    now += 60 * 1000;
    expect(links.verify('content', '7', query)).toBeUndefined();
  });

  it('refuses another kind, attachment, user or key', () => {
    now = Date.UTC(2026, 11, 7, 10, 10, 0);
    const query = queryOf(links.view(facts, '42').url);
    expect(links.verify('thumbnail', '7', query)).toBeUndefined();
    expect(links.verify('content', '8', query)).toBeUndefined();
    expect(links.verify('content', '7', { ...query, user: '43' })).toBeUndefined();
    const other = new AttachmentLinks({ jwtSecret: 'another secret entirely, as long' } as AppConfig, clock);
    expect(other.verify('content', '7', query)).toBeUndefined();
  });
});

describe('SendMessageDto.fromBody with attachmentIds', () => {
  const refusal = (value: unknown) => {
    try {
      SendMessageDto.fromBody(value);
    } catch (error) {
      return (error as BadRequestException).getResponse();
    }
    return undefined;
  };

  it('takes an empty or absent body with attachments, and keeps the ids in order', () => {
    expect(SendMessageDto.fromBody({ conversationId: '1', attachmentIds: ['3', '2'] })).toEqual({ conversationId: '1', body: '', attachmentIds: ['3', '2'] });
    expect(SendMessageDto.fromBody({ conversationId: '1', body: '  ', attachmentIds: ['3'] })).toMatchObject({ body: '', attachmentIds: ['3'] });
    expect(SendMessageDto.fromBody({ conversationId: '1', body: 'hi', attachmentIds: null })).toEqual({ conversationId: '1', body: 'hi' });
    expect(SendMessageDto.fromBody({ conversationId: '1', body: 'hi', attachmentIds: [] })).toEqual({ conversationId: '1', body: 'hi' });
  });

  it('refuses bad lists, and a body that breaks the text rules even beside attachments', () => {
    expect(refusal({ conversationId: '1', attachmentIds: ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11'] })).toMatchObject({
      message: ['attachmentIds must contain no more than 10 elements'],
    });
    expect(refusal({ conversationId: '1', attachmentIds: [''] })).toMatchObject({ message: ['each value in attachmentIds must be an id (a decimal string)'] });
    expect(refusal({ conversationId: '1', attachmentIds: {} })).toMatchObject({ message: ['attachmentIds must be an array'] });
    expect(refusal({ conversationId: '1', attachmentIds: ['1'], body: 'a\u202Eb' })).toMatchObject({ message: ['body must not contain text-direction overrides'] });
    expect(refusal({ conversationId: '1', attachmentIds: [] })).toMatchObject({ message: ['body must be 1–4000 characters after trimming'] });
  });
});
