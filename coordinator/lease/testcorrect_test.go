package lease

import (
	"errors"
	"strings"
	"testing"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// TestValidateTestCorrect: per-example test bits are accepted only when
// they are well formed and add up to the result's test accuracy.
func TestValidateTestCorrect(t *testing.T) {
	lim := Limits{}
	lim.setDefaults()
	// 10 examples, 7 correct: bits 0–6 set.
	ok := func() *pb.TrialResult {
		return &pb.TrialResult{TestAcc: 0.7, TestLoss: 0.5, TestCorrect: []byte{0x7f, 0x00}, TestExamples: 10}
	}
	if err := lim.ValidateResult(ok()); err != nil {
		t.Fatalf("a consistent result: %v", err)
	}
	if err := lim.ValidateResult(&pb.TrialResult{TestAcc: 0.7}); err != nil {
		t.Fatalf("a result without bits: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(*pb.TrialResult)
		want string
	}{
		{"accuracy contradicted", func(r *pb.TrialResult) { r.TestAcc = 0.8 }, "contradicts test_acc"},
		{"bits without a count", func(r *pb.TrialResult) { r.TestExamples = 0 }, "test_examples"},
		{"count without bits", func(r *pb.TrialResult) { r.TestCorrect = nil }, "0 bytes for 10"},
		{"too few bytes", func(r *pb.TrialResult) { r.TestCorrect = r.TestCorrect[:1] }, "1 bytes for 10"},
		{"padding bits set", func(r *pb.TrialResult) { r.TestCorrect[1] = 0x04; r.TestCorrect[0] = 0x3f }, "beyond the 10"},
		{"negative count", func(r *pb.TrialResult) { r.TestExamples = -3 }, "test_examples"},
		{"huge count", func(r *pb.TrialResult) { r.TestExamples = 1 << 40 }, "test_examples"},
	} {
		r := ok()
		c.edit(r)
		err := lim.ValidateResult(r)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want ErrInvalid saying %q", c.name, err, c.want)
		}
	}
}
