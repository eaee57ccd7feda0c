package nn

// NewHessianUncached is Net32.NewHessian recomputing the state of every
// chunk at every product, as it does above HessianCacheBytes.
func (n32 *Net32) NewHessianUncached(theta, x []float64, y []int, rows int) *Hessian32 {
	return n32.newHessian(theta, x, y, rows, 0)
}
