package compute

import (
	"github.com/flatsweep/flatsweep/compute/data"
	"github.com/flatsweep/flatsweep/spec"
)

// LoadDatasets returns the training and test sets of ds exactly as a trial
// trains and tests on them (generated, or read from its files and checked
// against its digest, subsampled and standardized), for programs outside
// flatsweep that should see the same examples (command trials with
// command.data).
func LoadDatasets(ds spec.Dataset) (trainSet, testSet data.Set, err error) {
	trainSet, testSet, _, err = loadData(ds)
	return trainSet, testSet, err
}
