// Package loadavg reads the machine's load averages for the scale
// benchmarks' reports (footprint, simrun).
package loadavg

import (
	"os"
	"strings"
)

// String returns the machine's 1-, 5- and 15-minute load averages
// (/proc/loadavg), or "unknown".
func String() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
