package analysis

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/compute"
)

// tol is the absolute tolerance of the comparisons against hand-computed
// values (a few ulps of the inputs' magnitude).
const tol = 1e-12

func spec(n, b int, lr float64, seed int64) compute.TrialSpec {
	return compute.TrialSpec{Dataset: compute.DatasetSpec{Name: "synthetic", N: n, NTest: 100},
		BatchSize: b, LR: lr, Seed: seed, Epochs: 1}
}

func ok(n, b int, lr float64, seed int64, trainAcc, testAcc, trainLoss, testLoss, lambda float64) Record {
	return Record{TrialID: fmt.Sprint("t-", n, b, lr, seed), Spec: spec(n, b, lr, seed), State: StateSucceeded,
		Result: &compute.Result{TrainAcc: trainAcc, TestAcc: testAcc, TrainLoss: trainLoss, TestLoss: testLoss, LambdaMax: lambda}}
}

func diverged(n, b int, lr float64, seed int64) Record {
	r := ok(n, b, lr, seed, 0.1, 0.1, math.NaN(), math.NaN(), 0)
	r.Result.Diverged = true
	return r
}

func other(n, b int, lr float64, seed int64, state string) Record {
	return Record{TrialID: "x", Spec: spec(n, b, lr, seed), State: state}
}

// fixture returns records for five grid points, in scrambled order:
//
//	A: N=1000 B=10   ε=0.1  3 good seeds + 1 diverged, 2 failed, 1 pending
//	B: N=1000 B=1000 ε=0.1  1 good seed
//	C: N=1000 B=10   ε=0.05 2 good seeds, one with λ₁ = NaN
//	D: N=500  B=10   ε=0.1  1 good seed
//	E: N=1000 B=100  ε=0.1  2 diverged seeds only
func fixture() []Record {
	return []Record{
		ok(1000, 10, 0.1, 1, 0.9, 0.7, 0.1, 0.5, 2),
		ok(1000, 1000, 0.1, 1, 0.5, 0.45, 1.2, 1.3, 0.25),
		diverged(1000, 10, 0.1, 4),
		ok(1000, 10, 0.05, 1, 0.95, 0.75, 0.1, 0.6, 3),
		other(1000, 10, 0.1, 5, StateFailed),
		diverged(1000, 100, 0.1, 1),
		ok(1000, 10, 0.1, 2, 0.8, 0.6, 0.2, 0.7, 4),
		other(1000, 10, 0.1, 6, "pending"),
		ok(500, 10, 0.1, 1, 0.99, 0.5, 0.01, 2, 10),
		other(1000, 10, 0.1, 7, StateSucceeded), // succeeded, but no result recorded
		ok(1000, 10, 0.05, 2, 0.85, 0.65, 0.2, 0.5, math.NaN()),
		diverged(1000, 100, 0.1, 2),
		ok(1000, 10, 0.1, 3, 1.0, 0.8, 0.3, 0.3, 9),
	}
}

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= tol
}

func checkStat(t *testing.T, what string, got Stat, mean, std float64, n int) {
	t.Helper()
	if !near(got.Mean, mean) || !near(got.Std, std) || got.N != n {
		t.Errorf("%s = %v ± %v (n=%d), want %v ± %v (n=%d)", what, got.Mean, got.Std, got.N, mean, std, n)
	}
}

func TestSummarize(t *testing.T) {
	rows := Summarize(fixture())
	type want struct {
		n, b                                        int
		lr, g                                       float64
		trials, seeds, diverged, failed, unfinished int
	}
	// Sorted by B, then ε, then N. g = ε(N/B − 1).
	wants := []want{
		{1000, 10, 0.05, 0.05 * 99, 2, 2, 0, 0, 0}, // C: g = 4.95
		{500, 10, 0.1, 0.1 * 49, 1, 1, 0, 0, 0},    // D: g = 4.9
		{1000, 10, 0.1, 0.1 * 99, 7, 3, 1, 2, 1},   // A: g = 9.9
		{1000, 100, 0.1, 0.1 * 9, 2, 0, 2, 0, 0},   // E: g = 0.9
		{1000, 1000, 0.1, 0, 1, 1, 0, 0, 0},        // B: full batch, g = 0
	}
	if len(rows) != len(wants) {
		t.Fatalf("got %d rows, want %d", len(rows), len(wants))
	}
	for i, w := range wants {
		r := rows[i]
		if r.N != w.n || r.BatchSize != w.b || r.LR != w.lr || !near(r.G, w.g) ||
			r.Trials != w.trials || r.Seeds != w.seeds || r.Diverged != w.diverged || r.Failed != w.failed || r.Unfinished != w.unfinished {
			t.Errorf("row %d = %+v, want %+v", i, r, w)
		}
	}

	// A: train acc {0.9, 0.8, 1.0}: mean 0.9, Σ(x−x̄)² = 0.02, std √(0.02/2) = 0.1.
	// test acc {0.7, 0.6, 0.8}: 0.7 ± 0.1. gap {0.2, 0.2, 0.2}: 0.2 ± 0.
	// loss gap {0.4, 0.5, 0.0}: mean 0.3, Σ(x−x̄)² = 0.14, std √0.07.
	// λ₁ {2, 4, 9}: mean 5, Σ(x−x̄)² = 26, std √13.
	// The diverged trial (acc 0.1, NaN loss) would change every mean.
	a := rows[2]
	checkStat(t, "A train_acc", a.TrainAcc, 0.9, 0.1, 3)
	checkStat(t, "A test_acc", a.TestAcc, 0.7, 0.1, 3)
	checkStat(t, "A gap", a.Gap, 0.2, 0, 3)
	checkStat(t, "A train_loss", a.TrainLoss, 0.2, 0.1, 3)
	checkStat(t, "A test_loss", a.TestLoss, 0.5, 0.2, 3)
	checkStat(t, "A loss_gap", a.LossGap, 0.3, math.Sqrt(0.07), 3)
	checkStat(t, "A lambda_max", a.LambdaMax, 5, math.Sqrt(13), 3)

	// C: train acc {0.95, 0.85}: 0.9 ± √(2·0.05²) = 0.05√2; λ₁ {3, NaN}: 3 ± 0 over 1.
	c := rows[0]
	checkStat(t, "C train_acc", c.TrainAcc, 0.9, 0.05*math.Sqrt2, 2)
	checkStat(t, "C lambda_max", c.LambdaMax, 3, 0, 1)

	// B and D: one seed, std 0.
	checkStat(t, "B test_acc", rows[4].TestAcc, 0.45, 0, 1)
	checkStat(t, "D gap", rows[1].Gap, 0.49, 0, 1)

	// E: nothing to average.
	checkStat(t, "E test_acc", rows[3].TestAcc, math.NaN(), math.NaN(), 0)
}

func TestNoiseScale(t *testing.T) {
	for _, c := range []struct {
		lr   float64
		n, b int
		want float64
	}{
		{1, 60000, 1, 59999},
		{0.1, 1000, 10, 9.9},
		{0.5, 1024, 1024, 0},
		{0.2, 1024, 256, 0.6},
		{0.1, 100, 0, math.NaN()},
	} {
		if got := NoiseScale(c.lr, c.n, c.b); !near(got, c.want) {
			t.Errorf("NoiseScale(%v, %d, %d) = %v, want %v", c.lr, c.n, c.b, got, c.want)
		}
	}
}

func TestSummarizeEmpty(t *testing.T) {
	if rows := Summarize(nil); len(rows) != 0 {
		t.Errorf("Summarize(nil) = %v", rows)
	}
	var b bytes.Buffer
	if err := WriteJSON(&b, nil); err != nil || strings.TrimSpace(b.String()) != "[]" {
		t.Errorf("WriteJSON(nil) = %q, %v", b.String(), err)
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, Summarize(fixture())); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("got %d lines, want header + 5:\n%s", len(lines), b.String())
	}
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "N B lr g seeds train_acc test_acc gap lambda_max diverged failed unfinished" {
		t.Errorf("header = %q", lines[0])
	}
	cells := regexp.MustCompile(`\s{2,}`)
	for i, want := range []string{
		"1000|10|0.05|4.95|2|0.9000 ± 0.0707|0.7000 ± 0.0707|0.2000 ± 0.0000|3 ± 0 (n=1)|0|0|0",
		"500|10|0.1|4.9|1|0.9900 ± 0.0000|0.5000 ± 0.0000|0.4900 ± 0.0000|10 ± 0|0|0|0",
		"1000|10|0.1|9.9|3|0.9000 ± 0.1000|0.7000 ± 0.1000|0.2000 ± 0.0000|5 ± 3.606|1|2|1",
		"1000|100|0.1|0.9|0|-|-|-|-|2|0|0",
		"1000|1000|0.1|0|1|0.5000 ± 0.0000|0.4500 ± 0.0000|0.0500 ± 0.0000|0.25 ± 0|0|0|0",
	} {
		if got := strings.Join(cells.Split(strings.TrimSpace(lines[i+1]), -1), "|"); got != want {
			t.Errorf("row %d\n got %s\nwant %s", i, got, want)
		}
	}
	// Columns are aligned: "±" of train_acc at the same rune offset on every row.
	col := -1
	for _, l := range lines[1:] {
		if i := strings.Index(l, "±"); i >= 0 {
			if p := len([]rune(l[:i])); col < 0 {
				col = p
			} else if p != col {
				t.Errorf("misaligned row %q", l)
			}
		}
	}
	t.Logf("\n%s", b.String())
}

func TestWriteCSV(t *testing.T) {
	var b bytes.Buffer
	rows := Summarize(fixture())
	if err := WriteCSV(&b, rows); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := "n,batch_size,lr,g,trials,seeds,diverged,failed,unfinished," +
		"train_acc_mean,train_acc_std,train_acc_n,test_acc_mean,test_acc_std,test_acc_n," +
		"train_loss_mean,train_loss_std,train_loss_n,test_loss_mean,test_loss_std,test_loss_n," +
		"gap_mean,gap_std,gap_n,loss_gap_mean,loss_gap_std,loss_gap_n,lambda_max_mean,lambda_max_std,lambda_max_n"
	if got := strings.Join(recs[0], ","); got != wantHeader {
		t.Errorf("header\n got %s\nwant %s", got, wantHeader)
	}
	if len(recs) != 1+len(rows) {
		t.Fatalf("got %d records, want %d", len(recs), 1+len(rows))
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, c := range []struct {
		row       int
		col, want string
	}{
		{3, "n", "1000"}, {3, "batch_size", "10"}, {3, "lr", "0.1"}, {3, "trials", "7"}, {3, "seeds", "3"},
		{3, "diverged", "1"}, {3, "failed", "2"}, {3, "unfinished", "1"},
		{3, "train_acc_mean", "0.9"}, {3, "lambda_max_mean", "5"}, {3, "lambda_max_n", "3"},
		{4, "train_acc_mean", ""}, {4, "train_acc_std", ""}, {4, "train_acc_n", "0"}, {4, "diverged", "2"},
		{5, "g", "0"}, {5, "test_acc_std", "0"},
	} {
		if got := recs[c.row][col[c.col]]; got != c.want {
			t.Errorf("record %d column %s = %q, want %q", c.row, c.col, got, c.want)
		}
	}
}

func TestWriteJSONRoundTrip(t *testing.T) {
	rows := Summarize(fixture())
	rows = append(rows, Row{N: 1, BatchSize: 0, LR: 0.1, G: NoiseScale(0.1, 1, 0), LambdaMax: Stat{math.Inf(1), 0, 1}})
	var b bytes.Buffer
	if err := WriteJSON(&b, rows); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"train_acc": {`) || !strings.Contains(b.String(), `"mean": null`) {
		t.Errorf("unexpected JSON:\n%s", b.String())
	}
	var back []Row
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	rows[len(rows)-1].LambdaMax.Mean = math.NaN() // ±Inf is written as null, read back as NaN
	// %v prints NaN as "NaN", so equal strings mean equal rows, NaNs included.
	if got, want := fmt.Sprintf("%+v", back), fmt.Sprintf("%+v", rows); got != want {
		t.Errorf("round trip\n got %s\nwant %s", got, want)
	}
}
