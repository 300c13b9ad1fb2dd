/** Google's JSON error format: `{error: {code, message, errors: [{message, domain, reason}], status}}`. */

const STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  412: 'FAILED_PRECONDITION',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

export interface GoogleErrorBody {
  error: {
    code: number;
    message: string;
    errors: Array<{ message: string; domain: string; reason: string; location?: string; locationType?: string }>;
    status: string;
  };
}

export class GoogleApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly reason: string,
    readonly domain = 'global',
    readonly extra: { location?: string; locationType?: string; itemMessage?: string; headers?: Record<string, string> } = {},
  ) {
    super(message);
  }

  body(): GoogleErrorBody {
    const item: GoogleErrorBody['error']['errors'][number] = { message: this.extra.itemMessage ?? this.message, domain: this.domain, reason: this.reason };
    if (this.extra.location) item.location = this.extra.location;
    if (this.extra.locationType) item.locationType = this.extra.locationType;
    return { error: { code: this.code, message: this.message, errors: [item], status: STATUS[this.code] ?? 'UNKNOWN' } };
  }
}

export const notFound = () => new GoogleApiError(404, 'Requested entity was not found.', 'notFound');
export const badRequest = (message: string, location?: string) =>
  new GoogleApiError(400, message, location ? 'invalidArgument' : 'badRequest', 'global', location ? { location, locationType: 'parameter' } : {});
export const invalidCredentials = () =>
  new GoogleApiError(
    401,
    'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
    'authError',
    'global',
    { itemMessage: 'Invalid Credentials', location: 'Authorization', locationType: 'header', headers: { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' } },
  );
export const loginRequired = () =>
  new GoogleApiError(
    401,
    'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
    'required',
    'global',
    { itemMessage: 'Login Required.', location: 'Authorization', locationType: 'header', headers: { 'www-authenticate': 'Bearer realm="https://accounts.google.com/"' } },
  );
export const insufficientScopes = () =>
  new GoogleApiError(403, 'Request had insufficient authentication scopes.', 'insufficientPermissions', 'global', {
    itemMessage: 'Insufficient Permission',
    headers: { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="insufficient_scope"' },
  });
export const userRateLimitExceeded = (retryAfterSeconds: number) =>
  new GoogleApiError(403, 'User-rate limit exceeded.', 'userRateLimitExceeded', 'usageLimits', {
    itemMessage: 'User Rate Limit Exceeded. Rate of requests for user exceed configured project quota.',
    headers: { 'retry-after': String(retryAfterSeconds) },
  });
export const rateLimitExceeded = (message = 'Rate Limit Exceeded', retryAfterSeconds?: number) =>
  new GoogleApiError(429, message, 'rateLimitExceeded', 'usageLimits', retryAfterSeconds !== undefined ? { headers: { 'retry-after': String(retryAfterSeconds) } } : {});
export const backendError = (code: 500 | 503) =>
  code === 500
    ? new GoogleApiError(500, 'Internal error encountered.', 'backendError')
    : new GoogleApiError(503, 'The service is currently unavailable.', 'backendError');
