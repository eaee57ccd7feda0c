package spec

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Keskar spaces accepted in KeskarSettings.Space.
const (
	SpaceFull     = "full"
	SpaceSubspace = "subspace"
	SpaceBoth     = "both"
)

// MaxEpsilons is the largest number of Keskar box sizes in one spec.
const MaxEpsilons = 4

// maxSubspaceFloats bounds P·p, the values of Keskar's random matrix (1 GiB).
const maxSubspaceFloats = 1 << 27

// KeskarSettings configures Keskar et al.'s ε-sharpness.
type KeskarSettings struct {
	Epsilons   []float64 `json:"epsilons,omitempty" default:"1e-3,5e-4" range:"(0,inf)" flag:"epsilons" doc:"box sizes ε, distinct, at most 4"`
	Space      string    `json:"space,omitempty" default:"both" enum:"both,full,subspace" doc:"full space (A = I), a random subspace, or both"`
	Subspace   int       `json:"subspace,omitempty" default:"100" range:"[1,1048576]" doc:"dimension p of the random subspace (the default is capped at P)"`
	Iterations int       `json:"iterations,omitempty" default:"10" range:"[1,1048576]" doc:"L-BFGS-B iterations (Keskar et al.: 10)"`
}

var keskarMeasure = Measure{
	Name:    "keskar",
	Summary: "Keskar et al.'s ε-sharpness, in the full space and a random subspace",
	Doc: `Keskar et al. (2017): on the box C_ε = { z : |z_i| ≤ ε(|(A⁺θ)_i| + 1) },
φ(θ, ε, A) = 100·[max_{y ∈ C_ε} L(θ + Ay) − L(θ)] / (1 + L(θ)), with A = I (the
full space, "keskar_full_<ε>") or a random P×p matrix of standard Gaussians
("keskar_sub_<ε>"; the same A, drawn from the trial seed, for every ε). Like
the paper, flatsweep maximizes with iterations (10) iterations of L-BFGS-B
(Byrd, Lu, Nocedal & Zhu 1995: generalized Cauchy point, subspace
minimization, backtracking line search) from y = 0, in the coordinates
y_i/ε(|(A⁺θ)_i| + 1) where the box is a cube, with the initial scaling
θ₀ = √ε_mach·‖g₀‖_∞ (so the first step reaches the vertex that maximizes the
linear model) kept fixed, so that only steps along which L is concave add
curvature to the model. One iteration costs one gradient evaluation when its
first trial step is accepted; the value is a lower bound of the maximum (a
local maximum when the iteration converges). A⁺θ comes from the normal
equations refined once (AᵀA by one rank-p update and its Cholesky factor; the
thin SVD if AᵀA is ill-conditioned).
ε is formatted as 1e-3, 5e-4, 2.5e-3. The random matrix takes P·p·8 bytes;
L-BFGS-B's 10 correction pairs up to 160 bytes per coordinate (P in the full
space, p in the subspace).`,
	Settings: KeskarSettings{},
	Records: func(s any) []string {
		k := s.(KeskarSettings)
		var out []string
		for _, sp := range []string{"full", "sub"} {
			if (sp == "full" && k.Space == SpaceSubspace) || (sp == "sub" && k.Space == SpaceFull) {
				continue
			}
			for _, e := range k.Epsilons {
				out = append(out, "keskar_"+sp+"_"+EpsilonName(e))
			}
		}
		return out
	},
	Invariance:     NotInvariant,
	InvarianceNote: "the box is scaled by |θ_i| + 1, so T_α changes it except where |θ_i| ≫ 1.",
	Check: func(s any, a Architecture) error {
		k := s.(KeskarSettings)
		if len(k.Epsilons) > MaxEpsilons {
			return invalid("epsilons", literal(fmt.Sprint(k.Epsilons)), fmt.Sprintf("at most %d box sizes", MaxEpsilons))
		}
		for i, e := range k.Epsilons {
			if j := slices.Index(k.Epsilons, e); j < i {
				return invalid(fmt.Sprintf("epsilons[%d]", i), e, fmt.Sprintf("duplicate of epsilons[%d]", j))
			}
		}
		p, sub := float64(a.Params), float64(k.Subspace)
		if sub == 0 {
			sub = 100
		}
		switch {
		case k.Subspace != 0 && float64(k.Subspace) > p:
			return invalid("subspace", k.Subspace, fmt.Sprintf("must be ≤ P = %d, the number of parameters", a.Params))
		case k.Space == SpaceFull && k.Subspace != 0:
			return invalid("subspace", k.Subspace, `only with space "subspace" or "both"`)
		case k.Space != SpaceFull && math.Min(p, sub)*p > maxSubspaceFloats:
			return invalid("subspace", k.Subspace, fmt.Sprintf("the random P×p matrix would hold more than %d values (P = %d); use space \"full\" or a smaller p", maxSubspaceFloats, a.Params))
		}
		return nil
	},
}

// EpsilonName formats a Keskar box size for a measure name: the shortest
// decimal mantissa and an exponent without leading zeros, e.g. 1e-3, 5e-4,
// 2.5e-3.
func EpsilonName(eps float64) string {
	s := strconv.FormatFloat(eps, 'e', -1, 64)
	mant, exp, _ := strings.Cut(s, "e")
	sign := ""
	if exp != "" && (exp[0] == '-' || exp[0] == '+') {
		if exp[0] == '-' {
			sign = "-"
		}
		exp = exp[1:]
	}
	exp = strings.TrimLeft(exp, "0")
	if exp == "" {
		return mant
	}
	return mant + "e" + sign + exp
}
