import { createRoute, z } from '@hono/zod-openapi';
import { sql } from 'kysely';
import type { Deps } from '../deps.ts';
import { allowRoles } from '../http/auth.ts';
import { problemResponses } from '../http/openapi.ts';
import { newRouter } from '../http/router.ts';
import { NotFoundError } from '../lib/errors.ts';
import { localDate } from '../lib/time.ts';
import { composeList } from './compose.ts';
import { ListDocumentJson, listDocumentJson } from './document.ts';
import { renderListPdf } from './pdf.ts';
import { composeOptions } from './print.ts';

const ListRef = z.object({
  ref: z
    .string()
    .regex(/^\d{1,15}(\.pdf)?$/, 'a list serial, or a list serial with .pdf')
    .openapi({ param: { name: 'ref', in: 'path' }, example: '100000042.pdf' }),
});
const CurrentRef = z.object({
  memberNumber: z.string().min(1).max(40).openapi({ param: { name: 'memberNumber', in: 'path' }, example: 'M0000001' }),
  which: z.enum(['current', 'current.pdf']).openapi({ param: { name: 'which', in: 'path' }, example: 'current.pdf' }),
});
const PaperQuery = z.object({
  paper: z.enum(['letter', 'a4']).optional().openapi({ description: 'Paper size; default from rules/settings.yaml' }),
});

const listResponses = {
  200: {
    description: 'The list',
    content: {
      'application/json': { schema: ListDocumentJson },
      'application/pdf': { schema: { type: 'string' as const, format: 'binary' } },
    },
  },
  ...problemResponses(404, 422),
};

/** Personal lists as JSON (apps) or PDF (print, e-mail). */
export function listRoutes(deps: Deps) {
  const app = newRouter();

  async function respond(c: { req: { valid(k: 'query'): { paper?: 'letter' | 'a4' | undefined } } }, id: number, pdf: boolean) {
    const rules = deps.rules.current();
    const input = await composeList(deps.db, id, composeOptions(rules.settings, rules.content));
    if (!pdf) return Response.json(listDocumentJson(input));
    const bytes = await renderListPdf(input, { paper: c.req.valid('query').paper ?? rules.settings.lists.paper, fonts: deps.listFonts });
    return new Response(bytes, {
      headers: { 'content-type': 'application/pdf', 'content-disposition': `inline; filename="list-${id}.pdf"` },
    });
  }

  app.openapi(
    createRoute({
      method: 'get', path: '/lists/{ref}', operationId: 'getList', tags: ['lists'], ...allowRoles(['marketer']),
      summary: 'A list by its serial: JSON for apps, or `{serial}.pdf`',
      description:
        'Any list, live or not. A list a regenerate of its period voided (`POST /v1/jobs/lists` with ' +
        '`regenerate: true`) answers 200 with `status: "voided"` and `replacedBy`, the serial of the ' +
        "member's list built in its place (null when none was: the member no longer gets one); its " +
        'offers are void, so none are listed. Its PDF prints "VOID — replaced by list …" across the top ' +
        'of every page. A live list has `status: "live"` and `replacedBy: null`.',
      request: { params: ListRef, query: PaperQuery },
      responses: listResponses,
    }),
    async (c) => {
      const ref = c.req.valid('param').ref;
      return respond(c, Number(ref.replace('.pdf', '')), ref.endsWith('.pdf')) as never;
    },
  );

  app.openapi(
    createRoute({
      method: 'get', path: '/members/{memberNumber}/lists/{which}', operationId: 'getCurrentList', tags: ['lists'],
      ...allowRoles(['marketer']),
      summary: "A member's current list (`current` JSON, `current.pdf`)",
      description:
        'The live list of the period holding today, for apps and e-mail; 404 when the member has none ' +
        '(a list of an ended period, its offers expired, is not sent as current).',
      request: { params: CurrentRef, query: PaperQuery },
      responses: listResponses,
    }),
    async (c) => {
      const { memberNumber, which } = c.req.valid('param');
      const today = localDate(deps.clock.now(), deps.config.CHAIN_TIME_ZONE);
      const list = await deps.db
        .selectFrom('lists')
        .innerJoin('members', 'members.id', 'lists.member_id')
        .select('lists.id')
        // an unregistered member is named by their card, as their list prints it
        .where((eb) =>
          eb.or([
            eb('members.member_number', '=', memberNumber),
            eb.and([eb('members.member_number', 'is', null), eb('members.card_number', '=', memberNumber)]),
          ]),
        )
        .where('lists.voided_at', 'is', null)
        .where('lists.period_start', '<=', today)
        .where('lists.period_end', '>=', today)
        .orderBy(sql`members.member_number is null`)
        .orderBy('lists.period_start', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (!list) throw new NotFoundError(`no current list for member ${memberNumber}`, [{ path: 'memberNumber', message: 'no current list' }]);
      return respond(c, list.id, which === 'current.pdf') as never;
    },
  );
  return app;
}
