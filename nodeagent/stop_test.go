package nodeagent

import (
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

func TestStoppingAnAllocationKillsItsTasksWithTheirKillSignal(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		killSignal string
		wantSignal string
		wantCode   int
	}{
		{"the default kill signal is SIGTERM", "", "SIGTERM", 143},
		{"kill_signal is sent instead", "SIGINT", "SIGINT", 130},
		{"kill_signal may leave out SIG", "hup", "SIGHUP", 129},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			a := h.place(newJob(api.JobTypeService, mockTask("t", forever(), func(t *api.Task) { t.KillSignal = c.killSignal })))
			h.waitRunning(a, "t")
			h.stopAlloc(a)
			st := h.waitTerminal(a)
			ts := st.Tasks["t"]
			if st.ClientStatus != api.AllocClientComplete || ts.Failed {
				t.Fatalf("client status %s, task failed %v; want complete, not failed", st.ClientStatus, ts.Failed)
			}
			if _, ok := h.log.at("stop t " + c.wantSignal); !ok {
				t.Fatalf("no stop with %s; log %q", c.wantSignal, h.log.all())
			}
			if ts.ExitCode == nil || *ts.ExitCode != c.wantCode {
				t.Fatalf("exit code %v, want %d", ts.ExitCode, c.wantCode)
			}
			if !hasEvent(ts, "Killing", "allocation stopped") || !hasEvent(ts, "Killed", "") {
				t.Fatalf("events %v, want Killing and Killed", eventTypes(ts))
			}
		})
	}
}

func TestATaskThatIgnoresItsKillSignalIsKilledAfterItsKillTimeout(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	task := mockTask("t", nil, func(t *api.Task) {
		t.Driver = "stubborn"
		t.KillTimeout = api.Duration(time.Second)
	})
	a := h.place(newJob(api.JobTypeService, task))
	h.waitRunning(a, "t")
	h.stopAlloc(a)
	st := h.waitTerminal(a)
	term, ok1 := h.log.at("received t SIGTERM")
	kill, ok2 := h.log.at("received t SIGKILL")
	if !ok1 || !ok2 {
		t.Fatalf("want SIGTERM then SIGKILL; log %q", h.log.all())
	}
	if gap := kill.Sub(term); gap < time.Second {
		t.Fatalf("SIGKILL %v after SIGTERM, before the kill_timeout of 1s", gap)
	}
	ts := st.Tasks["t"]
	if ts.ExitCode == nil || *ts.ExitCode != 137 || ts.Failed || st.ClientStatus != api.AllocClientComplete {
		t.Fatalf("exit code %v, failed %v, client status %s; want 137, not failed, complete", ts.ExitCode, ts.Failed, st.ClientStatus)
	}
}

func TestShutdownDelayHoldsTheKillAfterTheServicesLeave(t *testing.T) {
	t.Parallel()
	const delay = 300 * time.Millisecond
	cases := []struct {
		name string
		set  func(j *api.Job)
	}{
		{"the group's shutdown_delay", func(j *api.Job) { j.Groups[0].ShutdownDelay = api.Duration(delay) }},
		{"the task's shutdown_delay", func(j *api.Job) { j.Groups[0].Tasks[0].ShutdownDelay = api.Duration(delay) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			j := newJob(api.JobTypeService, mockTask("t", forever()))
			j.Groups[0].Services = []*api.Service{{Name: "web", Port: "8080"}}
			c.set(j)
			a := h.place(j)
			h.waitFor("the service to register", func() bool { return len(h.store.serviceList()) == 1 })
			h.stopAlloc(a)
			stopped := time.Now()
			h.waitTerminal(a)
			h.log.before(t, "deregister web", "stop t SIGTERM")
			killed, _ := h.log.at("stop t SIGTERM")
			if wait := killed.Sub(stopped); wait < delay {
				t.Fatalf("killed %v after the stop, before the shutdown_delay of %v", wait, delay)
			}
		})
	}
}

func TestAnAllocationStoppedBeforeItStartedNeverRuns(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.place(newJob(api.JobTypeService, mockTask("t", forever())), func(a *api.Allocation) { a.DesiredStatus = api.AllocDesiredStop })
	st := h.waitTerminal(a)
	if st.ClientStatus != api.AllocClientComplete || st.Description != "stopped before it started" {
		t.Fatalf("client status %s (%s), want complete (stopped before it started)", st.ClientStatus, st.Description)
	}
	if n := h.mock.startsOf(a.ID, "t"); n != 0 {
		t.Fatalf("the task was started %d times", n)
	}
}

// An operator's stop without the shutdown delay (nomad alloc stop
// -no-shutdown-delay) kills at once, whatever the group and task ask.
func TestAStopWithoutShutdownDelayKillsAtOnce(t *testing.T) {
	t.Parallel()
	const delay = 30 * time.Second
	h := newHarness(t)
	j := newJob(api.JobTypeService, mockTask("t", forever(), func(t *api.Task) { t.ShutdownDelay = api.Duration(delay) }))
	j.Groups[0].ShutdownDelay = api.Duration(delay)
	j.Groups[0].Services = []*api.Service{{Name: "web", Port: "8080"}}
	a := h.place(j)
	h.waitFor("the service to register", func() bool { return len(h.store.serviceList()) == 1 })
	h.change(a, func(a *api.Allocation) { a.DesiredStatus, a.NoShutdownDelay = api.AllocDesiredStop, true })
	stopped := time.Now()
	h.waitTerminal(a)
	killed, _ := h.log.at("stop t SIGTERM")
	if wait := killed.Sub(stopped); wait > delay/2 {
		t.Fatalf("killed %v after the stop, held by a shutdown_delay of %v", wait, delay)
	}
}

// A stop without the shutdown delay that comes while the delay of an
// earlier stop runs ends it, as in Nomad.
func TestALaterStopWithoutShutdownDelayEndsTheDelay(t *testing.T) {
	t.Parallel()
	const delay = 30 * time.Second
	h := newHarness(t)
	j := newJob(api.JobTypeService, mockTask("t", forever()))
	j.Groups[0].ShutdownDelay = api.Duration(delay)
	j.Groups[0].Services = []*api.Service{{Name: "web", Port: "8080"}}
	a := h.place(j)
	h.waitFor("the service to register", func() bool { return len(h.store.serviceList()) == 1 })
	h.stopAlloc(a)
	h.waitFor("the service to leave", func() bool { return len(h.store.serviceList()) == 0 })
	h.change(a, func(a *api.Allocation) { a.NoShutdownDelay = true })
	marked := time.Now()
	h.waitTerminal(a)
	killed, _ := h.log.at("stop t SIGTERM")
	if wait := killed.Sub(marked); wait > delay/2 {
		t.Fatalf("killed %v after the mark, still held by the shutdown_delay of %v", wait, delay)
	}
}
