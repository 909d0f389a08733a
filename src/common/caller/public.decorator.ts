import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'parley:public';

/** Marks a route that needs no access token (register, login, health, docs). */
export const Public = () => SetMetadata(IS_PUBLIC, true);
