import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsNumber, IsObject, IsOptional, IsString, Matches, MaxLength, ValidateBy, ValidateIf, ValidateNested } from 'class-validator';
import { InOrder } from '../../common/validation.js';
import { isP256PublicKey } from '../p256-key.js';

/** A point on P-256 (65 bytes of the right length can still be none: then no push could be encrypted). */
const IsP256PublicKey = () =>
  ValidateBy({
    name: 'isP256PublicKey',
    validator: {
      validate: (value) => typeof value !== 'string' || isP256PublicKey(value),
      defaultMessage: (args) => `${args?.property} is not a P-256 public key`,
    },
  });

export class SubscriptionKeysDto {
  @ApiProperty({ description: "The browser's P-256 public key: 65 bytes, URL-safe base64" })
  @InOrder(IsString(), Matches(/^[A-Za-z0-9_-]{86,88}={0,2}$/, { message: 'keys.p256dh must be 65 bytes in URL-safe base64' }), IsP256PublicKey())
  p256dh: string;

  @ApiProperty({ description: 'The authentication secret: 16 bytes, URL-safe base64' })
  @InOrder(IsString(), Matches(/^[A-Za-z0-9_-]{22}={0,2}$/, { message: 'keys.auth must be 16 bytes in URL-safe base64' }))
  auth: string;
}

/** `POST /api/v1/push/subscriptions`: a browser's `PushSubscription.toJSON()`. */
export class SubscribeDto {
  @ApiProperty({ description: "The push service's URL for this browser: https, and not a private address", example: 'https://push.example.com/send/abc' })
  @InOrder(IsString(), MaxLength(2048))
  endpoint: string;

  @ApiProperty({ type: SubscriptionKeysDto })
  @InOrder(IsObject(), ValidateNested())
  @Type(() => SubscriptionKeysDto)
  keys: SubscriptionKeysDto;

  @ApiPropertyOptional({ type: Number, nullable: true, description: 'As the browser gives it; not used' })
  @IsOptional()
  @ValidateIf((_dto, value) => value !== null)
  @IsNumber()
  expirationTime?: number | null;
}
