import { createRoute } from '@hono/zod-openapi';
import type { Deps } from '../deps.ts';
import { allowRoles } from '../http/auth.ts';
import { problemResponses } from '../http/openapi.ts';
import { newRouter } from '../http/router.ts';
import { topAssociations } from './associations.ts';
import { categoryCellMatrix } from './cells.ts';
import { memberProfile, type MemberProfile as Profile } from './members.ts';
import {
  Associations,
  AssociationsQuery,
  CategoryCells,
  CategoryIdParam,
  MemberNumberParam,
  MemberProfile,
} from './schemas.ts';

/** Member analytics for marketers (and admins): profiles, 9-cell matrices, associations. */
export function analyticsRoutes(deps: Pick<Deps, 'db'>) {
  const app = newRouter();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/members/{memberNumber}/profile',
      operationId: 'getMemberProfile',
      tags: ['analytics'],
      summary: "A member's analytics profile",
      description:
        'Cells per category, qualification, tier, share of wallet and stage, churn warning, ' +
        'household traits and the products the member is due to buy, as of the last nightly run.',
      ...allowRoles(['marketer']),
      request: { params: MemberNumberParam },
      responses: {
        200: {
          description: 'The profile',
          content: { 'application/json': { schema: MemberProfile } },
        },
        ...problemResponses(404, 422),
      },
    }),
    async (c) => {
      const profile = await memberProfile(deps.db, c.req.valid('param').memberNumber);
      return c.json(toProfileJson(profile), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/categories/{id}/cells',
      operationId: 'getCategoryCells',
      tags: ['analytics'],
      summary: "A category's 9-cell matrix",
      description:
        'Member counts and look-back spend per cell (brand loyalty × volume), plus the buyers ' +
        'with too few purchases to classify.',
      ...allowRoles(['marketer']),
      request: { params: CategoryIdParam },
      responses: {
        200: {
          description: 'The matrix',
          content: { 'application/json': { schema: CategoryCells } },
        },
        ...problemResponses(404, 422),
      },
    }),
    async (c) => {
      const m = await categoryCellMatrix(deps.db, c.req.valid('param').id);
      return c.json({ ...m, asOf: m.asOf?.toISOString() ?? null }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/associations',
      operationId: 'listAssociations',
      tags: ['analytics'],
      summary: 'Category associations',
      description: 'Association rules between categories across baskets, by lift then support.',
      ...allowRoles(['marketer']),
      request: { query: AssociationsQuery },
      responses: {
        200: {
          description: 'Top rules',
          content: { 'application/json': { schema: Associations } },
        },
        ...problemResponses(422),
      },
    }),
    async (c) => {
      const result = await topAssociations(deps.db, c.req.valid('query'));
      return c.json({ ...result, asOf: result.asOf?.toISOString() ?? null }, 200);
    },
  );

  return app;
}

function toProfileJson(p: Profile): MemberProfile {
  const s = p.scores;
  return {
    memberNumber: p.memberNumber,
    asOf: p.asOf?.toISOString() ?? null,
    qualified: s?.qualified ?? null,
    weeklySpendCents: s?.weeklySpendCents ?? null,
    spendCents: s?.spendCents ?? null,
    visitDays: s?.visitDays ?? null,
    tier: s?.tier ?? null,
    shareOfWallet: s?.shareOfWallet ?? null,
    stage: s?.stage ?? null,
    churn: s
      ? {
          risk: s.churnRisk,
          reason: s.churnReason,
          lastVisitDate: s.lastVisitDate,
          daysSinceLastVisit: s.daysSinceLastVisit,
          meanVisitGapDays: s.meanVisitGapDays,
          visitGapProbability: s.visitGapProbability,
          recentSpendCents: s.recentSpendCents,
          priorSpendCents: s.priorSpendCents,
        }
      : null,
    traits: p.traits,
    cells: p.cells,
    dueProducts: p.dueProducts,
  };
}
