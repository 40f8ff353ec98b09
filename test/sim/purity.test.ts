import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The simulator must run on Workers and be reproducible: no runtime imports, no ambient time or
// randomness. A static scan; exact (no tolerance).
const dir = join(import.meta.dirname, '../../src/sim');

describe('src/sim purity', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));

  it.each(files)('%s imports no runtime and reads no clock or global randomness', (file) => {
    const code = readFileSync(join(dir, file), 'utf8');
    expect(code).not.toMatch(/from\s+['"]node:/);
    expect(code).not.toMatch(/import\(\s*['"]node:/);
    expect(code).not.toMatch(/\bprocess\./);
    expect(code).not.toMatch(/Math\.random/);
    expect(code).not.toMatch(/Date\.now/);
    expect(code).not.toMatch(/new Date\(\s*\)/);
    expect(code).not.toMatch(/export default/);
  });
});
