// Package nn implements feed-forward networks whose parameters live in one flat
// vector θ ∈ R^P, with batched forward passes, backpropagation and exact
// Hessian-vector products by Pearlmutter's R-operator.
//
// # Parameter layout
//
// A Network is a stack of Layers followed by a LossFunc. Layer l owns the
// contiguous sub-slice θ[off_l : off_l+NumParams_l], in layer order. A Dense
// layer with fan-in d and fan-out k stores its weight matrix W (k×d, row-major,
// PyTorch convention: W[j*d+i] connects input i to output j) first and its bias
// b (k) right after it, so for an MLP d₀-h₁-…-h_L the layout is
//
//	θ = [ W₁ (h₁×d₀) | b₁ (h₁) | W₂ (h₂×h₁) | b₂ (h₂) | … ]
//
// Activation layers (ReLU, Tanh) own no parameters. Gradients and
// Hessian-vector products are flat vectors with the same layout.
//
// # Batches
//
// A batch of n examples is a row-major n×d matrix X (row i is example i) and n
// integer labels. Every layer works on whole batches through BLAS level-3 calls
// (gonum's blas64 Dgemm on row-major matrices, backed by pure-Go gonum or, with
// the build tag openblas, by OpenBLAS; see package compute/blas). The loss of
// a batch is the mean of the per-example losses, L = (1/n) Σᵢ ℓᵢ, so gradients
// and Hessian-vector products are per-example averages too. The Dataset*
// methods of Workspace evaluate the same averages over any number of examples
// in fixed-size chunks, summing the chunk contributions in a fixed order
// (results do not depend on scheduling).
//
// # Backpropagation
//
// Write the network as boundaries a₀ = X, a_{j+1} = f_j(a_j; θ_j) and the loss
// L = (s) Σᵢ ℓ(a_last,i, yᵢ) with s = 1/n. The backward pass propagates
// D_j = ∂L/∂a_j from D_last = s·∂ℓ/∂z down the stack:
//
//	D_j = J_{f_j,a}ᵀ D_{j+1},  ∇_{θ_j} L = J_{f_j,θ}ᵀ D_{j+1}.
//
// For a Dense layer Z = A Wᵀ + 1 bᵀ this is D_A = D_Z W, ∇W = D_Zᵀ A,
// ∇b = 1ᵀ D_Z.
//
// # Hessian-vector products (R-operator)
//
// For a direction v (same layout as θ) the R-operator R{g} = d/dt g(θ + t v)|₀
// applied to the forward and backward passes gives Hv = R{∇L} exactly (to
// rounding), at the cost of about two extra passes (forward-over-reverse):
//
//	R-forward:  R{a₀} = 0,  R{a_{j+1}} = J_{f_j,a} R{a_j} + J_{f_j,θ} v_j
//	output:     R{D_last} = s·(∇²_z ℓ) R{z}
//	R-backward: R{D_j} = J_{f_j,a}ᵀ R{D_{j+1}} + R{J_{f_j,a}}ᵀ D_{j+1}
//	            (Hv)_j  = J_{f_j,θ}ᵀ R{D_{j+1}} + R{J_{f_j,θ}}ᵀ D_{j+1}
//
// Dense (Z = A Wᵀ + 1 bᵀ, direction (V, c)):
//
//	R{Z} = R{A} Wᵀ + A Vᵀ + 1 cᵀ
//	R{D_A} = R{D_Z} W + D_Z V
//	(Hv)_W = R{D_Z}ᵀ A + D_Zᵀ R{A},  (Hv)_b = 1ᵀ R{D_Z}
//
// ReLU (Y = max(A, 0)): R{Y} = 1[A>0] ⊙ R{A} and R{D_A} = 1[A>0] ⊙ R{D_Y};
// the second derivative of ReLU is zero almost everywhere, so there is no
// curvature term (the kink A = 0 is a null set; we take relu'(0) = 0).
//
// Tanh (Y = tanh A): R{Y} = (1−Y²) ⊙ R{A} and
// R{D_A} = (1−Y²) ⊙ R{D_Y} − 2 Y ⊙ D_Y ⊙ R{Y}.
//
// Softmax cross-entropy (p = softmax(z), ℓ = log Σ_c e^{z_c} − z_y):
// ∂ℓ/∂z = p − e_y and ∇²_z ℓ = diag(p) − p pᵀ, so
// R{D_z} = s·(p ⊙ R{z} − p (pᵀ R{z})) row by row.
//
// Mean squared error (ℓ = ½‖z − e_y‖², one-hot target): ∂ℓ/∂z = z − e_y,
// ∇²_z ℓ = I, so R{D_z} = s·R{z}.
//
// Residual (Y = A + g(A), g a chain of layers): the identity branch adds
// R{Y} = R{A} + R{g}, D_A = D_Y + J_gᵀ D_Y and R{D_A} = R{D_Y} + R{J_gᵀ D_Y},
// with no second-order term of its own.
//
// Conv2D (per example Z = W im2col(A) + b 1ᵀ) obeys the Dense recurrences with
// A replaced by im2col(A) and the input gradient mapped back by col2im, the
// adjoint of im2col; MaxPool2D routes D, R{A} and R{D} through the argmax of
// each window, like its gradient, with no curvature term. See the types for
// the exact formulas.
//
// # Composite layers and scratch memory
//
// A Network holds no mutable state. Layers that need memory besides their
// boundaries declare it: a Composite layer (Residual) lists its sub-layers and
// the Workspace allocates a full boundary for each in Buf.Sub; a Scratcher
// (Conv2D) asks for temporary floats in Buf.S. Both live in the layer's output
// Buf, so every method stays allocation-free after NewWorkspace.
//
// # Image layout
//
// Image models (NewCNN, Conv2D, MaxPool2D) take each example as one row of X in
// NCHW order flattened: channel-major, then row, then column, i.e. pixel
// (c, y, x) of a C×H×W image at column (c·H + y)·W + x. Inner boundaries keep
// that layout, so the first Dense layer after the last pool sees the
// channel-major flattening, as PyTorch's flatten does.
//
// # Gauss–Newton products
//
// The generalized Gauss–Newton matrix G = s Σᵢ J_iᵀ (∇²_z ℓᵢ) J_i (J_i the
// Jacobian of example i's output with respect to θ) drops from the Hessian the
// terms Σ_c (∂ℓᵢ/∂z_c) ∇²_θ z_{i,c}. Workspace.GNVP and GaussNewton compute Gv
// as the R-forward pass (R{z} = J v), the loss's output Hessian
// R{D_z} = s·(∇²_z ℓ) R{z} and then the plain backward pass (Layer.Backward)
// applied to R{D}: R{D_j} = J_aᵀ R{D_{j+1}}, (Gv)_j = J_θᵀ R{D_{j+1}}, without
// the R{J}ᵀ D terms. G is symmetric positive semidefinite for both losses above.
// G = H when the output is linear in θ (a single Dense layer). For a deeper
// ReLU network G ≠ H although ReLU has no curvature: the dropped terms include
// the bilinear weight couplings (the D_Zᵀ R{A} and D_Z V terms of Dense), which
// do not come from the activation; tanh adds −2Y ⊙ D ⊙ R{Y} on top.
//
// # Batch normalization and dropout
//
// BatchNorm and Dropout (added by NewMLPWith, NewCNNWith and NewResMLPWith) are Trainer
// layers: they compute differently while training. Every method of
// Workspace except TrainGrad, and the Hessian and GaussNewton operators,
// evaluate the network in evaluation mode, as PyTorch's model.eval() and
// PyHessian do: BatchNorm is the fixed affine map Y = γ (A − μ)/√(σ² + ε) + β
// of each channel with the running statistics μ, σ² (so Hv, Gv and the
// gradient are exact for that map; its R-operator recurrences are those of
// a diagonal Dense layer, given with the type) and Dropout is the identity.
// TrainGrad is the training-mode gradient: BatchNorm normalizes by the
// statistics of the batch (which depend on θ, and couple the rows) and
// updates the running statistics, Dropout drops values with masks drawn
// from a seeded generator (see Training).
//
// The running statistics are buffers (Buffered), not parameters: they have
// their own flat vector, laid out layer by layer like θ (Network.NumBuffers,
// LayerBuffers), which is not part of θ, of the gradient or of the Hessian.
// γ and β are parameters. A Network holds the buffers its evaluation mode
// uses (those of fresh layers, μ = 0, σ² = 1, unless set by WithBuffers); a
// Workspace copies them and its training-mode passes update its copy
// (Workspace.Buffers). A composite layer with such sub-layers must itself be
// Buffered and a Trainer, as Residual is: its buffers are its sub-layers'
// in order, and its training mode runs theirs.
//
// # Weight decay
//
// Network.WithWeightDecay(λ, biases) adds (λ/2) Σ m_i θ_i² to the objective
// (m_i = 0 for bias entries when biases is false), so the gradient gains
// λ m ⊙ θ and Hv and Gv gain λ m ⊙ v (exactly λI with biases included).
//
// # Single precision
//
// Network.Float32 returns a float32 path of the same network for training
// (Net32: loss, gradient and a fused SGD step with float32 parameters,
// activations and Sgemm products, the losses and bias gradients summed in
// float64), for MLPs of Dense, ReLU and Tanh layers. Everything else —
// evaluation, Hessian, Gauss–Newton — is float64: To64 converts float32
// parameters to float64 exactly.
package nn
