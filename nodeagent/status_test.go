package nodeagent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

func TestClientStatusTransitionsAsTheTasksRun(t *testing.T) {
	t.Parallel()
	once := &api.RestartPolicy{Attempts: 1, Interval: api.Duration(time.Minute), Delay: api.Duration(10 * time.Millisecond), Mode: "fail"}
	cases := []struct {
		name    string
		task    *api.Task
		restart *api.RestartPolicy
		noJob   bool
		want    []string
		wantWhy string
	}{
		{name: "a task that completes", task: mockTask("t", runFor("20ms", 0)),
			want: []string{api.AllocClientRunning, api.AllocClientComplete}, wantWhy: "all tasks have completed"},
		{name: "a task that fails", task: mockTask("t", runFor("20ms", 1)),
			want: []string{api.AllocClientRunning, api.AllocClientFailed}, wantWhy: "a task failed"},
		{name: "a task its driver cannot start", task: mockTask("t", map[string]any{"start_error": "no"}),
			want: []string{api.AllocClientFailed}, wantWhy: "a task failed"},
		{name: "a task its driver cannot start, tried again", task: mockTask("t", map[string]any{"start_error": "no"}), restart: once,
			want: []string{api.AllocClientPending, api.AllocClientFailed}, wantWhy: "a task failed"},
		{name: "a task whose driver the node lacks", task: mockTask("t", nil, func(t *api.Task) { t.Driver = "nope" }),
			want: []string{api.AllocClientFailed}, wantWhy: "a task failed"},
		{name: "an allocation whose job cannot be read", task: mockTask("t", forever()), noJob: true,
			want: []string{api.AllocClientFailed}, wantWhy: "reading job"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			j := newJob(api.JobTypeBatch, c.task)
			j.Groups[0].Restart = c.restart
			var a *api.Allocation
			if c.noJob {
				a = &api.Allocation{ID: api.NewID(), Name: "gone.g[0]", Namespace: j.Namespace, JobID: j.ID, TaskGroup: "g",
					NodeID: h.agent.NodeID(), DesiredStatus: api.AllocDesiredRun}
				h.store.putAlloc(a)
			} else {
				a = h.place(j)
			}
			h.waitTerminal(a)
			st := h.waitFinished(a)
			if got := h.store.clientStatuses(h.agent.NodeID(), a.ID); !slices.Equal(got, c.want) {
				t.Fatalf("client statuses written %v, want %v", got, c.want)
			}
			if !strings.Contains(st.Description, c.wantWhy) {
				t.Fatalf("description %q, want %q", st.Description, c.wantWhy)
			}
		})
	}
}

func TestTaskEventsTellATasksLife(t *testing.T) {
	t.Parallel()
	once := &api.RestartPolicy{Attempts: 1, Interval: api.Duration(time.Minute), Delay: api.Duration(10 * time.Millisecond), Mode: "fail"}
	cases := []struct {
		name    string
		cfg     map[string]any
		restart *api.RestartPolicy
		want    []string
	}{
		{"a task that runs to completion", runFor("10ms", 0), nil,
			[]string{"Received", "Task Setup", "Started", "Terminated"}},
		{"a task that fails and is restarted once", runFor("10ms", 1), once,
			[]string{"Received", "Task Setup", "Started", "Terminated", "Restarting", "Task Setup", "Started", "Terminated", "Not Restarting"}},
		{"a task its driver cannot start", map[string]any{"start_error": "no such image"}, nil,
			[]string{"Received", "Task Setup", "Driver Failure", "Not Restarting"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			j := newJob(api.JobTypeBatch, mockTask("t", c.cfg))
			j.Groups[0].Restart = c.restart
			a := h.place(j)
			h.waitTerminal(a)
			ts := h.waitFinished(a).Tasks["t"]
			if got := eventTypes(ts); !slices.Equal(got, c.want) {
				t.Fatalf("events %q, want %q", got, c.want)
			}
		})
	}
}

func TestTasksGetTheRuntimeEnvironmentAndDirectories(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	task := mockTask("web", runFor("10ms", 0), func(t *api.Task) {
		t.Env = map[string]string{"GREETING": "hello"}
		t.Meta = map[string]string{"tier": "front"}
	})
	j := newJob(api.JobTypeBatch, task)
	j.Meta = map[string]string{"owner": "ops"}
	a := h.place(j, func(a *api.Allocation) {
		a.Index = 2
		a.Ports = []api.AllocatedPort{{Label: "http", Value: 25000}}
	})
	h.waitTerminal(a)
	tc := h.mock.config(a.ID, "web")
	if tc == nil {
		t.Fatal("the task was not started")
	}
	env := map[string]string{}
	for _, kv := range tc.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	allocDir := filepath.Join(h.dir, "alloc", a.ID)
	want := []struct{ name, value string }{
		{"NOMAD_ALLOC_ID", a.ID},
		{"NOMAD_SHORT_ALLOC_ID", api.ShortID(a.ID)},
		{"NOMAD_ALLOC_NAME", a.Name},
		{"NOMAD_ALLOC_INDEX", "2"},
		{"NOMAD_JOB_ID", j.ID},
		{"NOMAD_JOB_NAME", j.Name},
		{"NOMAD_GROUP_NAME", "g"},
		{"NOMAD_TASK_NAME", "web"},
		{"NOMAD_NAMESPACE", api.DefaultNamespace},
		{"NOMAD_DC", "dc-test"},
		{"NOMAD_NODE_ID", h.agent.NodeID()},
		{"NOMAD_NODE_NAME", "test-node"},
		{"NOMAD_CPU_LIMIT", "10"},
		{"NOMAD_MEMORY_LIMIT", "10"},
		{"NOMAD_META_owner", "ops"},
		{"NOMAD_META_tier", "front"},
		{"NOMAD_PORT_http", "25000"},
		{"NOMAD_ADDR_http", "127.0.0.1:25000"},
		{"NOMAD_ALLOC_DIR", filepath.Join(allocDir, "alloc")},
		{"NOMAD_TASK_DIR", filepath.Join(allocDir, "web", "local")},
		{"NOMAD_SECRETS_DIR", filepath.Join(allocDir, "web", "secrets")},
		{"NOMADIC_ALLOC_ID", a.ID},
		{"GREETING", "hello"},
	}
	for _, w := range want {
		t.Run(w.name, func(t *testing.T) {
			if got, ok := env[w.name]; !ok || got != w.value {
				t.Fatalf("%s=%q (set %v), want %q", w.name, got, ok, w.value)
			}
		})
	}
	for _, dir := range []string{env["NOMAD_TASK_DIR"], env["NOMAD_SECRETS_DIR"], filepath.Join(allocDir, "alloc", "logs")} {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Errorf("directory %s: %v", dir, err)
		}
	}
}

func TestOperatorRequestsAreCarriedOutOnce(t *testing.T) {
	t.Parallel()
	restarts := &api.RestartPolicy{Attempts: 3, Interval: api.Duration(time.Minute), Delay: api.Duration(10 * time.Millisecond), Mode: "fail"}
	cases := []struct {
		name       string
		atPlace    bool // the request is there before the tasks start
		request    func(a *api.Allocation)
		done       func(st *api.AllocStatus) bool
		wantStarts int
		wantLog    string
	}{
		{name: "a restart request restarts the task in place",
			request: func(a *api.Allocation) { a.Restart = &api.TaskRequest{ID: "r1"} },
			done: func(st *api.AllocStatus) bool {
				return st.HandledRestart == "r1" && st.Tasks["t"].Restarts == 1 && st.Tasks["t"].State == api.TaskStateRunning
			},
			wantStarts: 2, wantLog: "stop t SIGTERM"},
		{name: "a restart request made while the agent was away is carried out once the task runs", atPlace: true,
			request: func(a *api.Allocation) { a.Restart = &api.TaskRequest{ID: "r0", Task: "t"} },
			done: func(st *api.AllocStatus) bool {
				return st.HandledRestart == "r0" && st.Tasks["t"].Restarts == 1 && st.Tasks["t"].State == api.TaskStateRunning
			},
			wantStarts: 2, wantLog: "stop t SIGTERM"},
		{name: "a signal request reaches the task",
			request: func(a *api.Allocation) { a.Signal = &api.TaskRequest{ID: "s1", Signal: "SIGUSR1"} },
			done:    func(st *api.AllocStatus) bool { return st.HandledSignal == "s1" },
			wantLog: "signal t SIGUSR1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			j := newJob(api.JobTypeService, mockTask("t", forever()))
			j.Groups[0].Restart = restarts
			var a *api.Allocation
			if c.atPlace {
				a = h.place(j, c.request)
			} else {
				a = h.place(j)
				h.waitRunning(a, "t")
				h.change(a, c.request)
			}
			st := h.waitStatus(a, "the request carried out", c.done)
			if _, ok := h.log.at(c.wantLog); !ok {
				t.Fatalf("no %q; log %q", c.wantLog, h.log.all())
			}
			if n := h.mock.startsOf(a.ID, "t"); c.wantStarts > 0 && n != c.wantStarts {
				t.Fatalf("started %d times, want %d", n, c.wantStarts)
			}
			if st.ClientStatus != api.AllocClientRunning {
				t.Fatalf("client status %s, want running", st.ClientStatus)
			}
		})
	}
}

func TestAnAllocationWaitsForItsJobVersionToBeCopiedToTheNode(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.JobWait = 20 * time.Second })
	j := newJob(api.JobTypeService, mockTask("t", forever()))
	a := &api.Allocation{ID: api.NewID(), Name: j.ID + ".g[0]", Namespace: j.Namespace, JobID: j.ID, JobVersion: j.Version,
		TaskGroup: "g", NodeID: h.agent.NodeID(), DesiredStatus: api.AllocDesiredRun}
	h.store.putAlloc(a)
	// The leader's copy arrives after the allocation.
	time.Sleep(700 * time.Millisecond)
	h.store.putJob(j)
	h.waitRunning(a, "t")
}

// flakyRelay hands statuses to the store while it is up, and fails while
// it is down.
type flakyRelay struct {
	mu      sync.Mutex
	store   *fakeStore
	down    bool
	relayed int
	failed  int
}

func (r *flakyRelay) PutAllocStatuses(ctx context.Context, node string, statuses map[string]*api.AllocStatus) error {
	r.mu.Lock()
	st, down := r.store, r.down
	if down || st == nil {
		r.failed++
	} else {
		r.relayed += len(statuses)
	}
	r.mu.Unlock()
	if down || st == nil {
		return errors.New("relay down")
	}
	return st.PutAllocStatuses(ctx, node, statuses)
}

func (r *flakyRelay) set(f func(*flakyRelay)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r)
}

func (r *flakyRelay) counts() (relayed, failed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.relayed, r.failed
}

// Statuses go through the servers' relay while it works; when it fails,
// the agent writes them itself, and keeps doing so for a while rather
// than trying a failing relay for every write.
func TestStatusesGoThroughTheRelayAndToEtcdWhenItFails(t *testing.T) {
	t.Parallel()
	relay := &flakyRelay{}
	h := newHarness(t, func(c *Config) { c.StatusRelay = relay })
	relay.set(func(r *flakyRelay) { r.store = h.store })

	first := h.place(newJob(api.JobTypeService, mockTask("t", forever())))
	h.waitRunning(first, "t")
	if relayed, failed := relay.counts(); relayed == 0 || failed != 0 {
		t.Fatalf("with the relay up: %d statuses relayed, %d relay failures", relayed, failed)
	}

	relay.set(func(r *flakyRelay) { r.down = true })
	before, _ := relay.counts()
	second := h.place(newJob(api.JobTypeService, mockTask("t", forever())))
	h.waitRunning(second, "t")
	third := h.place(newJob(api.JobTypeService, mockTask("t", forever())))
	h.waitRunning(third, "t")
	relayed, failed := relay.counts()
	if relayed != before || failed != 1 {
		t.Fatalf("with the relay down: %d more statuses relayed, %d relay attempts failed; want 0 and 1 (then a pause)", relayed-before, failed)
	}
}
