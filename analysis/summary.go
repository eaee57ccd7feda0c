package analysis

import (
	"cmp"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"

	"github.com/flatsweep/flatsweep/compute"
)

// Trial states, as recorded by the coordinator. Any state other than these
// counts as unfinished.
const (
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
	StateDiscarded = "discarded"
	StateCancelled = "cancelled"
)

// Record is a trial of a sweep as stored: its spec, its state and, once it has
// succeeded, its result.
type Record struct {
	// TrialID identifies the trial (sweeps.TrialID of Spec).
	TrialID string
	// Spec is the trial's spec.
	Spec compute.TrialSpec
	// State is the trial's state: "succeeded", "failed", "pending", ….
	State string
	// Result is the trial's outcome, nil unless State is "succeeded".
	Result *compute.Result
}

// Stat is the mean and sample standard deviation of a measure over the N
// trials of a grid point for which it is finite:
//
//	Mean = (1/N) Σ xᵢ,   Std = sqrt( Σ (xᵢ − Mean)² / (N − 1) ).
//
// Std is 0 when N = 1; Mean and Std are NaN when N = 0.
type Stat struct {
	// Mean is the sample mean.
	Mean float64
	// Std is the sample standard deviation (n − 1 denominator).
	Std float64
	// N is the number of finite values summarized.
	N int
}

// newStat summarizes the finite values of xs.
func newStat(xs []float64) Stat {
	finite := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			finite = append(finite, x)
		}
	}
	switch len(finite) {
	case 0:
		return Stat{Mean: math.NaN(), Std: math.NaN()}
	case 1:
		return Stat{Mean: finite[0], N: 1}
	}
	mean, std := stat.MeanStdDev(finite, nil)
	return Stat{Mean: mean, Std: std, N: len(finite)}
}

// Row summarizes the trials of one grid point (N, B, ε) over its seeds. The
// measures average the trials that succeeded without diverging (Seeds of
// them); each Stat.N may be smaller than Seeds when a measure was not finite.
type Row struct {
	// N is the number of training examples.
	N int `json:"n"`
	// BatchSize is the minibatch size B.
	BatchSize int `json:"batch_size"`
	// LR is the learning rate ε.
	LR float64 `json:"lr"`
	// G is the SGD noise scale g = ε(N/B − 1) (see NoiseScale).
	G float64 `json:"g"`
	// Trials is the number of records at this grid point, in every state.
	Trials int `json:"trials"`
	// Seeds is the number of trials that succeeded without diverging: the
	// trials the means are taken over.
	Seeds int `json:"seeds"`
	// Diverged counts trials whose training loss became NaN or ±Inf. They are
	// excluded from the means.
	Diverged int `json:"diverged"`
	// Failed counts trials that ended without a result: failed, discarded or
	// cancelled, or succeeded with no result recorded.
	Failed int `json:"failed"`
	// Unfinished counts trials not yet finished (pending, running, or any other
	// state).
	Unfinished int `json:"unfinished"`
	// TrainAcc is the final accuracy on the training set.
	TrainAcc Stat `json:"train_acc"`
	// TestAcc is the final accuracy on the test set.
	TestAcc Stat `json:"test_acc"`
	// TrainLoss is the final loss on the training set.
	TrainLoss Stat `json:"train_loss"`
	// TestLoss is the final loss on the test set.
	TestLoss Stat `json:"test_loss"`
	// Gap is the generalization gap in accuracy, train_acc − test_acc, taken per
	// trial and then averaged.
	Gap Stat `json:"gap"`
	// LossGap is the generalization gap in loss, test_loss − train_loss, taken
	// per trial and then averaged (positive when the model fits the training set
	// better than the test set, like Gap).
	LossGap Stat `json:"loss_gap"`
	// LambdaMax is the top Hessian eigenvalue λ₁ of the training loss.
	LambdaMax Stat `json:"lambda_max"`
}

// NoiseScale returns the SGD noise scale of Smith & Le (2018, arXiv 1710.06451)
// for learning rate ε, training set size N and batch size B:
//
//	g = ε (N/B − 1) ≈ εN/B  (B ≪ N).
//
// g is 0 for full-batch gradient descent (B = N). It returns NaN for B ≤ 0.
func NoiseScale(lr float64, n, b int) float64 {
	if b <= 0 {
		return math.NaN()
	}
	return lr * (float64(n)/float64(b) - 1)
}

// key is a grid point.
type key struct {
	n, b int
	lr   float64
}

// Summarize groups records by grid point (N, B, ε), whatever their seeds, and
// returns one Row per point sorted by B, then ε, then N. Records are expected to
// come from one sweep: settings other than N, B, ε and the seed are assumed
// equal across records and are not compared. Each record counts once, so a
// trial must not be passed twice.
func Summarize(records []Record) []Row {
	groups := map[key][]Record{}
	for _, r := range records {
		k := key{r.Spec.Dataset.N, r.Spec.BatchSize, r.Spec.LR}
		groups[k] = append(groups[k], r)
	}
	rows := make([]Row, 0, len(groups))
	for k, rs := range groups {
		rows = append(rows, summarize(k, rs))
	}
	slices.SortFunc(rows, func(a, b Row) int {
		return cmp.Or(cmp.Compare(a.BatchSize, b.BatchSize), cmp.Compare(a.LR, b.LR), cmp.Compare(a.N, b.N))
	})
	return rows
}

// summarize builds the row of one grid point.
func summarize(k key, rs []Record) Row {
	row := Row{N: k.n, BatchSize: k.b, LR: k.lr, G: NoiseScale(k.lr, k.n, k.b), Trials: len(rs)}
	var trainAcc, testAcc, trainLoss, testLoss, gap, lossGap, lambda []float64
	for _, r := range rs {
		switch {
		case r.Result != nil && r.Result.Diverged:
			row.Diverged++
			continue
		case r.State == StateSucceeded && r.Result != nil:
		case r.State == StateSucceeded, r.State == StateFailed, r.State == StateDiscarded, r.State == StateCancelled:
			row.Failed++
			continue
		default:
			row.Unfinished++
			continue
		}
		res := r.Result
		row.Seeds++
		trainAcc = append(trainAcc, res.TrainAcc)
		testAcc = append(testAcc, res.TestAcc)
		trainLoss = append(trainLoss, res.TrainLoss)
		testLoss = append(testLoss, res.TestLoss)
		gap = append(gap, res.TrainAcc-res.TestAcc)
		lossGap = append(lossGap, res.TestLoss-res.TrainLoss)
		lambda = append(lambda, res.LambdaMax)
	}
	row.TrainAcc, row.TestAcc = newStat(trainAcc), newStat(testAcc)
	row.TrainLoss, row.TestLoss = newStat(trainLoss), newStat(testLoss)
	row.Gap, row.LossGap = newStat(gap), newStat(lossGap)
	row.LambdaMax = newStat(lambda)
	return row
}
