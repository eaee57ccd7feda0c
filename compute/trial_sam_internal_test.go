package compute

import (
	"testing"

	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/compute/train"
	"github.com/flatsweep/flatsweep/spec"
)

// TestTrainConfigSAM: the trial's sam and swa settings reach the training
// configuration, with ASAM's default η filled in.
func TestTrainConfigSAM(t *testing.T) {
	net, err := nn.NewMLP(16, []int{8}, 4, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	ts := spec.Trial{
		Dataset: spec.Dataset{Name: spec.DatasetSynthetic, N: 64, NTest: 16}, Model: spec.Model{Arch: spec.ArchMLP, Hidden: []int{8}},
		BatchSize: 16, LR: 0.1, Epochs: 3,
		Training: spec.Training{SAM: spec.SAM{Rho: 0.5, Adaptive: true, M: 4}, SWA: spec.SWA{Start: 2}},
	}
	for _, c := range []struct {
		eta, want float64
	}{{0, spec.DefaultSAMEta}, {0.2, 0.2}} {
		ts.SAM.Eta = c.eta
		cfg, _, err := trainConfig(ts, net, 16, spec.Image{})
		if err != nil {
			t.Fatal(err)
		}
		if want := (train.SAM{Rho: 0.5, Adaptive: true, Eta: c.want, M: 4}); cfg.SAM != want || cfg.SWA != (train.SWA{Start: 2}) {
			t.Errorf("η %v: SAM %+v, SWA %+v; want %+v", c.eta, cfg.SAM, cfg.SWA, want)
		}
	}
	cfg, _, err := trainConfig(spec.Trial{BatchSize: 16, LR: 0.1, Epochs: 1}, net, 16, spec.Image{})
	if err != nil || cfg.SAM != (train.SAM{}) || cfg.SWA != (train.SWA{}) {
		t.Errorf("plain trial: SAM %+v, SWA %+v, %v", cfg.SAM, cfg.SWA, err)
	}
}
