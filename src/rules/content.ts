import { z } from 'zod';
import { STAGES, TIERS } from './campaign.ts';

/**
 * Non-price content for the lists (`rules/content/*.yaml`): recipes, weekly meal plans, usage tips,
 * health notes and perks (express lane, home delivery…). Each item says whom it suits; list
 * composition (issue 8) picks items whose `suits` match the member. An item that names nothing in
 * `suits` suits everyone.
 */
export const CONTENT_KINDS = ['recipe', 'meal_plan', 'tip', 'health_note', 'perk'] as const;

const Code = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'expected lowercase letters, digits, _ . - (max 64)');

const ContentItem = z
  .object({
    id: Code,
    kind: z.enum(CONTENT_KINDS),
    title: z.string().min(1).max(120),
    /** The printed text (a tip, a note, a perk's terms). */
    text: z.string().min(1).max(1200),
    /** Ingredients of a recipe, the days of a meal plan, steps… one printed line each. */
    lines: z.array(z.string().min(1).max(200)).max(30).optional(),
    suits: z
      .object({
        traits: z.array(Code).min(1).optional(),
        categories: z.array(Code).min(1).optional(),
        tiers: z.array(z.enum(TIERS)).min(1).optional(),
        stages: z.array(z.enum(STAGES)).min(1).optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export const ContentFile = z
  .object({ content: z.array(ContentItem).min(1) })
  .strict()
  .transform((f) =>
    f.content.map((c) => ({
      id: c.id,
      kind: c.kind,
      title: c.title,
      text: c.text,
      lines: c.lines ?? [],
      suits: {
        traits: c.suits.traits ?? [],
        categories: c.suits.categories ?? [],
        tiers: c.suits.tiers ?? [],
        stages: c.suits.stages ?? [],
      },
    })),
  );

export type ContentItem = z.output<typeof ContentFile>[number] & { file: string };
