/** What a user may do: `admin` adds the admin API. */
export type Role = 'user' | 'admin';
