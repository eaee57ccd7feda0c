package spec

// FisherRaoSettings configures the Fisher–Rao norm.
type FisherRaoSettings struct {
	ModelLabels   bool `json:"model_labels,omitempty" doc:"labels sampled from the model's softmax (the model Fisher) instead of the data's"`
	IncludeBiases bool `json:"include_biases,omitempty" doc:"keep the biases in the direction θ"`
}

var fisherRaoMeasure = Measure{
	Name:    "fisher_rao",
	Summary: "the squared Fisher–Rao norm of Liang et al.",
	Doc: `The squared Fisher–Rao norm (Liang et al. 2019) ‖θ‖²_fr = θᵀ F θ =
mean_i ⟨θ, ∇_θ ℓ_i⟩², with F the Fisher information over the curvature examples:
the empirical Fisher with the data labels by default, or the model Fisher with
labels sampled from the model's softmax (model_labels; mlp with cross-entropy
only). One gradient per example. The direction θ holds the weights only unless
include_biases ("fisher_rao").`,
	Settings:       FisherRaoSettings{},
	Records:        func(any) []string { return []string{"fisher_rao"} },
	Invariance:     Invariant,
	InvarianceNote: "each layer's ⟨θ_l, ∇_l ℓ⟩ is unchanged by T_α, since θ_l scales by α and its gradient by 1/α.",
	Check: func(s any, a Architecture) error {
		if s.(FisherRaoSettings).ModelLabels && (a.Arch != ArchMLP || a.Loss != LossCE) {
			return invalid("model_labels", true, "needs an mlp with cross-entropy loss")
		}
		return nil
	},
}
