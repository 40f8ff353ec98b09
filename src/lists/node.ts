import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ListFonts } from './pdf.ts';

/**
 * Node-only half of the list PDFs: DejaVu Sans and DejaVu Sans Bold from the `dejavu-fonts-ttf`
 * package, for text Helvetica cannot show (pdf.ts). Null when the package is missing (a build
 * without it): lists then print as before, every string in Helvetica.
 */
export function loadListFonts(): ListFonts | null {
  try {
    const require = createRequire(import.meta.url);
    const file = (name: string) => new Uint8Array(readFileSync(require.resolve(`dejavu-fonts-ttf/ttf/${name}`)));
    return { regular: file('DejaVuSans.ttf'), bold: file('DejaVuSans-Bold.ttf') };
  } catch {
    return null;
  }
}
