// Package weights reads and writes parameter tensors in the safetensors
// format and maps them onto the flat parameter vector θ of an nn.Network, so
// that flatsweep networks can be exchanged with PyTorch.
//
// # The safetensors format
//
// A file is
//
//	N (8 bytes, little-endian uint64) | header (N bytes of JSON) | data
//
// where the header is a JSON object mapping each tensor name to
// {"dtype": "F64", "shape": [k, d], "data_offsets": [begin, end]}, plus an
// optional "__metadata__" object of string values. Offsets are relative to the
// start of the data section; each tensor's bytes are its elements in row-major
// order, little-endian. The reader enforces the rules of the reference
// implementation: the header starts with '{', is at most MaxHeaderSize bytes,
// declares at most MaxValues values and holds no duplicate names; every tensor's byte length equals its element
// count (the product of its shape; 1 for shape []) times the dtype size; and
// the tensors, ordered by offset, cover the data section exactly, without
// overlaps, holes or trailing bytes. Supported dtypes are F64 and F32 (read
// into float64) and I64 (integer tensors such as BatchNorm's
// num_batches_tracked, read into float64 and marked Tensor.Dtype = I64);
// other dtypes are reported as ErrUnsupported.
//
// The writer produces the same bytes as the reference implementation
// (huggingface/safetensors): tensors are stored in the reference order of
// descending alignment, then name (name order when they all have 8-byte
// elements, F64 and I64; I64 tensors first in an F32 file), the header is compact JSON with "__metadata__" first (its keys
// sorted) and each tensor's fields in the order dtype, shape, data_offsets, and
// the header is padded with spaces to a multiple of 8 bytes so that the data
// of every tensor is aligned for its dtype.
//
// # Networks
//
// Export and Import name the parameters of a Network like the state_dict of
// the equivalent PyTorch nn.Sequential, whose modules are numbered from 0 by
// their position in the stack, modules without parameters included (they
// produce no tensor but keep their number). Each layer of Network.Layers()
// maps to one module:
//
//	flatsweep layer                       PyTorch module                     tensors
//	*nn.Dense{In: d, Out: k}              nn.Linear(d, k)                    "<i>.weight" [k, d], "<i>.bias" [k]
//	*nn.Conv2D{C, F, K, Pad} (stride 1)   nn.Conv2d(C, F, K, padding=Pad)    "<i>.weight" [F, C, K, K], "<i>.bias" [F]
//	*nn.MaxPool2D{Size: s}                nn.MaxPool2d(s)                    none
//	*nn.ReLU, *nn.Tanh                    nn.ReLU(), nn.Tanh()               none
//	*nn.Dropout{P: p}                     nn.Dropout(p)                      none
//	*nn.BatchNorm{C, HW: 1} on flat rows  nn.BatchNorm1d(C)                  (below)
//	*nn.BatchNorm{C, HW} on images        nn.BatchNorm2d(C)                  (below)
//	*nn.Residual{Body: b}                 Residual(b...) (below)             "<i>.body.<j>.…" for module j of b
//
// A BatchNorm module has the parameters "<i>.weight" [C] (γ) and "<i>.bias"
// [C] (β) and the buffers "<i>.running_mean" [C], "<i>.running_var" [C]
// (F64, like the parameters) and "<i>.num_batches_tracked" [] (I64), its
// state_dict in PyTorch; Export takes the buffers from Network.Buffers (the
// running statistics of evaluation mode) and ImportState returns them. The
// default ε = 1e-5 and momentum 0.1 are PyTorch's too. A BatchNorm is
// BatchNorm2d when it acts on images (after a convolution or pool, or with
// HW > 1) and BatchNorm1d on flat rows.
//
// where <i> is the module's position. The weight layouts are those of
// flatsweep's θ, so each tensor is a contiguous block of θ: nn.Dense stores W
// as out×in row-major (W[j][i] connects input i to output j), like
// nn.Linear, and nn.Conv2D stores its filters [F][C][K][K] (filter,
// input channel, kernel row, kernel column), like nn.Conv2d; the bias follows
// the weight in θ. A residual block's body is numbered on its own, like the
// nn.Sequential it is in PyTorch, and its tensors are prefixed
// "<i>.body.", so that the tensors nest like the modules. Tensors are
// returned in θ order, so that concatenating their data gives θ.
//
// PyTorch has no residual module; the equivalent of nn.Residual, which
// computes a + g(a) with g its body, is
//
//	class Residual(nn.Module):
//	    def __init__(self, *body):
//	        super().__init__()
//	        self.body = nn.Sequential(*body)
//
//	    def forward(self, x):
//	        return x + self.body(x)
//
// # Flattening
//
// flatsweep stores every activation, images included, as one flat row per
// example; an image of C channels of H×W pixels is stored NCHW, pixel (c, y,
// x) at index (c·H + y)·W + x, which is the order in which PyTorch's
// nn.Flatten() (torch.flatten(x, 1)) flattens an (N, C, H, W) tensor. The
// outputs of nn.Conv2D (F × OH × OW, filter-major) and nn.MaxPool2D (C × OH ×
// OW, channel-major) are stored in that order too, and nn.Dense reads its
// input row as is, so a Dense layer after a convolution or a pool sees the
// features in exactly the order of nn.Flatten followed by nn.Linear; its
// weight needs no permutation. In PyTorch, nn.Conv2d and nn.MaxPool2d need
// (N, C, H, W) tensors, so the equivalent nn.Sequential holds an nn.Flatten()
// immediately before the first nn.Linear that follows a convolution or pool
// (and an nn.Unflatten(1, (C, H, W)) before a convolution or pool that
// follows a dense layer); that module takes a position in the numbering.
// The network's input is fed to PyTorch as (N, C, H, W) when the first layer
// is a convolution or pool (x.view(-1, C, H, W)) and as (N, d) otherwise.
//
// # Examples
//
// The MLP 784-128-10 built by nn.NewMLP has the layers Dense, ReLU, Dense, so
// θ = [W₁ | b₁ | W₂ | b₂] maps to "0.weight" [128, 784], "0.bias" [128],
// "2.weight" [10, 128] and "2.bias" [10], exactly the state_dict of
//
//	nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
//
// The residual MLP nn.NewResMLP(784, 64, 2, 10, nn.ActReLU) has the layers
// Dense, ReLU, Residual, Residual, Dense and the tensors "0.weight" [64, 784],
// "0.bias" [64], "2.body.0.weight" [64, 64], "2.body.0.bias" [64],
// "2.body.2.weight" [64, 64], "2.body.2.bias" [64], the same four for block
// "3.body.", and "4.weight" [10, 64], "4.bias" [10]: the state_dict of
//
//	nn.Sequential(
//	    nn.Linear(784, 64), nn.ReLU(),
//	    Residual(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64)),
//	    Residual(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64)),
//	    nn.Linear(64, 10))
//
// The CNN nn.NewCNN(1, 28, 28, []int{8, 16}, []int{64}, 10, nn.ActReLU) has
// the layers Conv2D, ReLU, MaxPool2D, Conv2D, ReLU, MaxPool2D, Dense, ReLU,
// Dense and the tensors "0.weight" [8, 1, 5, 5], "0.bias" [8], "3.weight"
// [16, 8, 5, 5], "3.bias" [16], "7.weight" [64, 784], "7.bias" [64],
// "9.weight" [10, 64] and "9.bias" [10] (position 6 is the nn.Flatten, so
// the Dense layers are modules 7 and 9): the state_dict of
//
//	nn.Sequential(
//	    nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
//	    nn.Conv2d(8, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
//	    nn.Flatten(),
//	    nn.Linear(16*7*7, 64), nn.ReLU(),
//	    nn.Linear(64, 10))
//
// applied to x.view(-1, 1, 28, 28).
//
// With batch normalization and dropout (nn.NewMLPWith, nn.NewCNNWith),
// nn.NewMLPWith(784, []int{128}, 10, nn.ActReLU, nn.Options{BatchNorm: true,
// Dropout: 0.5}) has the layers Dense, BatchNorm, ReLU, Dropout, Dense and
// the state_dict of
//
//	nn.Sequential(nn.Linear(784, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.5),
//	    nn.Linear(128, 10))
//
// ("0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
// "1.running_var", "1.num_batches_tracked", "4.weight", "4.bias"); a CNN
// stage becomes nn.Conv2d, nn.BatchNorm2d, activation, nn.MaxPool2d.
//
// Such a module loads a file written by Save with model.load_state_dict(sd,
// strict=True), where sd holds the file's tensors (safetensors.torch.load_file
// reads them; the tensors are F64, so call model.double() or convert them),
// and computes the same outputs (logits) as the flatsweep network. A PyTorch
// state_dict of such a module saved with safetensors.torch.save_file (F32)
// loads with Load; Import reports every missing, extra and misshapen tensor.
package weights
