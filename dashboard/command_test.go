package dashboard

import (
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/coordinator"
	"github.com/flatsweep/flatsweep/coordinator/lease"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// TestCommandTrialPage: a trial page marks a result of an external program,
// says that λ₁ was not measured where it was not, and shows the end of each
// attempt's stored output, escaped.
func TestCommandTrialPage(t *testing.T) {
	srv, c := serve(t, coordinator.Security{})
	core := c.Core()
	w, err := core.Register("w2", 1, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := core.TryAcquire(w)
	if err != nil || l == nil {
		t.Fatalf("acquire: %v %v", l, err)
	}
	res := &pb.TrialResult{TrainAcc: 0.7, TestAcc: 0.6, TrainLoss: 0.4, TestLoss: 0.6, External: true, DurationSeconds: 1,
		Curve: []*pb.EpochMetrics{{Epoch: 1, TrainLoss: 0.4, TrainAcc: 0.7, TestLoss: 0.6, TestAcc: 0.6}}}
	log := &pb.CommandLog{Stdout: []byte("epoch 1 done\n"), Stderr: []byte("warning: <script>x</script>\n"), WorkerId: w}
	if _, err := core.CompleteWithLog(w, lease.Key{Sweep: l.SweepId, Trial: l.TrialId}, l.Token, res, log); err != nil {
		t.Fatal(err)
	}
	code, body, _ := get(t, srv, "/sweeps/s/trials/"+l.TrialId)
	if code != 200 {
		t.Fatalf("trial page: %d\n%s", code, body)
	}
	for _, want := range []string{"an external program (a command trial)", "not measured (no model section, or no weights)",
		"<h2>Output</h2>", "Attempt 1", "epoch 1 done", "warning: &lt;script&gt;x&lt;/script&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("trial page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script>x</script>") {
		t.Error("the program's output reached the page unescaped")
	}
}
