/** Vocabulary shared by the rules (SPEC §1, §2). */
export type Provider = 'google' | 'microsoft';
export const PROVIDERS: readonly Provider[] = ['google', 'microsoft'];

export type EmailAccess = 'off' | 'view' | 'send_and_view';
export const EMAIL_ACCESS_LEVELS: readonly EmailAccess[] = ['off', 'view', 'send_and_view'];

export type EmailDiscovery = 'anyone' | 'second_degree' | 'first_degree' | 'nobody';
export const EMAIL_DISCOVERY_SETTINGS: readonly EmailDiscovery[] = ['anyone', 'second_degree', 'first_degree', 'nobody'];

export type Role = 'admin' | 'recruiter';
export type AuthorizationKind = 'email' | 'calendar';
export type AuthorizationState = 'authorized' | 'needs_reauthorization' | 'deauthorized';
