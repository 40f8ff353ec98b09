import { z } from '@hono/zod-openapi';

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: 'https://cadence.dev/problems/validation' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    requestId: z.string().optional(),
    issues: z.array(
      z.object({
        path: z.string(),
        message: z.string(),
        // Issues of a rule file (POST /v1/rules/preview): where in the YAML.
        file: z.string().optional().openapi({ description: 'Rule-file issues: the file' }),
        line: z.number().int().nullable().optional().openapi({ description: 'Rule-file issues: the line (1-based), if known' }),
        column: z.number().int().nullable().optional().openapi({ description: 'Rule-file issues: the column (1-based), if known' }),
      }),
    ).openapi({
      example: [{ path: 'lines[0].gtin', message: 'bad check digit: expected 3' }],
    }),
  })
  .openapi('Problem');

const descriptions: Record<number, string> = {
  400: 'Malformed request: a URL holding a NUL character (%00), or a body that does not parse',
  401: 'Missing or invalid API key',
  403: 'Role or scope does not allow this',
  404: 'Not found',
  409: 'Conflict',
  413: 'Body too large',
  415: 'The body is not of a media type this operation takes (send `content-type: application/json`)',
  422: 'Invalid input; `issues` names each bad field',
  500: 'Unexpected error; quote `requestId` when reporting it',
};

/**
 * What any /v1 operation can answer, whatever it does: the middleware of every route (src/app.ts)
 * refuses a URL holding %00 (400), a missing or unknown key (401), a role that may not (403),
 * and an unexpected error is a 500.
 */
const EVERY_OPERATION = [400, 401, 403, 500];

/**
 * Problem+JSON responses for `createRoute({ responses })`: the given statuses, those of this
 * operation (404, 409, 413 and 422 where it takes a body, 415 where the body is a zod schema),
 * and those any operation can give.
 */
export function problemResponses(...statuses: number[]) {
  const out: Record<number, { description: string; content: Record<string, { schema: typeof ProblemSchema }> }> = {};
  for (const status of [...new Set([...EVERY_OPERATION, ...statuses])].sort((a, b) => a - b)) {
    out[status] = {
      description: descriptions[status] ?? 'Error',
      content: { 'application/problem+json': { schema: ProblemSchema } },
    };
  }
  return out;
}
