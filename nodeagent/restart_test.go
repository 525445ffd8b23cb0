package nodeagent

import (
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

func TestRestartDelayFollowsTheRestartPolicy(t *testing.T) {
	t.Parallel()
	policy := func(attempts int, interval, delay time.Duration, mode string) *api.RestartPolicy {
		return &api.RestartPolicy{Attempts: attempts, Interval: api.Duration(interval), Delay: api.Duration(delay), Mode: mode}
	}
	ago := func(d ...time.Duration) []time.Time {
		var out []time.Time
		for _, x := range d {
			out = append(out, time.Now().Add(-x))
		}
		return out
	}
	cases := []struct {
		name    string
		policy  *api.RestartPolicy
		before  []time.Time // restarts already made
		ok      bool
		atLeast time.Duration
		atMost  time.Duration
	}{
		{"no policy never restarts", nil, nil, false, 0, 0},
		{"the first restart waits the delay", policy(2, time.Minute, 15*time.Second, "fail"), nil, true, 15 * time.Second, 15 * time.Second},
		{"a restart within the attempts waits the delay", policy(2, time.Minute, time.Second, "fail"), ago(10 * time.Second), true, time.Second, time.Second},
		{"mode fail gives up once the attempts are used within the interval", policy(2, time.Minute, time.Second, "fail"), ago(20*time.Second, 10*time.Second), false, 0, 0},
		{"restarts older than the interval no longer count", policy(2, time.Minute, time.Second, "fail"), ago(3*time.Minute, 2*time.Minute), true, time.Second, time.Second},
		{"zero attempts in mode fail never restart", policy(0, time.Minute, time.Second, "fail"), nil, false, 0, 0},
		// The table is built before the cases run: some of the 40s may
		// have passed.
		{"mode delay waits for the interval to free an attempt", policy(1, time.Minute, time.Second, "delay"), ago(20 * time.Second), true, 30 * time.Second, 40 * time.Second},
		{"mode delay waits at least the delay", policy(1, time.Minute, 50*time.Second, "delay"), ago(20 * time.Second), true, 50 * time.Second, 50 * time.Second},
		{"mode delay without an interval gives up", policy(1, 0, time.Second, "delay"), ago(time.Second), false, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tr := &taskRunner{group: &api.TaskGroup{Restart: c.policy}}
			restarts := append([]time.Time(nil), c.before...)
			delay, ok := tr.restartDelay(&restarts)
			if ok != c.ok {
				t.Fatalf("restart %v, want %v", ok, c.ok)
			}
			if ok && (delay < c.atLeast || delay > c.atMost) {
				t.Fatalf("delay %v, want from %v to %v", delay, c.atLeast, c.atMost)
			}
		})
	}
}

func TestTasksAreRestartedInPlacePerTheRestartPolicy(t *testing.T) {
	t.Parallel()
	fail := func(attempts int) *api.RestartPolicy {
		return &api.RestartPolicy{Attempts: attempts, Interval: api.Duration(time.Minute), Delay: api.Duration(10 * time.Millisecond), Mode: "fail"}
	}
	cases := []struct {
		name         string
		jobType      string
		policy       *api.RestartPolicy
		taskPolicy   *api.RestartPolicy // the task's own
		cfg          map[string]any
		wantStatus   string
		wantRestarts int
		wantStarts   int
		wantEvent    string
	}{
		{"a failing task is restarted its attempts, then fails the allocation", api.JobTypeBatch, fail(2), nil, runFor("10ms", 1),
			api.AllocClientFailed, 2, 3, "Not Restarting"},
		{"a batch task that succeeds is not restarted", api.JobTypeBatch, fail(2), nil, runFor("10ms", 0),
			api.AllocClientComplete, 0, 1, "Terminated"},
		{"a service task that keeps exiting fails once its attempts are used", api.JobTypeService, fail(1), nil, runFor("10ms", 0),
			api.AllocClientFailed, 1, 2, "Not Restarting"},
		{"without a restart policy the first failure fails the allocation", api.JobTypeBatch, nil, nil, runFor("10ms", 1),
			api.AllocClientFailed, 0, 1, "Terminated"},
		{"a task its driver cannot start uses its attempts too", api.JobTypeBatch, fail(1), nil, map[string]any{"start_error": "boom"},
			api.AllocClientFailed, 1, 0, "Driver Failure"},
		{"a task's own restart policy is the one applied", api.JobTypeBatch, fail(0), fail(3), runFor("10ms", 1),
			api.AllocClientFailed, 3, 4, "Not Restarting"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			j := newJob(c.jobType, mockTask("t", c.cfg))
			j.Groups[0].Restart = c.policy
			j.Groups[0].Tasks[0].Restart = c.taskPolicy
			a := h.place(j)
			st := h.waitTerminal(a)
			ts := st.Tasks["t"]
			if st.ClientStatus != c.wantStatus || ts.Restarts != c.wantRestarts {
				t.Fatalf("client status %s after %d restarts, want %s after %d; events %v",
					st.ClientStatus, ts.Restarts, c.wantStatus, c.wantRestarts, eventTypes(ts))
			}
			if n := h.mock.startsOf(a.ID, "t"); n != c.wantStarts {
				t.Fatalf("started %d times, want %d", n, c.wantStarts)
			}
			if !hasEvent(ts, c.wantEvent, "") {
				t.Fatalf("events %v, want a %s event", eventTypes(ts), c.wantEvent)
			}
		})
	}
}

func TestRestartModeDelayKeepsRestartingPastTheAttempts(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	j := newJob(api.JobTypeBatch, mockTask("t", runFor("10ms", 1)))
	const interval = 300 * time.Millisecond
	j.Groups[0].Restart = &api.RestartPolicy{Attempts: 1, Interval: api.Duration(interval), Delay: api.Duration(10 * time.Millisecond), Mode: "delay"}
	placed := time.Now()
	a := h.place(j)
	// A restart is counted when it is scheduled: the fourth follows the
	// run of the third, which waited for two intervals after the first.
	st := h.waitStatus(a, "four restarts", func(st *api.AllocStatus) bool { return st.Tasks["t"].Restarts >= 4 })
	if api.IsTerminalClientStatus(st.ClientStatus) {
		t.Fatalf("client status %s after %d restarts of a policy in mode delay", st.ClientStatus, st.Tasks["t"].Restarts)
	}
	if took := time.Since(placed); took < 2*interval {
		t.Fatalf("four restarts took %v, less than two intervals of %v", took, interval)
	}
	h.stopAlloc(a)
	if st := h.waitTerminal(a); st.ClientStatus != api.AllocClientComplete {
		t.Fatalf("client status %s after a stop, want complete", st.ClientStatus)
	}
}
