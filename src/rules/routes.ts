import { createRoute } from '@hono/zod-openapi';
import type { Deps } from '../deps.ts';
import { allowRoles } from '../http/auth.ts';
import { problemResponses } from '../http/openapi.ts';
import { newRouter } from '../http/router.ts';
import { localDate } from '../lib/time.ts';
import { isLiveOn } from './campaign.ts';
import { previewCampaignFile } from './check-rules.ts';
import { LiveRulesList, PreviewQuery, CampaignYaml, RulesPreview, RulesStatus } from './schemas.ts';
import { RuleFileError } from './yaml.ts';

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml', 'text/plain'];

/** The live rules, their reload status, and previews of campaign edits (marketers). */
export function rulesRoutes(deps: Deps) {
  const app = newRouter();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/rules',
      operationId: 'listRules',
      tags: ['rules'],
      summary: 'The live campaigns and content',
      description:
        'Every campaign of the live rule set with the SHA-256 of its file (issued offers record it), ' +
        'whether it is active today, the content items, and the last refused reload if any.',
      ...allowRoles(['marketer']),
      responses: {
        200: { description: 'Live rules', content: { 'application/json': { schema: LiveRulesList } } },
        ...problemResponses(),
      },
    }),
    (c) => {
      const rules = deps.rules.current();
      const status = deps.rules.status?.() ?? { loadedAt: null, lastError: null, checkedAt: null };
      const today = localDate(deps.clock.now(), deps.config.CHAIN_TIME_ZONE);
      return c.json(
        {
          loadedAt: status.loadedAt,
          lastError: status.lastError,
          date: today,
          campaigns: rules.campaigns.map((k) => ({
            id: k.id,
            name: k.name,
            file: k.file,
            hash: k.fileHash,
            activeFrom: k.activeFrom,
            activeTo: k.activeTo,
            live: isLiveOn(k, today),
            kind: k.offer.kind,
            priority: k.priority,
            stackingGroup: k.stacking?.group ?? null,
            holdoutPercent: k.holdoutPercent,
          })),
          content: rules.content.map((i) => ({ id: i.id, kind: i.kind, title: i.title, file: i.file })),
          files: rules.files,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/rules/status',
      operationId: 'getRulesStatus',
      tags: ['rules'],
      summary: 'Hot-reload status of the rules',
      description:
        'When the live rules were loaded and, after an edit that failed validation, the error with ' +
        'file, line, column and field (the previous rules stay live until the files are fixed).',
      ...allowRoles(['marketer']),
      responses: {
        200: { description: 'Status', content: { 'application/json': { schema: RulesStatus } } },
        ...problemResponses(),
      },
    }),
    (c) => {
      const status = deps.rules.status?.() ?? { loadedAt: null, lastError: null, checkedAt: null };
      return c.json({ ...status, files: deps.rules.current().files }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/rules/preview',
      operationId: 'previewCampaign',
      tags: ['rules'],
      summary: 'Check and preview one campaign file',
      description:
        'Validates a campaign (YAML body) against the schema, the live traits and content and the ' +
        'catalogue, and previews the next list period from the last analytics: members reached per ' +
        'cell, held out, offers, expected redemptions and cost, vendor-funded share, budget use. ' +
        'Nothing is saved. Errors: 422 with file, line, column and field per issue.',
      ...allowRoles(['marketer']),
      request: {
        query: PreviewQuery,
        body: {
          required: true,
          content: Object.fromEntries(YAML_TYPES.slice(0, 3).map((t) => [t, { schema: CampaignYaml }])),
        },
      },
      responses: {
        200: { description: 'Valid; the preview', content: { 'application/json': { schema: RulesPreview } } },
        ...problemResponses(413, 422),
      },
    }),
    async (c) => {
      const file = c.req.valid('query').file ?? 'rules/campaigns/preview.yaml';
      const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (!YAML_TYPES.includes(type)) {
        throw new RuleFileError(file, [
          { file, line: null, column: null, path: '(body)', message: `send the campaign as YAML (content-type ${YAML_TYPES.slice(0, 3).join(', ')}), not ${type || 'nothing'}` },
        ]);
      }
      const text = await c.req.text();
      if (!text.trim()) {
        throw new RuleFileError(file, [{ file, line: null, column: null, path: '(body)', message: 'empty: send one campaign file' }]);
      }
      const name = `campaigns/${file.split('/').pop()!.replace(/\.yml$/, '.yaml')}`;
      const result = await previewCampaignFile(deps, deps.rules.current(), { name, path: file, text });
      if (!result.ok) throw new RuleFileError(file, result.issues);
      return c.json({ ok: true as const, warnings: result.warnings, preview: result.previews[0]! }, 200);
    },
  );

  return app;
}
