package query

import "math"

// fisherGreater is the one-sided p-value of Fisher's exact test that a value is more common in
// a set than in its baseline: with a of the set's a+b holding it and c of the baseline's c+d,
// the chance, the margins fixed, of a or more of the holders falling in the set (the
// hypergeometric tail; scipy.stats.fisher_exact([[a, b], [c, d]], alternative="greater")).
// Each term is computed from log-factorials, so a table of a hundred thousand counts neither
// overflows nor loses the small p-values that rank the causes.
func fisherGreater(a, b, c, d int) float64 {
	if a < 0 || b < 0 || c < 0 || d < 0 {
		return math.NaN()
	}
	row, col, n := a+b, a+c, a+b+c+d
	if row == 0 || col == 0 || row == n || col == n {
		return 1 // one margin empty or full: every arrangement is the observed one
	}
	top := min(row, col)
	base := logChoose(n, col)
	p := 0.0
	for x := a; x <= top; x++ {
		term := math.Exp(logChoose(row, x) + logChoose(n-row, col-x) - base)
		p += term
		// The terms fall fast once past the mode: stop when they no longer count.
		if term < p*1e-17 && x > a {
			break
		}
	}
	return min(p, 1)
}

// logChoose is ln(n choose k).
func logChoose(n, k int) float64 {
	if k < 0 || k > n {
		return math.Inf(-1)
	}
	return lgamma(n+1) - lgamma(k+1) - lgamma(n-k+1)
}

func lgamma(x int) float64 {
	v, _ := math.Lgamma(float64(x))
	return v
}
