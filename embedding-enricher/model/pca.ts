/**
 * Principal components of row vectors, from the eigen-decomposition of
 * their covariance matrix: exact and deterministic.
 */
export interface Pca {
  mean: Float64Array;
  /** components[k] is the k-th principal axis (unit length), by decreasing variance. */
  components: Float64Array[];
  variances: number[];
}

export function fitPca(rows: Float32Array[], keep: number): Pca {
  const n = rows.length;
  const d = rows[0]?.length ?? 0;
  if (n === 0 || keep > d) throw new Error(`cannot keep ${keep} of ${d} dims from ${n} rows`);
  const mean = new Float64Array(d);
  for (const row of rows) for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) + (row[j] as number);
  for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) / n;
  // Covariance, symmetric d x d, from centred columns (contiguous dot products are fast).
  const columns: Float64Array[] = [];
  for (let j = 0; j < d; j++) {
    const column = new Float64Array(n);
    const m = mean[j] as number;
    for (let r = 0; r < n; r++) column[r] = ((rows[r] as Float32Array)[j] as number) - m;
    columns.push(column);
  }
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    const ci = columns[i] as Float64Array;
    for (let j = i; j < d; j++) {
      const cj = columns[j] as Float64Array;
      let sum = 0;
      for (let r = 0; r < n; r++) sum += (ci[r] as number) * (cj[r] as number);
      a[i * d + j] = sum / n;
      a[j * d + i] = sum / n;
    }
  }
  return pcaFromCovariance(mean, a, keep);
}

/** Principal axes from a precomputed mean and covariance (row-major d x d). */
export function pcaFromCovariance(mean: Float64Array, covariance: Float64Array, keep: number): Pca {
  const d = mean.length;
  const { values, vectors } = symmetricEigen(covariance, d);
  const order = [...values.keys()].sort((x, y) => (values[y] as number) - (values[x] as number));
  const components: Float64Array[] = [];
  const variances: number[] = [];
  for (const k of order.slice(0, keep)) {
    const axis = new Float64Array(d);
    for (let i = 0; i < d; i++) axis[i] = vectors[i * d + k] as number;
    // Fix the sign so the result does not depend on rotation order details.
    let largest = 0;
    for (let i = 0; i < d; i++)
      if (Math.abs(axis[i] as number) > Math.abs(axis[largest] as number)) largest = i;
    if ((axis[largest] as number) < 0) for (let i = 0; i < d; i++) axis[i] = -(axis[i] as number);
    components.push(axis);
    variances.push(values[k] as number);
  }
  return { mean, components, variances };
}

/** Coordinates of a row on the principal axes; `centre: false` keeps the mean's share in them. */
export function projectPca(pca: Pca, row: Float32Array, centre = true): Float32Array {
  const out = new Float32Array(pca.components.length);
  for (let k = 0; k < pca.components.length; k++) {
    const axis = pca.components[k] as Float64Array;
    let sum = 0;
    for (let j = 0; j < row.length; j++) {
      sum += ((row[j] as number) - (centre ? (pca.mean[j] as number) : 0)) * (axis[j] as number);
    }
    out[k] = sum;
  }
  return out;
}

/**
 * Eigen-decomposition of a symmetric matrix (row-major d x d; not modified):
 * Householder reduction to tridiagonal form, then the implicit QL method
 * (the classic tred2/tql2 pair, as in JAMA). O(d^3), well under a second for
 * d = 512. Column k of `vectors` (vectors[i * d + k]) belongs to values[k].
 */
export function symmetricEigen(a: Float64Array, d: number): { values: number[]; vectors: Float64Array } {
  const n = d;
  const V: Float64Array[] = [];
  for (let i = 0; i < n; i++) V.push(a.slice(i * n, (i + 1) * n));
  const dd = new Float64Array(n);
  const e = new Float64Array(n);
  const row = (i: number) => V[i] as Float64Array;

  householderTridiagonalise(V, dd, e, n);

  // tql2: implicit QL iterations on the tridiagonal matrix, rotating columns
  // of V (stored as contiguous arrays: the inner loop walks them).
  const col: Float64Array[] = [];
  for (let j = 0; j < n; j++) {
    const c = new Float64Array(n);
    for (let k = 0; k < n; k++) c[k] = at(row(k), j);
    col.push(c);
  }
  implicitQl(col, dd, e, n);
  const vectors = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const c = col[j] as Float64Array;
    for (let k = 0; k < n; k++) vectors[k * n + j] = c[k] as number;
  }
  return { values: Array.from(dd), vectors };
}

const at = (arr: Float64Array, i: number) => arr[i] as number;

/** tred2: Householder reduction of V (rows) to tridiagonal form; diagonal in dd, off-diagonal in e. */
function householderTridiagonalise(V: Float64Array[], dd: Float64Array, e: Float64Array, n: number): void {
  const row = (i: number) => V[i] as Float64Array;
  for (let j = 0; j < n; j++) dd[j] = at(row(n - 1), j);
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(at(dd, k));
    if (scale === 0) {
      e[i] = at(dd, i - 1);
      for (let j = 0; j < i; j++) {
        dd[j] = at(row(i - 1), j);
        row(i)[j] = 0;
        row(j)[i] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        dd[k] = at(dd, k) / scale;
        h += at(dd, k) * at(dd, k);
      }
      let f = at(dd, i - 1);
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      dd[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = at(dd, j);
        row(j)[i] = f;
        g = at(e, j) + at(row(j), j) * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += at(row(k), j) * at(dd, k);
          e[k] = at(e, k) + at(row(k), j) * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] = at(e, j) / h;
        f += at(e, j) * at(dd, j);
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] = at(e, j) - hh * at(dd, j);
      for (let j = 0; j < i; j++) {
        f = at(dd, j);
        g = at(e, j);
        for (let k = j; k <= i - 1; k++) row(k)[j] = at(row(k), j) - (f * at(e, k) + g * at(dd, k));
        dd[j] = at(row(i - 1), j);
        row(i)[j] = 0;
      }
    }
    dd[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    row(n - 1)[i] = at(row(i), i);
    row(i)[i] = 1;
    const h = at(dd, i + 1);
    if (h !== 0) {
      for (let k = 0; k <= i; k++) dd[k] = at(row(k), i + 1) / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += at(row(k), i + 1) * at(row(k), j);
        for (let k = 0; k <= i; k++) row(k)[j] = at(row(k), j) - g * at(dd, k);
      }
    }
    for (let k = 0; k <= i; k++) row(k)[i + 1] = 0;
  }
  for (let j = 0; j < n; j++) {
    dd[j] = at(row(n - 1), j);
    row(n - 1)[j] = 0;
  }
  row(n - 1)[n - 1] = 1;
  e[0] = 0;
}

/** tql2: implicit QL iterations on the tridiagonal matrix (dd, e), rotating the columns of V in col. */
function implicitQl(col: Float64Array[], dd: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = at(e, i);
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(at(dd, l)) + Math.abs(at(e, l)));
    let m = l;
    while (m < n) {
      if (Math.abs(at(e, m)) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iterations = 0;
      do {
        if (++iterations > 100) throw new Error("eigen decomposition did not converge");
        let g = at(dd, l);
        let p = (at(dd, l + 1) - g) / (2 * at(e, l));
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        dd[l] = at(e, l) / (p + r);
        dd[l + 1] = at(e, l) * (p + r);
        const dl1 = at(dd, l + 1);
        let h = g - at(dd, l);
        for (let i = l + 2; i < n; i++) dd[i] = at(dd, i) - h;
        f += h;
        p = at(dd, m);
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = at(e, l + 1);
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * at(e, i);
          h = c * p;
          r = Math.hypot(p, at(e, i));
          e[i + 1] = s * r;
          s = at(e, i) / r;
          c = p / r;
          p = c * at(dd, i) - s * g;
          dd[i + 1] = h + s * (c * g + s * at(dd, i));
          const ci = col[i] as Float64Array;
          const cn = col[i + 1] as Float64Array;
          for (let k = 0; k < n; k++) {
            const hk = cn[k] as number;
            const vk = ci[k] as number;
            cn[k] = s * vk + c * hk;
            ci[k] = c * vk - s * hk;
          }
        }
        p = (-s * s2 * c3 * el1 * at(e, l)) / dl1;
        e[l] = s * p;
        dd[l] = c * p;
      } while (Math.abs(at(e, l)) > eps * tst1);
    }
    dd[l] = at(dd, l) + f;
    e[l] = 0;
  }
}
