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
// implementation: the header starts with '{', is at most MaxHeaderSize bytes
// and holds no duplicate names; every tensor's byte length equals its element
// count (the product of its shape; 1 for shape []) times the dtype size; and
// the tensors, ordered by offset, cover the data section exactly, without
// overlaps, holes or trailing bytes. Supported dtypes are F64 and F32 (read
// into float64); other dtypes are reported as ErrUnsupported.
//
// The writer produces the same bytes as the reference implementation
// (huggingface/safetensors): tensors are stored in name order (they share one
// dtype, so the reference order of descending alignment, then name, reduces to
// name order), the header is compact JSON with "__metadata__" first (its keys
// sorted) and each tensor's fields in the order dtype, shape, data_offsets, and
// the header is padded with spaces to a multiple of 8 bytes so that the data
// of every tensor is aligned for its dtype.
//
// # Networks
//
// Export and Import name the parameters of a Network like the state_dict of
// the equivalent PyTorch nn.Sequential, whose modules are numbered by their
// position in the stack, activations included. Layer l of Network.Layers()
// that is an *nn.Dense with fan-in d and fan-out k becomes the two tensors
//
//	"<l>.weight"  shape [k, d]  (W, row-major: W[j][i] connects input i to output j)
//	"<l>.bias"    shape [k]
//
// and layers without parameters (ReLU, Tanh) produce no tensor but keep
// their number. For the MLP 784-128-10 built by nn.NewMLP the layers are
// Dense, ReLU, Dense, so θ = [W₁ | b₁ | W₂ | b₂] maps to "0.weight" [128, 784],
// "0.bias" [128], "2.weight" [10, 128] and "2.bias" [10], exactly the
// state_dict of
//
//	nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
//
// (PyTorch's nn.Linear stores its weight as out×in, the same convention as
// nn.Dense). A file written by Save loads in PyTorch with
// safetensors.torch.load_file and model.load_state_dict (F64 tensors; call
// model.double() or convert), and a PyTorch state_dict saved with
// safetensors.torch.save_file (F32) loads with Load.
package weights
