package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// TestNodesThatAllStopAtOnceAreHeldNotReplaced freezes every simulated
// node at once for longer than their lease TTL, as a starved or
// partitioned fleet looks to the servers: their allocations must not be
// rescheduled en masse, and everything runs again once they are back.
func TestNodesThatAllStopAtOnceAreHeldNotReplaced(t *testing.T) {
	addr, etcdAddr := freeAddr(t), freeAddr(t)
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-server", "-name", "held", "-http-addr", addr,
		"-etcd-client-addr", etcdAddr, "-etcd-peer-addr", freeAddr(t), "-data-dir", t.TempDir())
	sim := start(t, filepath.Join(binDir, "nomadic"), "sim", "-nodes", "6", "-node-ttl", "2s",
		"-etcd-endpoints", "http://"+etcdAddr, "-data-dir", t.TempDir())
	waitReadyNodes(t, addr, 6)
	dir := t.TempDir()
	mustNctl(t, addr, dir, "apply", "--detach", "-f", mockJob(t, dir, "held", 12))
	running := waitRunning(t, addr, "held", 12)
	before := map[string]bool{}
	for _, a := range running {
		before[a.ID] = true
	}

	if err := sim.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = sim.cmd.Process.Signal(syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
	// Every node goes down once its lease runs out...
	eventually(t, 30*time.Second, func() (bool, string) {
		out := mustNctl(t, addr, dir, "get", "nodes", "-o", "json")
		down := strings.Count(out, `"status": "down"`)
		return down == 6, fmt.Sprintf("%d nodes down", down)
	})
	// ...and stays down a while, in which nothing is replaced.
	time.Sleep(5 * time.Second)
	for _, a := range allocs(t, addr, "held") {
		if !before[a.ID] || a.DesiredStatus != api.AllocDesiredRun || a.NodeLost {
			t.Fatalf("allocation %s (%s, lost %v) changed while its nodes were held", a.ID, a.DesiredStatus, a.NodeLost)
		}
	}
	// An operator who knows two of those nodes are gone for good purges
	// them: their allocations are lost at once (and replaced when there
	// is room), the others' stay held.
	purged, onPurged := map[string]bool{}, map[string]bool{}
	for _, a := range running {
		if len(purged) < 2 || purged[a.NodeID] {
			purged[a.NodeID] = true
			onPurged[a.ID] = true
		}
	}
	for n := range purged {
		mustNctl(t, addr, dir, "node", "purge", n)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		for _, a := range allocs(t, addr, "held") {
			if !before[a.ID] {
				continue // a replacement waiting for room
			}
			lost := a.DesiredStatus == api.AllocDesiredStop
			if lost != onPurged[a.ID] {
				return false, fmt.Sprintf("allocation %s on node %s (purged %v): desired %s", a.ID, a.NodeID, purged[a.NodeID], a.DesiredStatus)
			}
		}
		return true, ""
	})
	resume()
	waitReadyNodes(t, addr, 6)
	again := waitRunning(t, addr, "held", 12)
	replaced := 0
	for _, a := range again {
		switch {
		case !before[a.ID]:
			replaced++
		case onPurged[a.ID]:
			t.Fatalf("allocation %s of a purged node runs again", a.ID)
		}
	}
	if replaced != len(onPurged) {
		t.Fatalf("%d allocations replaced, want the %d of the purged nodes", replaced, len(onPurged))
	}
	// A ready node cannot be purged: its agent would register it again.
	_, stderr, code := nctl(t, addr, dir, "node", "purge", again[0].NodeID)
	if code == 0 || !strings.Contains(stderr, "is ready") {
		t.Fatalf("purging a ready node: exit %d: %s", code, stderr)
	}
}
