/**
 * TrueType files imported by the worker (src/worker.ts): wrangler.toml's `[[rules]]` bundles
 * `*.ttf` as Data modules, whose default export is the file's bytes.
 */
declare module '*.ttf' {
  const bytes: ArrayBuffer;
  export default bytes;
}
