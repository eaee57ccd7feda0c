package compute_test

import (
	"context"
	"math/bits"
	"testing"

	"github.com/flatsweep/flatsweep/compute"
	"github.com/flatsweep/flatsweep/spec"
)

// TestResultTestCorrect: a trial records which test examples its final
// model classifies correctly, and the bits add up to its test accuracy
// exactly, for networks evaluated in different ways (plain, with weight
// decay, with batch normalization and dropout, with squared error); with a
// different seed the model errs on other examples. A diverged run records
// none.
func TestResultTestCorrect(t *testing.T) {
	plain := smallSpec()
	decay := smallSpec()
	decay.WeightDecay = 1e-3
	bn := smallSpec()
	bn.Model.BatchNorm, bn.Model.Dropout = true, 0.2
	mse := smallSpec()
	mse.Model.Loss = "mse"
	reseeded := smallSpec()
	reseeded.Seed = 12
	var first []byte
	for _, c := range []struct {
		name string
		t    spec.Trial
	}{{"plain", plain}, {"weight decay", decay}, {"batch norm and dropout", bn}, {"mse", mse}, {"another seed", reseeded}} {
		res, err := compute.RunTrial(context.Background(), c.t, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		n := c.t.Dataset.NTest
		if res.TestExamples != n || len(res.TestCorrect) != (n+7)/8 {
			t.Fatalf("%s: %d examples in %d bytes, want %d", c.name, res.TestExamples, len(res.TestCorrect), n)
		}
		count := 0
		for i, b := range res.TestCorrect {
			count += bits.OnesCount8(b)
			if res.TestCorrectAt(8*i) != (b&1 != 0) {
				t.Fatalf("%s: TestCorrectAt(%d) disagrees with the bits", c.name, 8*i)
			}
		}
		if got := float64(count) / float64(n); got != res.TestAcc || res.TestAcc == 0 || res.TestAcc == 1 {
			t.Errorf("%s: %d of %d correct = %v, test accuracy %v", c.name, count, n, got, res.TestAcc)
		}
		switch c.name {
		case "plain":
			first = res.TestCorrect
		case "another seed":
			if string(first) == string(res.TestCorrect) {
				t.Errorf("seeds 11 and 12 err on the same test examples")
			}
		}
	}
	div := smallSpec()
	div.LR = 1e200
	res, err := compute.RunTrial(context.Background(), div, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Diverged || res.TestCorrect != nil || res.TestExamples != 0 {
		t.Errorf("diverged %v with %d test bits", res.Diverged, res.TestExamples)
	}
}
