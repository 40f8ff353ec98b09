// pdfkit ships its standard-font metrics as data modules (needed by its runtime-free build);
// @types/pdfkit does not describe them.
declare module 'pdfkit/standard-fonts/*' {
  const font: { name: string };
  export default font;
}
