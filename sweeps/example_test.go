package sweeps_test

import (
	"fmt"

	"github.com/flatsweep/flatsweep/sweeps"
)

// Parse reads a sweep file; Expand lists its trials, the last axis varying
// fastest.
func ExampleExpand() {
	s, err := sweeps.Parse([]byte(`name: tiny
dataset: {name: synthetic, n: 256, n_test: 64}
model: {arch: mlp, hidden: [16]}
train: {epochs: 2}
grid: {batch_size: [16, 64], lr: [0.1], seed: [1, 9007199254740993]}
`), "tiny.yaml")
	if err != nil {
		panic(err)
	}
	for _, t := range sweeps.Expand(s) {
		fmt.Println(t.Index, t.Point)
	}
	// Output:
	// 0 batch_size=16 lr=0.1 seed=1
	// 1 batch_size=16 lr=0.1 seed=9007199254740993
	// 2 batch_size=64 lr=0.1 seed=1
	// 3 batch_size=64 lr=0.1 seed=9007199254740993
}

// Errors name the file, the line, the field and the value as written.
func ExampleParse() {
	_, err := sweeps.Parse([]byte(`name: tiny
dataset: {name: synthetic, n: 256, n_test: 64}
model: {arch: mlp, hidden: [16]}
train: {epochs: 2}
grid: {batch_size: [16, 512], lr: [0.1], seed: [1]}
`), "tiny.yaml")
	fmt.Println(err)
	// Output: tiny.yaml:5: grid.batch_size[1] = 512: batch size must be an integer in 1…dataset.n (256)
}
