import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ZodError } from 'zod';
import { AppError, type FieldIssue } from '../lib/errors.ts';
import { errorFields, type Logger } from '../lib/logger.ts';

/**
 * The one error shape of the API (RFC 9457 problem details):
 * `{ type, title, status, detail, requestId, issues: [{ path, message }] }`.
 */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  requestId?: string | undefined;
  issues: FieldIssue[];
}

const typeBase = 'https://cadence.dev/problems/';

/** `['baskets', 0, 'lines', 2, 'gtin']` → `baskets[0].lines[2].gtin` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(body)';
}

export function zodIssues(error: ZodError, prefix: readonly PropertyKey[] = []): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: formatPath([...prefix, ...issue.path]),
    message: issue.message,
  }));
}

export function problemResponse(c: Context, problem: Omit<Problem, 'requestId'>): Response {
  const body: Problem = { ...problem, requestId: c.get('requestId') as string | undefined };
  return c.body(JSON.stringify(body), problem.status as 400, {
    'content-type': 'application/problem+json',
  });
}

export function validationProblem(c: Context, error: ZodError, where: string): Response {
  return problemResponse(c, {
    type: `${typeBase}validation`,
    title: 'Invalid input',
    status: 422,
    detail: `the ${where} does not match the schema`,
    issues: zodIssues(error),
  });
}

/** Type and title of the HTTPExceptions Hono and its middleware throw (the body limit, zod-openapi's media type gate). */
const httpProblems: Record<number, [type: string, title: string]> = {
  413: ['payload-too-large', 'Payload too large'],
  415: ['unsupported-media-type', 'Unsupported media type'],
};

/** Hono's onError: domain errors map to their status; anything else is a logged 500. */
export function errorHandler(logger: Logger) {
  return (err: Error, c: Context): Response => {
    if (err instanceof AppError) {
      return problemResponse(c, {
        type: `${typeBase}${err.type}`,
        title: err.title,
        status: err.status,
        detail: err.message,
        issues: err.issues,
      });
    }
    if (err instanceof HTTPException) {
      const status = err.status;
      const detail =
        status === 400 && /json/i.test(err.message) ? 'malformed JSON in request body' : err.message;
      const [type, title] = httpProblems[status] ?? ['bad-request', 'Bad request'];
      return problemResponse(c, {
        type: `${typeBase}${type}`,
        title,
        status,
        detail,
        issues: [],
      });
    }
    logger.error('unhandled error', {
      requestId: c.get('requestId'),
      // Without the values it quotes: a database error repeats the input (cards, e-mails, names).
      ...errorFields(err),
      // The route's pattern, not the path: a path names members and cards, which logs must not.
      method: c.req.method,
      route: c.req.routePath,
    });
    return problemResponse(c, {
      type: `${typeBase}internal`,
      title: 'Internal error',
      status: 500,
      detail: 'an unexpected error occurred; quote the request id when reporting it',
      issues: [],
    });
  };
}
