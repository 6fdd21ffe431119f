import { describe, expect, it } from "vitest";
import { fitPca, symmetricEigen } from "../model/pca.ts";

describe("pca", () => {
  it("finds eigenpairs of a symmetric matrix", () => {
    const d = 6;
    const a = new Float64Array(d * d);
    for (let i = 0; i < d; i++)
      for (let j = i; j < d; j++) {
        const v = Math.sin(i * 7 + j * 3);
        a[i * d + j] = v;
        a[j * d + i] = v;
      }
    const { values, vectors } = symmetricEigen(a, d);
    for (let k = 0; k < d; k++) {
      for (let i = 0; i < d; i++) {
        let av = 0;
        for (let j = 0; j < d; j++) av += (a[i * d + j] as number) * (vectors[j * d + k] as number);
        expect(av).toBeCloseTo((values[k] as number) * (vectors[i * d + k] as number), 9);
      }
    }
  });

  it("puts the direction of largest variance first", () => {
    const rows = Array.from({ length: 200 }, (_, i) => {
      const t = Math.sin(i) * 10;
      return Float32Array.from([t, t * 0.5 + Math.cos(i * 3) * 0.1, Math.cos(i * 5)]);
    });
    const pca = fitPca(rows, 2);
    const axis = pca.components[0] as Float64Array;
    expect(Math.abs((axis[0] as number) / (axis[1] as number))).toBeCloseTo(2, 1);
    expect(pca.variances[0]).toBeGreaterThan(pca.variances[1] as number);
  });
});
