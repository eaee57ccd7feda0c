package results

import (
	"math"
	"strconv"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// ToProto converts groups into an AggregateResultsResponse.
func (g Groups) ToProto() *pb.AggregateResultsResponse {
	out := &pb.AggregateResultsResponse{GroupBy: g.By, Metrics: g.Metrics, Fixed: g.Fixed,
		Groups: make([]*pb.ResultGroup, len(g.Groups)), Failures: FailuresToProto(g.Failures), ExternalTrials: int32(g.External)}
	for i, gr := range g.Groups {
		pg := &pb.ResultGroup{KeyJson: gr.Key, Key: make([]float64, len(gr.Key)), NoiseScale: gr.NoiseScale,
			Trials: int32(gr.Counts.Trials), Succeeded: int32(gr.Counts.OK + gr.Counts.Diverged + gr.Counts.NotFitted),
			Diverged: int32(gr.Counts.Diverged), NotFitted: int32(gr.Counts.NotFitted), Failed: int32(gr.Counts.Failed), Unfinished: int32(gr.Counts.Unfinished),
			Metrics: make([]*pb.MetricSummary, len(gr.Metrics))}
		for j, k := range gr.Key {
			pg.Key[j] = number(k)
		}
		for j, s := range gr.Metrics {
			pg.Metrics[j] = &pb.MetricSummary{Count: int32(s.Count), Mean: s.Mean, Std: s.Std, Min: s.Min, Max: s.Max,
				Ci95Low: s.Lo, Ci95High: s.Hi}
		}
		out.Groups[i] = pg
	}
	return out
}

// GroupsFromProto converts an AggregateResultsResponse back.
func GroupsFromProto(r *pb.AggregateResultsResponse) Groups {
	out := Groups{By: r.GroupBy, Metrics: r.Metrics, Fixed: r.Fixed, Groups: make([]Group, len(r.Groups)), External: int(r.ExternalTrials)}
	if len(r.Failures) > 0 {
		out.Failures = FailuresFromProto(r.Failures)
	}
	for i, pg := range r.Groups {
		g := Group{Key: pg.KeyJson, NoiseScale: pg.NoiseScale, Metrics: make([]Summary, len(pg.Metrics)),
			Counts: Counts{Trials: int(pg.Trials), OK: int(pg.Succeeded - pg.Diverged - pg.NotFitted), Diverged: int(pg.Diverged), NotFitted: int(pg.NotFitted),
				Failed: int(pg.Failed), Unfinished: int(pg.Unfinished)}}
		if len(g.Key) == 0 && len(pg.Key) > 0 {
			for _, k := range pg.Key {
				g.Key = append(g.Key, strconv.FormatFloat(k, 'g', -1, 64))
			}
		}
		for j, m := range pg.Metrics {
			g.Metrics[j] = Summary{Count: int(m.Count), Mean: m.Mean, Std: m.Std, Min: m.Min, Max: m.Max, Lo: m.Ci95Low, Hi: m.Ci95High}
			if m.Count == 0 {
				g.Metrics[j] = Describe(nil)
			}
		}
		out.Groups[i] = g
	}
	return out
}

// ToProto converts a filter (its Exclude is carried by the list it goes
// in: AggregateResultsRequest.filters or .exclude).
func (f Filter) ToProto() *pb.AxisFilter {
	pf := &pb.AxisFilter{Axis: f.Axis, ValueJson: f.Values}
	for _, v := range f.Values {
		pf.Values = append(pf.Values, number(v))
	}
	return pf
}

// ExcludeFromProto converts a filter of AggregateResultsRequest.exclude
// back, as FilterFromProto does, into an excluding Filter.
func ExcludeFromProto(pf *pb.AxisFilter) (Filter, error) {
	f, err := FilterFromProto(pf)
	f.Exclude = true
	return f, err
}

// FilterFromProto converts a filter back, taking its numbers when it has no
// exact values (older clients); values are put in the canonical form of the
// axis's field.
func FilterFromProto(pf *pb.AxisFilter) (Filter, error) {
	vals := pf.ValueJson
	if len(vals) == 0 {
		for _, x := range pf.Values {
			vals = append(vals, strconv.FormatFloat(x, 'g', -1, 64))
		}
	}
	s := pf.Axis + "="
	for i, v := range vals {
		if i > 0 {
			s += ","
		}
		s += v
	}
	return ParseFilter(s)
}

// number returns the value of a JSON number, NaN for anything else.
func number(js string) float64 {
	x, err := strconv.ParseFloat(js, 64)
	if err != nil {
		return math.NaN()
	}
	return x
}
