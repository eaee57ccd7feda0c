package spec

import "fmt"

// RelativeSettings configures Petzka et al.'s relative flatness.
type RelativeSettings struct {
	Layer  int  `json:"layer,omitempty" range:"[0,65536]" flag:"relative-layer" doc:"Dense layer, counted from 1 at the input (0: the last)"`
	Exact  bool `json:"exact,omitempty" doc:"exact value, one product per weight of the layer (instead of Hutchinson)"`
	Budget int  `json:"budget,omitempty" default:"50" range:"[2,1048576]" doc:"Hutchinson products (only without exact)"`
}

var relativeMeasure = Measure{
	Name:    "relative",
	Summary: "Petzka et al.'s relative flatness of one Dense layer",
	Doc: `Relative flatness (Petzka et al. 2021) of a Dense layer with weight rows w_s:
κ = Σ_{s,s'} ⟨w_s, w_{s'}⟩ Tr(H_{s,s'}), where H_{s,s'} is the block of the Hessian
between the rows s and s'. It equals the trace of W Wᵀ-weighted curvature and is
invariant to neuron-wise rescaling. Petzka et al. take the last layer (the
default); layer selects another Dense layer. It is computed exactly with one
product per weight of the layer, or estimated by Hutchinson with budget products
("relative_flatness" and its standard error "relative_flatness_se").`,
	Settings: RelativeSettings{},
	Records: func(s any) []string {
		if s.(RelativeSettings).Exact {
			return []string{"relative_flatness"}
		}
		return []string{"relative_flatness", "relative_flatness_se"}
	},
	Invariance:     Invariant,
	InvarianceNote: "T_α scales the layer's weights by 1/α and its Hessian block by α², which cancel in κ.",
	Fill: func(s any) any {
		r := s.(RelativeSettings)
		if r.Exact {
			r.Budget = 0
		}
		return r
	},
	Check: func(s any, a Architecture) error {
		r := s.(RelativeSettings)
		if n := len(a.DenseLayers()); r.Layer > n {
			return invalid("layer", r.Layer, fmt.Sprintf("must be in [0, %d] (Dense layers counted from 1 at the input; 0: the last)", n))
		}
		if r.Exact && r.Budget != 0 {
			return invalid("budget", r.Budget, "only without exact (the exact value takes one product per weight)")
		}
		return nil
	},
}
