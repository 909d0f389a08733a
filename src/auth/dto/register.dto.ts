import { IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';

export class RegisterDto {
  /** 3–32 of a-z 0-9 _ . - (case-insensitive: stored lower-cased). */
  @IsString()
  @Matches(/^[A-Za-z0-9_.-]{3,32}$/, { message: 'username must be 3–32 characters of a-z 0-9 _ . -' })
  username: string;

  @IsString()
  @Length(8, 128, { message: 'password must be 8–128 characters' })
  password: string;

  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Matches(/\S/, { message: 'displayName must not be blank' })
  displayName?: string;
}
