package nodeagent

import (
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

func TestMaxRunDurationEndsABatchAllocationAsComplete(t *testing.T) {
	t.Parallel()
	limit := api.Duration(300 * time.Millisecond)
	cases := []struct {
		name     string
		jobType  string
		cfg      map[string]any
		wantDesc string
		timedOut bool
	}{
		{"a batch task past its max_run_duration is killed, the allocation complete", api.JobTypeBatch, forever(), api.AllocExceededMaxRunDuration, true},
		{"a sysbatch task too", api.JobTypeSysbatch, forever(), api.AllocExceededMaxRunDuration, true},
		{"a batch task that ends in time completes as usual", api.JobTypeBatch, runFor("50ms", 0), "all tasks have completed", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			j := newJob(c.jobType, mockTask("t", c.cfg, func(t *api.Task) { t.MaxRunDuration = limit }),
				mockTask("cleanup", runFor("10ms", 0), hook("poststop", false)))
			start := time.Now()
			a := h.place(j)
			st := h.waitTerminal(a)
			if st.ClientStatus != api.AllocClientComplete || st.Description != c.wantDesc {
				t.Fatalf("status %s (%s), want complete (%s)", st.ClientStatus, st.Description, c.wantDesc)
			}
			main, post := st.Tasks["t"], st.Tasks["cleanup"]
			if c.timedOut {
				if took := time.Since(start); took < limit.Std() {
					t.Fatalf("ended after %v, before max_run_duration %v", took, limit.Std())
				}
				if main.Failed || !hasEvent(main, "Killing", api.AllocExceededMaxRunDuration) {
					t.Fatalf("task failed %v, events %+v", main.Failed, main.Events)
				}
				// The poststop task does not run after a timeout.
				if post.State != api.TaskStateDead || !post.StartedAt.IsZero() || h.mock.startsOf(a.ID, "cleanup") != 0 {
					t.Fatalf("poststop task %s, started at %v, %d starts", post.State, post.StartedAt, h.mock.startsOf(a.ID, "cleanup"))
				}
			} else if h.mock.startsOf(a.ID, "cleanup") != 1 {
				t.Fatalf("the poststop task ran %d times, want once", h.mock.startsOf(a.ID, "cleanup"))
			}
		})
	}
}

func TestMaxRunDurationIsIgnoredInServiceJobs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	j := newJob(api.JobTypeService, mockTask("t", forever(), func(t *api.Task) { t.MaxRunDuration = api.Duration(100 * time.Millisecond) }))
	a := h.place(j)
	h.waitRunning(a, "t")
	time.Sleep(500 * time.Millisecond)
	if st := h.store.status(h.agent.NodeID(), a.ID); st.ClientStatus != api.AllocClientRunning {
		t.Fatalf("a service task with max_run_duration: %s (%s)", st.ClientStatus, st.Description)
	}
}
