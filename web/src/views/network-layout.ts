// A small force-directed layout (Fruchterman and Reingold's): every pair
// of nodes pushes apart, every tie pulls its ends together (a little more
// for more referrals), a weak pull to the centre keeps separate parts in
// view, and the steps shrink as it cools. Deterministic: the start is a
// sunflower spiral in the order the API lists the nodes and nothing is
// random, so the same network is drawn the same way at every meeting (and
// in the browser test). No library: a few dozen lines cost less than one,
// and the drawing is ours to keep accessible.

export interface Point { x: number; y: number }

/** Ties as [from index, to index, weight]; the result fits [padX, width-padX] × [padY, height-padY]. */
export function forceLayout(n: number, ties: [number, number, number][], width: number, height: number, padX = 30, padY = padX): Point[] {
  if (n === 0) return [];
  if (n === 1) return [{ x: width / 2, y: height / 2 }];
  const x = new Float64Array(n), y = new Float64Array(n), dx = new Float64Array(n), dy = new Float64Array(n);
  const area = width * height, k = Math.sqrt(area / n), R = Math.min(width, height) / 2;
  const golden = Math.PI * (3 - Math.sqrt(5));
  for (let i = 0; i < n; i++) {
    const r = R * Math.sqrt((i + 0.5) / n);
    x[i] = width / 2 + r * Math.cos(i * golden);
    y[i] = height / 2 + r * Math.sin(i * golden);
  }
  // Every pair each step: about 3·10⁷ pair visits in all, at least 30 steps (2,000 nodes is a few seconds' worst case).
  const steps = Math.max(30, Math.min(300, Math.ceil(3e7 / (n * n))));
  const maxW = Math.max(1, ...ties.map((e) => e[2]));
  const gravity = (0.2 * k) / R;
  let temp = Math.min(width, height) / 8;
  const cool = temp / (steps + 1);
  for (let s = 0; s < steps; s++) {
    dx.fill(0);
    dy.fill(0);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        let ex = x[i] - x[j], ey = y[i] - y[j];
        let d2 = ex * ex + ey * ey;
        if (d2 < 1e-6) { ex = (i - j) * 0.01; ey = 0.01; d2 = ex * ex + ey * ey; } // coincident: apart by index, not by chance
        const f = (k * k) / d2; // k²/d along the unit vector: (k²/d)·(e/d)
        dx[i] += ex * f; dy[i] += ey * f;
        dx[j] -= ex * f; dy[j] -= ey * f;
      }
    }
    for (const [a, b, w] of ties) {
      if (a === b) continue;
      const ex = x[a] - x[b], ey = y[a] - y[b];
      const d = Math.sqrt(ex * ex + ey * ey) || 0.01;
      const f = (d / k) * (1 + Math.log1p(w) / Math.log1p(maxW)); // d²/k along the unit vector, stronger for more referrals
      dx[a] -= ex * f; dy[a] -= ey * f;
      dx[b] += ex * f; dy[b] += ey * f;
    }
    for (let i = 0; i < n; i++) {
      dx[i] -= (x[i] - width / 2) * gravity;
      dy[i] -= (y[i] - height / 2) * gravity;
      const d = Math.sqrt(dx[i] * dx[i] + dy[i] * dy[i]);
      if (d > 0) {
        const step = Math.min(d, temp);
        x[i] += (dx[i] / d) * step;
        y[i] += (dy[i] / d) * step;
      }
    }
    temp -= cool;
  }
  // Fit the result to the drawing, keeping its proportions.
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    minX = Math.min(minX, x[i]); maxX = Math.max(maxX, x[i]);
    minY = Math.min(minY, y[i]); maxY = Math.max(maxY, y[i]);
  }
  const scale = Math.min((width - 2 * padX) / (maxX - minX || 1), (height - 2 * padY) / (maxY - minY || 1));
  const ox = (width - (maxX - minX) * scale) / 2, oy = (height - (maxY - minY) * scale) / 2;
  return Array.from({ length: n }, (_, i) => ({ x: ox + (x[i] - minX) * scale, y: oy + (y[i] - minY) * scale }));
}
