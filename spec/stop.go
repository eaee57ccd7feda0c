package spec

// Stop ends training once the model fits: at the first evaluation (the end
// of an epoch, or of the partial last epoch of a step budget) at which every
// given target holds for the full training set — the mean loss at most
// TrainLoss, the accuracy at least TrainAcc. The budget (epochs or steps)
// caps the run; Result.TargetReached says whether the targets were met and
// Result.Steps how many updates it took. Jiang et al. (2020) train every
// model to a cross-entropy of 0.01 so that measures are compared at equal
// fit: `stop: {train_loss: 0.01}` with a generous budget.
//
// Training that stops early keeps the per-epoch curve up to that epoch; λ₁,
// the measures and the landscape are taken at the parameters it stopped at
// (with SWA, at the mean of the iterates of the epochs from swa.start that
// were run, or at the last iterate when none was). The zero value never
// stops early.
type Stop struct {
	// TrainLoss is the target mean training loss (finite and > 0; 0: none).
	TrainLoss float64 `json:"train_loss,omitempty"`
	// TrainAcc is the target training accuracy (in (0, 1]; 0: none).
	TrainAcc float64 `json:"train_acc,omitempty"`
}

// Enabled reports whether any target is given.
func (s Stop) Enabled() bool { return s != Stop{} }

// validate checks the targets.
func (s Stop) validate() error {
	switch {
	case !finite(s.TrainLoss) || s.TrainLoss < 0:
		return invalid("stop.train_loss", s.TrainLoss, "must be finite and > 0: the target mean training loss, such as 0.01 (leave it out for no loss target)")
	case !finite(s.TrainAcc) || s.TrainAcc < 0 || s.TrainAcc > 1:
		return invalid("stop.train_acc", s.TrainAcc, "must be in (0, 1]: the target training accuracy, such as 0.99 (leave it out for no accuracy target)")
	}
	return nil
}
