package nodeagent

import (
	"testing"

	"github.com/nomadic-project/nomadic/pkg/api"
)

func keepTasks(c *Config) { c.StopTasksOnShutdown = false }

func TestAnAgentThatComesBackReattachesToItsTasks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		cfg       map[string]any
		endsWhile bool // the task ends while the agent is down
	}{
		{"a task that still runs is re-attached, not started again", forever(), false},
		{"a task that ended while the agent was down is recorded dead", runFor("1s", 0), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, keepTasks)
			a := h.place(newJob(api.JobTypeService, mockTask("t", c.cfg)))
			h.waitRunning(a, "t")
			h.stopAgent()
			if c.endsWhile {
				for _, rh := range h.mock.allHandles() {
					if !rh.ended() {
						t.Fatal("the task did not end")
					}
				}
			}
			h.startAgent()
			if c.endsWhile {
				st := h.waitTerminal(a)
				ts := st.Tasks["t"]
				if ts.State != api.TaskStateDead || !hasEvent(ts, "Terminated", "while the agent was down") {
					t.Fatalf("task %s, events %v; want dead, terminated while the agent was down", ts.State, eventTypes(ts))
				}
			} else {
				h.waitStatus(a, "the task re-attached", func(st *api.AllocStatus) bool {
					ts := st.Tasks["t"]
					return ts.State == api.TaskStateRunning && hasEvent(ts, "Reattached", "")
				})
				if _, ok := h.log.at("recover t"); !ok {
					t.Fatalf("the task was not recovered through its driver; log %q", h.log.all())
				}
				h.stopAlloc(a)
				if st := h.waitTerminal(a); st.ClientStatus != api.AllocClientComplete {
					t.Fatalf("client status %s after a stop, want complete", st.ClientStatus)
				}
			}
			if n := h.mock.startsOf(a.ID, "t"); n != 1 {
				t.Fatalf("the task was started %d times, want once", n)
			}
		})
	}
}

func TestALostLeaseIsReplacedAndTheServicesRegisteredUnderTheNewOne(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	j := newJob(api.JobTypeService, mockTask("t", forever()))
	j.Groups[0].Services = []*api.Service{{Name: "web", Port: "8080"}}
	h.place(j)
	node := h.agent.NodeID()
	first := h.store.heartbeat(node)
	h.waitFor("the service under the node's lease", func() bool {
		svcs := h.store.serviceList()
		return len(svcs) == 1 && svcs[0].lease == first
	})
	h.store.expire(first)
	h.waitFor("the heartbeat and the service under a new lease", func() bool {
		beat := h.store.heartbeat(node)
		svcs := h.store.serviceList()
		return beat != 0 && beat != first && len(svcs) == 1 && svcs[0].lease == beat
	})
}

func TestOnlyAnAgentThatStopsItsTasksRevokesItsLease(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		opts        []func(*Config)
		wantRevoked bool
	}{
		{"an agent that stops its tasks revokes its lease", nil, true},
		{"an agent that leaves its tasks running keeps its lease", []func(*Config){keepTasks}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, c.opts...)
			node := h.agent.NodeID()
			if h.store.heartbeat(node) == 0 {
				t.Fatal("a ready agent has no heartbeat")
			}
			h.stopAgent()
			if revoked := h.store.heartbeat(node) == 0; revoked != c.wantRevoked {
				t.Fatalf("lease revoked %v, want %v", revoked, c.wantRevoked)
			}
		})
	}
}
