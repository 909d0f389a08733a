import { Transform } from 'class-transformer';
import { ValidationOptions, registerDecorator } from 'class-validator';
import { ID_PATTERN } from './ids.js';

/** Trims strings before validation (`body: 1–4000 characters after trimming`). */
export const Trim = () => Transform(({ value }) => (typeof value === 'string' ? value.trim() : value));

export const ID_MESSAGE = '$property must be an id (a decimal string)';
export { ID_PATTERN };

/** Fails when this property and `other` are both present. */
export function NotTogetherWith(other: string, options?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'notTogetherWith',
      target: target.constructor,
      propertyName,
      options: { message: `give either ${propertyName} or ${other}, not both`, ...options },
      validator: {
        validate: (_value: unknown, args) => (args?.object as Record<string, unknown>)[other] === undefined,
      },
    });
}
