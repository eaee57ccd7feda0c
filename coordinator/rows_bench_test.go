package coordinator

import (
	"context"
	"slices"
	"testing"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// BenchmarkRowBuild measures building the rows of 10,000 trials (10 B ×
// 10 ε × 100 seeds) once their specs are decoded, the step of the first
// grouped query that does not read the store: "stored" takes each row's
// axis values from the trial's stored values and its base (what the
// coordinator does), "encoded" encodes them from each trial's spec (what
// it did before). Run both side by side:
//
//	go test -run '^$' -bench RowBuild -count 6 ./coordinator/
func BenchmarkRowBuild(b *testing.B) {
	_, c := benchServer(b)
	if _, err := (&sweepServer{c: c}).SubmitSweep(context.Background(), submitRequest(b, benchSweep("rb", 10, 10, 100), "", 0)); err != nil {
		b.Fatal(err)
	}
	var trials []*pb.Trial
	var specs []spec.Trial
	bases := map[string]*baseAxes{}
	if err := c.store.RawTrials("rb", func(t *pb.Trial) bool {
		st, err := c.store.Spec(t)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := bases[t.BaseId]; !ok {
			base, err := c.store.Base(t.BaseId)
			if err != nil {
				b.Fatal(err)
			}
			if bases[t.BaseId], err = newBaseAxes(base, axisNames); err != nil {
				b.Fatal(err)
			}
		}
		trials, specs = append(trials, t), append(specs, st)
		return true
	}); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"stored", "encoded"} {
		b.Run(mode, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				rc := newRowCache(slices.Clone(axisNames))
				for j, t := range trials {
					var ba *baseAxes
					if mode == "stored" {
						ba = bases[t.BaseId]
					}
					if err := rc.add(t, specs[j], ba); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(trials)), "ns/trial")
		})
	}
}
