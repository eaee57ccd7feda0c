package main

import (
	"fmt"

	"github.com/flatsweep/flatsweep/compute"
	"github.com/flatsweep/flatsweep/spec"
	"github.com/flatsweep/flatsweep/sweeps"
)

// checkData reads the data sets of a sweep's trials as a worker would
// (compute.CheckDatasets) before the sweep is stored, so that data a worker
// could not train on — a file that is not IDX or CIFAR-10, a data set
// smaller than n + n_test — is bad input now, not a failure of every trial
// later. Synthetic data need no check.
func checkData(s spec.Sweep, source string) error {
	seen := map[string]bool{}
	var dss []spec.Dataset
	sweeps.ForEachTrial(s, func(t *sweeps.Trial) {
		ds := t.Spec.Dataset
		if ds.Name == spec.DatasetSynthetic {
			return
		}
		key := fmt.Sprintf("%s|%d|%d|%s|%s|%s|%s|%s|%s|%v|%v", ds.Name, ds.N, ds.NTest, ds.SHA256, ds.Dir,
			ds.TrainImages, ds.TrainLabels, ds.TestImages, ds.TestLabels, ds.TrainBatches, ds.TestBatches)
		if !seen[key] {
			seen[key] = true
			dss = append(dss, ds)
		}
	})
	if err := compute.CheckDatasets(dss); err != nil {
		return usageError{fmt.Errorf("%s: %w", source, err)}
	}
	return nil
}
