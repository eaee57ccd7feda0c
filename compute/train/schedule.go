package train

import (
	"fmt"
	"math"
	"slices"
)

// LRKind selects a learning-rate schedule.
type LRKind int

const (
	// LRConstant keeps ε₀ throughout.
	LRConstant LRKind = iota
	// LRStep multiplies the learning rate by Gamma at every milestone epoch.
	LRStep
	// LRCosine anneals from ε₀ to Floor·ε₀ along half a cosine over the
	// whole budget.
	LRCosine
)

// LRSchedule is a learning-rate schedule; the zero value is constant.
//
// Epochs count from 1 and a milestone M takes effect after M epochs, so with
// milestones [30, 60] epochs 1…30 use ε₀, epochs 31…60 use γε₀ and later
// epochs γ²ε₀ (PyTorch's MultiStepLR stepped once per epoch). The cosine
// schedule is evaluated per update: update t (0-based) of the T updates of the
// budget uses
//
//	ε_t = ε_min + (ε₀ − ε_min)(1 + cos(π t/T))/2,  ε_min = Floor·ε₀,
//
// so the first update uses ε₀ and the learning rate approaches ε_min at the
// end of the budget.
type LRSchedule struct {
	Kind LRKind
	// Milestones are strictly increasing epochs ≥ 1 (LRStep).
	Milestones []int
	// Gamma is the factor applied at each milestone, finite and > 0 (LRStep).
	Gamma float64
	// Floor is the final learning rate as a fraction of ε₀, in [0, 1]
	// (LRCosine).
	Floor float64
}

func (s LRSchedule) validate() error {
	switch s.Kind {
	case LRConstant:
		if len(s.Milestones) > 0 || s.Gamma != 0 || s.Floor != 0 {
			return fmt.Errorf("%w: a constant learning rate takes no milestones, gamma or floor", ErrConfig)
		}
	case LRStep:
		if len(s.Milestones) == 0 || !(s.Gamma > 0) || math.IsInf(s.Gamma, 0) || s.Floor != 0 {
			return fmt.Errorf("%w: a step schedule needs milestones and a finite gamma > 0 (milestones %v, gamma %v)",
				ErrConfig, s.Milestones, s.Gamma)
		}
		return checkMilestones(s.Milestones)
	case LRCosine:
		if len(s.Milestones) > 0 || s.Gamma != 0 || !(s.Floor >= 0 && s.Floor <= 1) {
			return fmt.Errorf("%w: a cosine schedule takes only a floor in [0, 1] (floor %v)", ErrConfig, s.Floor)
		}
	default:
		return fmt.Errorf("%w: unknown learning-rate schedule %d", ErrConfig, s.Kind)
	}
	return nil
}

func checkMilestones(ms []int) error {
	for i, m := range ms {
		if m < 1 || (i > 0 && m <= ms[i-1]) {
			return fmt.Errorf("%w: milestones %v must be strictly increasing epochs ≥ 1", ErrConfig, ms)
		}
	}
	return nil
}

// passed returns the number of milestones before epoch (1-based).
func passed(ms []int, epoch int) int {
	k, _ := slices.BinarySearch(ms, epoch)
	return k
}

// Rate returns the learning rate of update step (0-based, of total updates in
// the budget) taken during epoch (1-based), for the initial rate lr0.
func (s LRSchedule) Rate(lr0 float64, epoch, step, total int) float64 {
	switch s.Kind {
	case LRStep:
		r := lr0
		for range passed(s.Milestones, epoch) {
			r *= s.Gamma
		}
		return r
	case LRCosine:
		lo := s.Floor * lr0
		return lo + (lr0-lo)*(1+math.Cos(math.Pi*float64(step)/float64(max(total, 1))))/2
	}
	return lr0
}

// BatchSchedule grows the batch size during training, as in Smith,
// Kindermans, Ying & Le, "Don't decay the learning rate, increase the batch
// size": after each milestone epoch the batch size is multiplied by Factor.
// The zero value keeps B fixed. Milestones follow the LRSchedule convention:
// with milestones [30, 60] and factor 5, epochs 1…30 use B₀, epochs 31…60 use
// 5B₀ and later epochs 25B₀. A batch size that would exceed N is clamped to N
// (full-batch gradient descent), so every epoch takes at least one step.
type BatchSchedule struct {
	// Milestones are strictly increasing epochs ≥ 1.
	Milestones []int
	// Factor k ≥ 2 multiplies B at each milestone.
	Factor int
}

func (s BatchSchedule) validate() error {
	if len(s.Milestones) == 0 && s.Factor == 0 {
		return nil
	}
	if len(s.Milestones) == 0 || s.Factor < 2 {
		return fmt.Errorf("%w: a batch-size schedule needs milestones and a factor ≥ 2 (milestones %v, factor %d)",
			ErrConfig, s.Milestones, s.Factor)
	}
	return checkMilestones(s.Milestones)
}

// starts returns the epochs at which the batch size may change: 1 and the
// epoch after each milestone.
func (s BatchSchedule) starts() []int {
	out := make([]int, 0, len(s.Milestones)+1)
	out = append(out, 1)
	for _, m := range s.Milestones {
		out = append(out, m+1)
	}
	return out
}

// Size returns the batch size used during epoch (1-based) for the initial
// size b0 and n training examples: b0·Factor^k clamped to n, where k is the
// number of milestones before epoch.
func (s BatchSchedule) Size(b0, n, epoch int) int {
	b := b0
	for range passed(s.Milestones, epoch) {
		if b > n/s.Factor {
			return n
		}
		b *= s.Factor
	}
	return min(b, n)
}
