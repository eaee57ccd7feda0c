// Package docgen writes the parts of the project's documentation that come
// from the code: docs/MEASURES.md, the reference of every curvature and
// flatness measure, from the registry of package spec. Its test fails when
// the committed file differs from what the registry gives; run
//
//	go test ./internal/docgen -update
//
// (or make docs) to rewrite it.
package docgen

import (
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/flatsweep/flatsweep/spec"
)

// Measures writes docs/MEASURES.md: what every trial measures, the settings
// of every measure with their defaults and flags, the scalars each records
// and its behaviour under Dinh's α-scaling.
func Measures(w io.Writer) error {
	var b strings.Builder
	b.WriteString(`# Curvature and flatness measures

This file is generated from the measure registry (package spec) by
` + "`go test ./internal/docgen -update`" + `; do not edit it by hand.

Every trial measures, at the end of training, the top eigenvalue λ₁ of the
Hessian H = ∇²L(θ) of the mean training loss L(θ) = (1/M) Σᵢ ℓ(xᵢ, yᵢ; θ) over
its M curvature examples (` + "`curvature.examples`" + `, the whole training set by
default, or a subset drawn from the trial seed), without the weight-decay
penalty: Lanczos on exact Hessian-vector products (Pearlmutter's R-operator),
at most ` + "`curvature.lanczos_steps`" + ` steps (default 20) until the residual
‖Hv − λ₁v‖ ≤ tol·|λ₁| (` + "`curvature.tol`" + `, default 1e-3), the final residual
verified with one more product. It is recorded as ` + "`lambda_max`" + ` with its
residual, whether it converged and the products used. With ` + "`top_k`" + `
selected, λ₁ comes from top_k's run instead (one Lanczos run serves λ₁, the
top K and the most negative eigenvalues; see below), so that a trial reports
one λ₁, equal to ` + "`lambda_1`" + `, and its residual is that run's Lanczos
residual |β_j e_jᵀ s| (equal to ‖Hv − λ₁v‖ to rounding under full
reorthogonalization), which costs no product.

Every result accounts for its cost: ` + "`costs`" + ` lists, for the Hessian's
set-up (` + "`hessian`" + `), λ₁'s own run (` + "`lambda_max`" + `, without top_k), every
measure and the landscape, the Hessian-vector products, full-batch gradients
and loss evaluations it applied, its seconds and the relative residuals of
its iterative solves; ` + "`train_seconds`" + ` and ` + "`curvature_seconds`" + ` split the
trial's time. ` + "`flatsweep hessian`" + ` prints the same cost table, and
` + "`flatsweep results SWEEP --costs`" + ` sums it over a sweep (also in
` + "`flatsweep report`" + `, "Where the time went", and as the ` + "`train_seconds`" + `,
` + "`curvature_seconds`" + `, ` + "`curvature_hvps`" + ` and ` + "`seconds_<name>`" + ` columns of
` + "`flatsweep export`" + `).

The measures below are selected with ` + "`curvature.measures`" + ` and configured by a
block named after the measure; a setting left out takes its default, and a
setting written with its default value does not change the trial's identity.
Each measure draws its random numbers from its own generator seeded with the
trial seed, so its value does not depend on which other measures are
selected (λ₁ excepted: with top_k it is top_k's first value, which agrees
with λ₁'s own run to the tolerance; and trace with method krylov, which
deflates by the basis of that same run, so that its estimate, unbiased
either way, depends on whether top_k is selected). ` + "`flatsweep hessian`" + ` takes the same measures on one saved model, with
one flag per setting (given below).

`)
	b.WriteString("| measure | what it is | under Dinh's α-scaling |\n| --- | --- | --- |\n")
	for _, m := range spec.Registry() {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s |\n", m.Name, anchor(m.Name), cell(m.Summary), m.Invariance)
	}
	for _, m := range spec.Registry() {
		fmt.Fprintf(&b, "\n## %s\n\n%s.\n\n%s\n\n", m.Name, capitalize(m.Summary), oneParagraph(m.Doc))
		fields := m.Fields()
		if len(fields) > 0 {
			b.WriteString("| setting | default | allowed | flag | meaning |\n| --- | --- | --- | --- | --- |\n")
			for _, f := range fields {
				def := f.Default
				if def == "" {
					def = zeroText(f.Kind)
				}
				allowed := f.Range
				if len(f.Enum) > 0 {
					allowed = strings.Join(f.Enum, ", ")
				}
				if f.Kind == reflect.Bool {
					allowed = "true, false"
				}
				fmt.Fprintf(&b, "| `%s` | %s | %s | `--%s` | %s |\n", f.Name, def, allowed, f.Flag, cell(f.Doc))
			}
			b.WriteString("\n")
		}
		recs := m.Records(m.WithDefaults(m.Settings))
		if len(recs) > 0 {
			fmt.Fprintf(&b, "Records (with the default settings): %s.\n\n", codeList(recs))
		} else {
			b.WriteString("Records no scalar.\n\n")
		}
		fmt.Fprintf(&b, "Under Dinh's α-scaling: %s — %s\n", m.Invariance, m.InvarianceNote)
	}
	b.WriteString(dinhSection)
	b.WriteString(landscapeSection)
	b.WriteString(normSection)
	_, err := io.WriteString(w, b.String())
	return err
}

const dinhSection = `
## Dinh's check (curvature.dinh)

Dinh et al. (2017) showed that sharpness alone cannot explain generalization:
for consecutive ReLU layers the α-scale transformation
T_α: W₁ ← αW₁, b₁ ← αb₁, W₂ ← W₂/α leaves the network's function unchanged while
the Hessian becomes D⁻¹HD⁻¹ (the first layer's block scaled by α⁻², the
second's by α²), so λ₁, the trace and ε-sharpness can be made as large or as
small as wanted for the same function. With ` + "`curvature.dinh: {alpha: 10, layer: 0}`" + `
every trial also applies T_α to Dense–ReLU–Dense pair number ` + "`layer`" + ` (from 0 at
the input), records the relative change of its outputs as
` + "`dinh_output_change`" + ` (0 up to rounding) and takes λ₁ and every selected measure
again at T_α θ with the same seeds, as ` + "`lambda_max@dinh`" + `, ` + "`trace@dinh`" + `, …. A
measure is reparametrization-aware when its value does not change; ` + "`flatsweep\nanalyze`" + ` compares the two across the sweep. The spectral density is not
redone.
`

const landscapeSection = `
## Loss landscape (curvature.landscape)

With ` + "`curvature.landscape: {dims: 2}`" + ` every trial also records, after the measures
(and not for a diverged run), the mean loss and the accuracy on a training and
a test subset at θ + a·d₁ (` + "`dims: 1`" + `) or θ + a·d₁ + b·d₂ (` + "`dims: 2`" + `) for a and b on
an equally spaced grid over [−extent, extent], with d₁ and d₂ Li et al.'s
filter-normalized random directions drawn from the trial seed (docs/SCIENCE.md,
section 9, defines them). It is stored as the result's ` + "`landscape`" + `: the grid ` + "`a`" + `
(and ` + "`b`" + `), ` + "`train_loss`" + `, ` + "`train_acc`" + `, ` + "`test_loss`" + ` and ` + "`test_acc`" + ` row-major with a
fastest (entry j·len(a) + i is (a[i], b[j])), the numbers of examples and the
evaluations (grid points). ` + "`flatsweep landscape`" + ` takes the same slices of one saved
model, and the line between two models, with one flag per setting.

| setting | default | allowed | flag | meaning |
| --- | --- | --- | --- | --- |
| ` + "`dims`" + ` | required | 1, 2 | ` + "`--dims`" + ` | a line along d₁, or the plane of d₁ and d₂ |
| ` + "`points`" + ` | 51 (dims 1), 21 (dims 2) | 2…201 | ` + "`--points`" + ` | grid values per axis (a 2-D grid has points² evaluations) |
| ` + "`extent`" + ` | 1 | > 0, finite | ` + "`--extent`" + ` | the grid spans [−extent, extent]; at ±1 each filter of the perturbation is as long as θ's |
| ` + "`examples`" + ` | 1000 | 1…dataset.n | ` + "`--examples`" + ` | training examples (a fixed subset drawn from the seed; the whole set when smaller) |
| ` + "`test_examples`" + ` | 1000 | 1…dataset.n_test | ` + "`--test-examples`" + ` | test examples, likewise |
| ` + "`bias`" + ` | zero | zero, normalize | ` + "`--bias`" + ` | the directions' biases: 0, or each layer's bias vector rescaled as one filter |

A setting written with its default value does not change the trial's identity;
a setting written as 0 (which would mean the default) is an error, and so is a
grid of zero or negative extent. Each grid point costs one forward pass over
both subsets; the first layer's products are shared by all points
(docs/BENCHMARKS.md gives the cost).
`

const normSection = `
## Batch normalization and dropout

With ` + "`model: {arch: mlp, hidden: [512, 512], batchnorm: true, dropout: 0.5}`" + ` every
hidden layer is Dense → BatchNorm → activation → Dropout and, for cnn, every
convolution stage Conv → BatchNorm → activation → MaxPool (dropout only in the dense
classifier, as in AlexNet and VGG); a resmlp's stem is Dense → BatchNorm → activation →
Dropout and each block a + (Dense → BatchNorm → activation → Dropout → Dense)(a).
These are PyTorch's BatchNorm1d/BatchNorm2d (ε = 1e-5, momentum 0.1) and inverted
Dropout(p), as in Keskar et al.'s and Yao et al.'s networks.

Training uses training mode: batch normalization normalizes each channel by the
batch's mean and biased variance and updates the running statistics
(μ ← 0.9μ + 0.1μ_B, σ² ← 0.9σ² + 0.1·σ²_B·m/(m − 1), the unbiased batch variance over
its m values); dropout zeroes each hidden unit with probability p and scales the others
by 1/(1 − p), with masks drawn from the trial seed and the update, so a trial is
bit-for-bit reproducible. Everything measured is in **evaluation mode** with the
running statistics at that point, as PyHessian and PyTorch's ` + "`model.eval()`" + ` do: the
per-epoch and final training and test metrics, λ₁, every measure above, the loss
landscape and ` + "`curvature.track`" + `. In evaluation mode batch normalization is a fixed
affine map per channel, y = γ(x − μ)/√(σ² + ε) + β, and dropout the identity, so the
loss is a deterministic function of θ and the Hessian-vector products are exact (the
R-operator through that map). The learnable γ and β are parameters, part of θ, of the
Hessian and of P; the running statistics are buffers, not parameters, fixed while
measuring. The landscape's directions leave γ and β at zero with ` + "`bias: zero`" + `, as
Li et al. do. Dinh's check needs a Dense–ReLU–Dense pair, which these networks do not
have.

With ` + "`train.swa`" + ` the statistics of the iterates do not fit the averaged parameters, so
they are recomputed there as PyTorch's ` + "`update_bn`" + ` does: one training-mode pass over the
training set (consecutive batches of the last batch size) averaging the batch
statistics. With SAM both gradients of an update use the same dropout masks and only
the first updates the statistics. Batch normalization needs ` + "`batch_size`" + ` ≥ 2.

Weight files hold the statistics under PyTorch's state_dict names (` + "`<i>.running_mean`" + `,
` + "`<i>.running_var`" + `, ` + "`<i>.num_batches_tracked`" + ` as int64), and ` + "`flatsweep hessian`" + ` and
` + "`flatsweep landscape`" + ` measure a saved model with its saved statistics (a line between two
such models, ` + "`--to`" + `, is refused: each has its own statistics).
`

// anchor is the Markdown heading anchor of a measure's section.
func anchor(name string) string { return name }

// cell escapes the pipes of a table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// oneParagraph joins the lines of a doc text.
func oneParagraph(s string) string { return strings.Join(strings.Fields(s), " ") }

func zeroText(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "false"
	case reflect.String:
		return `""`
	}
	return "0"
}

func codeList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		if x == "…" {
			q[i] = "…"
			continue
		}
		q[i] = "`" + x + "`"
	}
	return strings.Join(q, ", ")
}
