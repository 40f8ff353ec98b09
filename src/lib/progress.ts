/**
 * A progress bar for long CLI jobs: `[#########-----------]  45%  450,000 rows  210,000 rows/s`.
 * On a terminal it redraws one line; elsewhere (CI logs) it prints a line every few seconds.
 */
export interface Progress {
  /**
   * `share`: the part done, 0–1, when known (e.g. bytes read of a file); `note`: more counts to
   * show after the rate (e.g. `12/56 days, 310 redemptions`).
   */
  update(done: number, share?: number, note?: string): void;
  finish(message?: string): void;
}

export function progressBar(opts: {
  label: string;
  unit: string;
  write: (text: string) => void;
  isTty: boolean;
  now: () => number;
}): Progress {
  const start = opts.now();
  let last = 0;
  let lastDone = 0;
  let lastShare: number | undefined;
  let lastNote: string | undefined;
  const render = (done: number, share?: number) => {
    const seconds = Math.max((opts.now() - start) / 1000, 1e-3);
    const rate = Math.round(done / seconds);
    const fmt = (n: number) => n.toLocaleString('en-US');
    let bar = '';
    if (share !== undefined) {
      const width = 24;
      const full = Math.round(Math.min(share, 1) * width);
      bar = `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${String(Math.round(share * 100)).padStart(3)}%  `;
    }
    const note = lastNote ? `  ${lastNote}` : '';
    return `${opts.label} ${bar}${fmt(done)} ${opts.unit}  ${fmt(rate)} ${opts.unit}/s${note}  ${seconds.toFixed(1)}s`;
  };
  return {
    update(done, share, note) {
      lastDone = done;
      lastShare = share ?? lastShare;
      lastNote = note ?? lastNote;
      const t = opts.now();
      if (opts.isTty ? t - last < 100 : t - last < 5000) return;
      last = t;
      opts.write(opts.isTty ? `\r${render(done, lastShare)}\u001b[K` : `${render(done, lastShare)}\n`);
    },
    finish(message) {
      const line = render(lastDone, lastShare);
      opts.write(opts.isTty ? `\r${line}\u001b[K\n` : `${line}\n`);
      if (message) opts.write(`${message}\n`);
    },
  };
}
