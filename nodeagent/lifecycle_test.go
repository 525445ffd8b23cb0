package nodeagent

import (
	"fmt"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/api"
)

func TestLifecycleHooksRunInTheirOrder(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	j := newJob(api.JobTypeBatch,
		mockTask("pre", runFor("30ms", 0), hook("prestart", false)),
		mockTask("main", runFor("300ms", 0)),
		mockTask("post", runFor("10ms", 0), hook("poststart", false)),
		mockTask("stop", runFor("10ms", 0), hook("poststop", false)),
	)
	a := h.place(j)
	st := h.waitTerminal(a)
	if st.ClientStatus != api.AllocClientComplete {
		t.Fatalf("client status %s (%s), want complete", st.ClientStatus, st.Description)
	}
	h.log.before(t, "exit pre", "start main")
	h.log.before(t, "start main", "start post")
	h.log.before(t, "exit main", "start stop")
	for name, ts := range st.Tasks {
		if ts.State != api.TaskStateDead || ts.Failed {
			t.Errorf("task %s: state %s, failed %v; want dead and not failed", name, ts.State, ts.Failed)
		}
	}
}

func TestPoststopTasksRunAfterAMainTaskFailed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	j := newJob(api.JobTypeBatch,
		mockTask("main", runFor("10ms", 1)),
		mockTask("cleanup", runFor("10ms", 0), hook("poststop", false)),
	)
	a := h.place(j)
	st := h.waitStatus(a, "the poststop task to end", func(st *api.AllocStatus) bool {
		return st.Tasks["cleanup"].State == api.TaskStateDead
	})
	h.log.before(t, "exit main", "start cleanup")
	st = h.waitTerminal(a)
	if st.ClientStatus != api.AllocClientFailed || !st.Tasks["main"].Failed || st.Tasks["cleanup"].Failed {
		t.Fatalf("client status %s, main failed %v, cleanup failed %v; want failed, true, false",
			st.ClientStatus, st.Tasks["main"].Failed, st.Tasks["cleanup"].Failed)
	}
}

func TestAPrestartSidecarRunsBesideTheMainTasksUntilTheyEnd(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	j := newJob(api.JobTypeBatch,
		mockTask("side", forever(), hook("prestart", true)),
		mockTask("main", runFor("100ms", 0)),
	)
	a := h.place(j)
	st := h.waitTerminal(a)
	// The main tasks do not wait for a prestart sidecar to start: only
	// that it runs beside them until they end is promised.
	h.log.before(t, "start side", "exit main")
	h.log.before(t, "exit main", "stop side SIGTERM")
	h.log.before(t, "stop side SIGTERM", "exit side")
	if st.ClientStatus != api.AllocClientComplete || st.Tasks["side"].Failed {
		t.Fatalf("client status %s, sidecar failed %v; want complete and not failed", st.ClientStatus, st.Tasks["side"].Failed)
	}
}

func TestAFailedPrestartTaskFailsTheAllocationBeforeTheMainTasksStart(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  map[string]any
	}{
		{"a prestart task that exits non-zero", runFor("10ms", 3)},
		{"a prestart task its driver cannot start", map[string]any{"start_error": "no such image"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			j := newJob(api.JobTypeBatch,
				mockTask("init", c.cfg, hook("prestart", false)),
				mockTask("main", forever()),
				mockTask("cleanup", runFor("10ms", 0), hook("poststop", false)),
			)
			a := h.place(j)
			st := h.waitStatus(a, "the allocation to fail after its poststop task", func(st *api.AllocStatus) bool {
				return st.ClientStatus == api.AllocClientFailed && st.Tasks["cleanup"].State == api.TaskStateDead
			})
			if n := h.mock.startsOf(a.ID, "main"); n != 0 {
				t.Fatalf("the main task was started %d times", n)
			}
			if !hasEvent(st.Tasks["main"], "Not Started", "") {
				t.Fatalf("main task events %v, want Not Started", eventTypes(st.Tasks["main"]))
			}
			if !st.Tasks["init"].Failed {
				t.Fatal("the prestart task is not marked failed")
			}
		})
	}
}

func TestTheEndOfAMainTaskEndsTheGroupWhenItLeadsOrFails(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		first      *api.Task
		wantStatus string
	}{
		{"a leader task that ends", mockTask("first", runFor("50ms", 0), func(t *api.Task) { t.Leader = true }), api.AllocClientComplete},
		{"a main task that fails", mockTask("first", runFor("50ms", 2)), api.AllocClientFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			a := h.place(newJob(api.JobTypeBatch, c.first, mockTask("other", forever())))
			st := h.waitTerminal(a)
			h.log.before(t, "exit first", "stop other SIGTERM")
			if st.ClientStatus != c.wantStatus {
				t.Fatalf("client status %s (%s), want %s", st.ClientStatus, st.Description, c.wantStatus)
			}
			if other := st.Tasks["other"]; other.State != api.TaskStateDead || other.Failed {
				t.Fatalf("the other task: state %s, failed %v; want dead, killed rather than failed", other.State, other.Failed)
			}
		})
	}
}

// The main tasks all ending at once, while a poststart sidecar and the
// group's services are about to start, once let the sidecar start after
// the tasks were killed (a WaitGroup Add racing its Wait): the sidecar ran
// on, unowned, and its services stayed registered.
func TestMainTasksEndingAtOnceLeaveNoPoststartTaskOrServiceBehind(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const rounds = 20
	var allocs []*api.Allocation
	for i := 0; i < rounds; i++ {
		j := newJob(api.JobTypeBatch,
			mockTask("a", runFor("1ns", 0)),
			mockTask("b", runFor("1ns", 0)),
			mockTask("c", runFor("1ns", 0)),
			mockTask("post", forever(), hook("poststart", true)),
		)
		j.Groups[0].Services = []*api.Service{{Name: fmt.Sprintf("svc-%d", i), Port: "8080"}}
		allocs = append(allocs, h.place(j))
	}
	for _, a := range allocs {
		st := h.waitTerminal(a)
		if post := st.Tasks["post"]; post.State != api.TaskStateDead {
			t.Fatalf("allocation %s ended with its poststart task %s", a.Name, post.State)
		}
	}
	if svcs := h.store.serviceList(); len(svcs) != 0 {
		t.Fatalf("%d service instances left registered, first %s", len(svcs), svcs[0].reg.ServiceName)
	}
	for _, rh := range h.mock.allHandles() {
		if !rh.ended() {
			t.Fatalf("task %s still runs after its allocation ended", rh.task)
		}
	}
}
