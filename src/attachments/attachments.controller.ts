import { Controller, Get, Headers, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiPartialContentResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiAuthenticated, ApiErrors } from '../common/api-docs.js';
import type { AuthUser } from '../common/caller/caller.js';
import { CurrentUser } from '../common/caller/current-user.decorator.js';
import { Public } from '../common/caller/public.decorator.js';
import { errorBody } from '../common/http-exception.filter.js';
import { ParseIdPipe } from '../common/ids.js';
import { AttachmentView } from './attachment.view.js';
import { AttachmentsService, type Download } from './attachments.service.js';
import { LinkQueryDto } from './dto/link.query.js';

const AttachmentId = new ParseIdPipe('Attachment');

/**
 * A download is never run by the browser as a page of this site: `nosniff`, and a CSP sandbox
 * (no scripts, an origin of its own) even if it were opened as one.
 */
const DOWNLOAD_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': 'sandbox',
  'accept-ranges': 'bytes',
};

const BYTES = { type: 'string', format: 'binary' } as const;

const LINK_OR_TOKEN =
  'With `Authorization: Bearer`, or without it through the signed `url` / `thumbnailUrl` of the attachment (`user`, `expires`, `signature`): a tampered or expired link gets 404.';

@ApiTags('attachments')
@ApiAuthenticated()
@Controller('api/v1/attachments')
export class AttachmentsController {
  constructor(private readonly attachments: AttachmentsService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary: 'Upload a file',
    description:
      'One part named `file`. Its type is sniffed from its bytes; images get their size and a thumbnail, and lose their EXIF/XMP metadata. Attach it with `attachmentIds` when sending or editing a message; an upload never attached is removed after a day.',
  })
  @ApiConsumes('multipart/form-data')
  @ApiBody({ schema: { type: 'object', required: ['file'], properties: { file: { type: 'string', format: 'binary' } } } })
  @ApiCreatedResponse({ type: AttachmentView })
  @ApiErrors(
    [400, 'No part named file, another part, a body cut off or malformed, or an image that cannot be read or has too many pixels'],
    [413, 'Larger than ATTACHMENT_MAX_BYTES, or past the storage quota'],
    [415, 'Not multipart/form-data'],
  )
  upload(@CurrentUser() caller: AuthUser, @Req() request: FastifyRequest) {
    return this.attachments.upload(caller.id, request);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One attachment', description: 'Its uploader, and the members of the conversation of the message carrying it.' })
  @ApiParam({ name: 'id', description: 'Attachment id' })
  @ApiOkResponse({ type: AttachmentView })
  @ApiErrors([404, 'No such attachment, or the caller may not see it'])
  get(@CurrentUser() caller: AuthUser, @Param('id', AttachmentId) id: string) {
    return this.attachments.get(caller.id, id);
  }

  @Get(':id/content')
  @Public()
  @ApiOperation({
    summary: 'The bytes',
    description: `${LINK_OR_TOKEN} \`Range\` gives 206. \`Content-Disposition: inline\` only for PNG, JPEG, GIF and WebP, otherwise \`attachment\`; always \`X-Content-Type-Options: nosniff\` and \`Content-Security-Policy: sandbox\`. With S3_REDIRECT_DOWNLOADS, a 302 to a presigned URL of the bucket.`,
  })
  @ApiParam({ name: 'id', description: 'Attachment id' })
  @ApiOkResponse({ description: 'The file, as its sniffed `contentType`', content: { 'application/octet-stream': { schema: BYTES } } })
  @ApiPartialContentResponse({ description: 'The range asked for, with `Content-Range`', content: { 'application/octet-stream': { schema: BYTES } } })
  @ApiFoundResponse({ description: 'S3_REDIRECT_DOWNLOADS: a presigned URL of the bucket, in Location' })
  @ApiErrors(400, [404, 'No such attachment, the caller may not see it, or a tampered or expired link'], [416, 'The range starts past the end'])
  async content(
    @Param('id', AttachmentId) id: string,
    @Query() query: LinkQueryDto,
    @Headers('authorization') authorization: string | undefined,
    @Headers('range') range: string | undefined,
    @Res() reply: FastifyReply,
  ) {
    const viewer = await this.attachments.viewer('content', id, query, authorization);
    return send(reply, await this.attachments.download(viewer, id, 'content', range));
  }

  @Get(':id/thumbnail')
  @Public()
  @ApiOperation({ summary: 'A thumbnail', description: `A WebP at most 320 px on its longer side, for images; 404 for other files. ${LINK_OR_TOKEN}` })
  @ApiParam({ name: 'id', description: 'Attachment id' })
  @ApiOkResponse({ description: 'The thumbnail', content: { 'image/webp': { schema: BYTES } } })
  @ApiErrors(400, [404, 'No such attachment, not an image, the caller may not see it, or a tampered or expired link'])
  async thumbnail(
    @Param('id', AttachmentId) id: string,
    @Query() query: LinkQueryDto,
    @Headers('authorization') authorization: string | undefined,
    @Headers('range') range: string | undefined,
    @Res() reply: FastifyReply,
  ) {
    const viewer = await this.attachments.viewer('thumbnail', id, query, authorization);
    return send(reply, await this.attachments.download(viewer, id, 'thumbnail', range));
  }
}

function send(reply: FastifyReply, download: Download): FastifyReply {
  reply.headers(DOWNLOAD_HEADERS);
  if ('redirect' in download) return reply.redirect(download.redirect, 302);
  if ('unsatisfiable' in download) {
    return reply.status(416).header('content-range', `bytes */${download.unsatisfiable}`).send(errorBody(416, 'The range starts past the end of the file'));
  }
  const { body, contentType, disposition, size, range, cacheSeconds } = download;
  // A signed link names one user and expires: the browser may keep what it fetched until then.
  if (cacheSeconds !== undefined) reply.header('cache-control', `private, max-age=${cacheSeconds}`);
  reply.header('content-type', contentType).header('content-disposition', disposition);
  if (range) {
    reply.status(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`).header('content-length', range.end - range.start + 1);
  } else {
    reply.status(200).header('content-length', size);
  }
  return reply.send(body);
}
