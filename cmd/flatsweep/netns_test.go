package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flatsweep/flatsweep/coordinator/store"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// RequireNetnsEnv names the environment variable that turns the skip of the
// network-namespace tests (not root, no `ip`, no namespaces) into a failure:
// CI sets it, so that those tests cannot silently stop running there.
const RequireNetnsEnv = "FLATSWEEP_REQUIRE_NETNS"

// netLab is a set of network namespaces on one bridge: each is a host with
// its own address, as the machines of a cluster are. The addresses are in
// 198.18.0.0/24, the range set aside for network tests (RFC 2544), and exist
// only inside the namespaces.
type netLab struct {
	t          *testing.T
	prefix     string
	hub        string   // the namespace that holds the bridge (the coordinator's host)
	namespaces []string // every namespace made, deleted at the end
}

// newNetLab creates the hub namespace with its bridge at 198.18.0.1, or skips
// the test where namespaces cannot be made (fails instead when RequireNetnsEnv
// is set). Every namespace it makes is deleted when the test ends, however it
// ends; register it before starting processes in it, so that they are killed
// first.
func newNetLab(t *testing.T) *netLab {
	t.Helper()
	unavailable := func(why string) {
		t.Helper()
		if os.Getenv(RequireNetnsEnv) != "" {
			t.Fatalf("network namespaces needed (%s is set): %s", RequireNetnsEnv, why)
		}
		t.Skipf("network namespaces unavailable: %s (run as root with iproute2; set %s=1 to fail instead)", why, RequireNetnsEnv)
	}
	if os.Geteuid() != 0 {
		unavailable("not root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		unavailable("no ip command (Debian: apt-get install iproute2)")
	}
	l := &netLab{t: t, prefix: fmt.Sprintf("fs%d", os.Getpid())}
	l.hub = l.prefix + "-hub"
	if out, err := exec.Command("ip", "netns", "add", l.hub).CombinedOutput(); err != nil {
		unavailable(fmt.Sprintf("ip netns add: %v: %s", err, strings.TrimSpace(string(out))))
	}
	l.namespaces = []string{l.hub}
	t.Cleanup(func() {
		for _, ns := range l.namespaces {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v: %s", ns, err, out)
			}
		}
	})
	l.ip("-n", l.hub, "link", "set", "lo", "up")
	l.ip("-n", l.hub, "link", "add", "br0", "type", "bridge")
	l.ip("-n", l.hub, "addr", "add", "198.18.0.1/24", "dev", "br0")
	l.ip("-n", l.hub, "link", "set", "br0", "up")
	return l
}

// addHost creates the namespace of a host named name with address addr on
// the bridge, and returns the namespace's name.
func (l *netLab) addHost(name, addr string) string {
	l.t.Helper()
	ns := l.prefix + "-" + name
	l.ip("netns", "add", ns)
	l.namespaces = append(l.namespaces, ns)
	l.ip("-n", ns, "link", "set", "lo", "up")
	// One veth pair per host: eth0 in the host, v-NAME on the hub's bridge.
	l.ip("-n", l.hub, "link", "add", "v-"+name, "type", "veth", "peer", "name", "eth0", "netns", ns)
	l.ip("-n", l.hub, "link", "set", "v-"+name, "master", "br0", "up")
	l.ip("-n", ns, "addr", "add", addr+"/24", "dev", "eth0")
	l.ip("-n", ns, "link", "set", "eth0", "up")
	return ns
}

// ip runs the ip command and fails the test if it fails.
func (l *netLab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// link sets the hub's end of a host's link up or down: down, the host's
// packets go nowhere and nothing tells its connections so.
func (l *netLab) link(name string, up bool) {
	l.t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	l.ip("-n", l.hub, "link", "set", "v-"+name, state)
}

// in returns the wrapper that runs a command in a namespace.
func in(ns string) []string { return []string{"ip", "netns", "exec", ns} }

// distinctSucceeded counts the trials a coordinator logged as succeeded.
func distinctSucceeded(p *proc) int {
	seen := map[string]bool{}
	for _, r := range p.find("trial succeeded") {
		seen[r["trial"].(string)] = true
	}
	return len(seen)
}

// running reports whether a worker's last trial log says it runs a trial.
func running(w *proc) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := len(w.logs) - 1; i >= 0; i-- {
		switch w.logs[i]["msg"] {
		case "trial started":
			return true
		case "trial finished", "result rejected", "registered with coordinator":
			return false
		}
	}
	return false
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSweepAcrossHosts runs a coordinator and four workers as separate
// processes on separate network hosts (namespaces on one bridge), over real
// TCP between real addresses. Mid-sweep one worker's link goes down, long
// enough for its lease to expire, and comes back (its late report must be
// refused), and another worker is killed with SIGKILL. The sweep must finish
// with every trial recorded exactly once, as succeeded.
func TestSweepAcrossHosts(t *testing.T) {
	lab := newNetLab(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	const token = "netns-test-token"
	coordAddr := "198.18.0.1:7070"
	coord := startWrapped(t, in(lab.hub), "coordinator", "--listen", coordAddr, "--db", db,
		"--token", token, "--lease-ttl", "2s")
	coord.waitLog(t, "coordinator listening", 20*time.Second)

	workers := map[string]*proc{}
	for i, name := range []string{"cut", "killed", "w3", "w4"} {
		ns := lab.addHost(name, fmt.Sprintf("198.18.0.%d", 10+i))
		workers[name] = startWrapped(t, in(ns), "worker", "--coordinator", coordAddr, "--token", token, "--name", name)
	}
	for name, w := range workers {
		w.waitLog(t, "registered with coordinator", 20*time.Second)
		t.Logf("worker %s registered over the bridge", name)
	}

	// 16 trials of most of a second each: the faults land mid-sweep.
	body := strings.Replace(fmt.Sprintf(e2eSweep, 200), "seed: [1, 2]", "seed: [1, 2, 3, 4]", 1)
	sweep := writeSweep(t, body)
	submit := exec.Command("ip", "netns", "exec", lab.prefix+"-w3", binary, "submit", sweep, "--coordinator", coordAddr)
	submit.Env = append(os.Environ(), "FLATSWEEP_TOKEN="+token)
	if b, err := submit.CombinedOutput(); err != nil || !strings.Contains(string(b), "16 trials, 16 added") {
		t.Fatalf("submit from host w3: %v\n%s", err, b)
	}

	// The faults strike once results are coming in, each while its worker
	// runs a trial (holds a lease).
	waitFor(t, "two trials recorded", 2*time.Minute, func() bool { return distinctSucceeded(coord) >= 2 })
	waitFor(t, "worker cut runs a trial", time.Minute, func() bool { return running(workers["cut"]) })
	lab.link("cut", false)
	waitFor(t, "worker killed runs a trial", time.Minute, func() bool { return running(workers["killed"]) })
	if err := workers["killed"].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	before := distinctSucceeded(coord)
	t.Logf("faults: link of worker cut down, worker killed SIGKILLed, %d/16 trials recorded", before)
	// Bring the link back once the coordinator has given up the cut
	// worker's lease (or after a while, should it have had none): what it
	// then reports under the lost lease must be refused.
	expired := func() map[string]bool {
		held := map[string]bool{}
		for _, r := range coord.find("lease expired") {
			held[r["worker"].(string)] = true
		}
		return held
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(expired()) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("leases expired of %d workers", len(expired()))
	lab.link("cut", true)

	waitFor(t, "all 16 trials recorded", 4*time.Minute, func() bool { return distinctSucceeded(coord) == 16 })
	if before >= 16 {
		t.Fatalf("every trial was recorded before the faults: they did not strike mid-sweep")
	}
	// Give the worker whose link came back the time to report what it ran
	// under its expired lease: the coordinator must refuse it.
	time.Sleep(3 * time.Second)
	for name, w := range workers {
		if name != "killed" {
			_ = w.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	if err := coord.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-coord.done:
	case <-time.After(30 * time.Second):
		t.Fatal("coordinator did not stop on SIGTERM")
	}
	_ = coord.cmd.Wait()

	st, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var trials []*pb.Trial
	retried := 0
	if err := st.Trials("e2e", "", func(tr *pb.Trial) bool {
		trials = append(trials, tr)
		if tr.Attempt > 1 {
			retried++
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(trials) != 16 {
		t.Fatalf("%d trials stored, want 16", len(trials))
	}
	succeededOnce(t, []*proc{coord}, trials)
	if retried < 1 {
		t.Errorf("no trial ran more than once: the faults hit no lease")
	}
	ran := map[string]int{}
	for _, tr := range trials {
		ran[tr.WorkerId]++
	}
	t.Logf("results by worker id: %v; %d trials retried", ran, retried)
}
