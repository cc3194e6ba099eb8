package query

import (
	"math"
	"testing"
)

// TestFisherGreater compares the one-sided test with values computed independently: scipy's
// own test of fisher_exact (scipy/stats/tests/test_stats.py, TestFisherExact.test_less_greater,
// alternative="greater"), whose first four were computed with R's fisher.test and the others
// are exact.
func TestFisherGreater(t *testing.T) {
	for _, c := range []struct {
		table [2][2]int
		want  float64
	}{
		{[2][2]int{{2, 7}, {8, 2}}, 0.9990149169715733},
		{[2][2]int{{200, 7}, {8, 300}}, 2.0056578803889148e-122},
		{[2][2]int{{28, 21}, {6, 1957}}, 5.7284374608319831e-44},
		{[2][2]int{{190, 800}, {200, 900}}, 0.2959826},
		{[2][2]int{{0, 2}, {3, 0}}, 1.0},
		{[2][2]int{{1, 1}, {2, 1}}, 0.9},
		{[2][2]int{{2, 0}, {1, 2}}, 0.3},
		{[2][2]int{{0, 1}, {2, 3}}, 1.0},
		{[2][2]int{{1, 0}, {1, 4}}, 1.0 / 3},
	} {
		got := fisherGreater(c.table[0][0], c.table[0][1], c.table[1][0], c.table[1][1])
		if math.Abs(got-c.want) > 1e-7*c.want {
			t.Errorf("fisherGreater(%v) = %.17g, scipy says %.17g", c.table, got, c.want)
		}
	}
	// Empty margins, and counts no table has.
	for _, table := range [][4]int{{0, 0, 5, 10}, {5, 10, 0, 0}, {0, 5, 0, 10}, {5, 0, 10, 0}} {
		if p := fisherGreater(table[0], table[1], table[2], table[3]); p != 1 {
			t.Errorf("fisherGreater(%v) = %v, want 1 (scipy's test_row_or_col_zero)", table, p)
		}
	}
	if p := fisherGreater(-1, 2, 3, 4); !math.IsNaN(p) {
		t.Errorf("a negative count: %v, want NaN", p)
	}
	// A hundred thousand: no overflow, no underflow to a wrong 0 or 1.
	if p := fisherGreater(60, 40, 49_950, 49_950); !(p > 0 && p < 0.05) {
		t.Errorf("60 of 100 against half of 99,900: p = %v, want small but above 0", p)
	}
}
