package nn

import "fmt"

// Correct sets correct[i] to whether the network classifies row i of x
// correctly: whether the first largest of its outputs is at the label y[i],
// the rule by which Loss counts the accuracy (for both losses), so that the
// fraction of true entries is Loss's accuracy exactly. It runs the forward
// pass only, in evaluation mode, in chunks of Rows rows.
func (ws *Workspace) Correct(correct []bool, theta, x []float64, y []int) {
	ws.check(theta, x, y)
	if len(correct) != len(y) {
		panic(fmt.Sprintf("nn: Correct: len(correct) = %d for %d rows", len(correct), len(y)))
	}
	d, k, last := ws.net.InSize(), ws.net.OutSize(), len(ws.net.layers)
	ws.chunks(len(y), func(lo, hi int) {
		ws.forward(theta, x[lo*d:hi*d], hi-lo)
		z := ws.bufs[last].A
		for i := range hi - lo {
			row := z[i*k : (i+1)*k]
			m, arg := row[0], 0
			for c, v := range row {
				if v > m {
					m, arg = v, c
				}
			}
			correct[lo+i] = arg == y[lo+i]
		}
	})
}
