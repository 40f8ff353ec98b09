import { z } from '@hono/zod-openapi';

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: 'https://cadence.dev/problems/validation' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    requestId: z.string().optional(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).openapi({
      example: [{ path: 'lines[0].gtin', message: 'bad check digit: expected 3' }],
    }),
  })
  .openapi('Problem');

const descriptions: Record<number, string> = {
  400: 'Malformed request',
  401: 'Missing or invalid API key',
  403: 'Role or scope does not allow this',
  404: 'Not found',
  409: 'Conflict',
  413: 'Body too large',
  422: 'Invalid input; `issues` names each bad field',
};

/** Problem+JSON responses for the given statuses, for `createRoute({ responses })`. */
export function problemResponses(...statuses: number[]) {
  const out: Record<number, { description: string; content: Record<string, { schema: typeof ProblemSchema }> }> = {};
  for (const status of statuses) {
    out[status] = {
      description: descriptions[status] ?? 'Error',
      content: { 'application/problem+json': { schema: ProblemSchema } },
    };
  }
  return out;
}
