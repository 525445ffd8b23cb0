package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestTablesMatchTheirGoldenFiles prints fixed objects in every table
// format and compares with testdata/*.golden (go test -update rewrites).
func TestTablesMatchTheirGoldenFiles(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	nowFunc = func() time.Time { return now }
	defer func() { nowFunc = time.Now }()
	code := 3
	jobs := []*api.Job{
		{ID: "web", Namespace: "default", Type: "service", Status: "running", Version: 4, Priority: 50, Datacenters: []string{"dc1", "dc2"},
			SubmitTime: now.Add(-3 * time.Minute), Groups: []*api.TaskGroup{{Name: "frontend", Count: 3}}},
		{ID: "nightly-report", Namespace: "default", Type: "batch", Status: "dead", Version: 0, Priority: 30, Datacenters: []string{"*"},
			SubmitTime: now.Add(-50 * time.Hour), Groups: []*api.TaskGroup{{Name: "g", Count: 1}, {Name: "h", Count: 2}}},
	}
	allocs := []*api.Allocation{
		{ID: "0a1b2c3d-0000-4000-8000-000000000001", Name: "web.frontend[0]", JobID: "web", TaskGroup: "frontend", NodeID: "9f8e7d6c-0000-4000-8000-000000000001",
			DesiredStatus: "run", JobVersion: 4, CreateTime: now.Add(-90 * time.Second), Resources: api.Resources{CPU: 500, MemoryMB: 256},
			Status: &api.AllocStatus{ClientStatus: "running", Description: "tasks are running"}},
		{ID: "0a1b2c3d-0000-4000-8000-000000000002", Name: "web.frontend[1]", JobID: "web", TaskGroup: "frontend", NodeID: "9f8e7d6c-0000-4000-8000-000000000002",
			DesiredStatus: "stop", DesiredDescription: "node is down: allocation lost", NodeLost: true, JobVersion: 3, CreateTime: now.Add(-2 * time.Hour),
			Resources: api.Resources{CPU: 500, MemoryMB: 256}},
		{ID: "0a1b2c3d-0000-4000-8000-000000000003", Name: "nightly-report.g[0]", JobID: "nightly-report", TaskGroup: "g", NodeID: "9f8e7d6c-0000-4000-8000-000000000001",
			DesiredStatus: "run", CreateTime: now.Add(-49 * time.Hour), Resources: api.Resources{CPU: 100, MemoryMB: 300},
			Status: &api.AllocStatus{ClientStatus: "failed", Description: "a task failed", Tasks: map[string]*api.TaskState{"t": {State: "dead", Failed: true, ExitCode: &code}}}},
	}
	nodes := []*api.Node{
		{ID: "9f8e7d6c-0000-4000-8000-000000000001", Name: "worker-1", Datacenter: "dc1", NodePool: "default", Status: "ready", Eligible: true,
			Drivers:   map[string]*api.DriverInfo{"raw_exec": {Detected: true, Healthy: true}, "containerd": {Detected: true, Healthy: true}, "exec": {Detected: true, Healthy: false}},
			Resources: api.Resources{CPU: 8000, MemoryMB: 16384}, Attributes: map[string]string{"unique.hostname": "worker-1.example"}, RegisterTime: now.Add(-72 * time.Hour)},
		{ID: "9f8e7d6c-0000-4000-8000-000000000002", Name: "worker-2", Datacenter: "dc2", NodePool: "default", Status: "down", Eligible: false,
			Drivers: map[string]*api.DriverInfo{}, Resources: api.Resources{CPU: 4000, MemoryMB: 8192}, RegisterTime: now.Add(-30 * time.Second)},
	}
	evals := []*api.Evaluation{
		{ID: "e1e2e3e4-0000-4000-8000-000000000001", JobID: "web", TriggeredBy: "job-register", Status: "complete", PlacedAllocs: 3, CreateTime: now.Add(-3 * time.Minute)},
		{ID: "e1e2e3e4-0000-4000-8000-000000000002", JobID: "web", TriggeredBy: "node-update", NodeID: "9f8e7d6c-0000-4000-8000-000000000002", Status: "blocked",
			StatusDescription: "some allocations could not be placed", StoppedAllocs: 1, CreateTime: now.Add(-1 * time.Minute)},
	}
	deployments := []*api.Deployment{
		{ID: "d1d2d3d4-0000-4000-8000-000000000001", JobID: "web", JobVersion: 4, Status: "running", StatusDescription: "deployment is running",
			CreateTime: now.Add(-2 * time.Minute), Groups: map[string]*api.DeploymentGroup{
				"frontend": {DesiredTotal: 3, DesiredCanaries: 1, HealthyAllocs: 1},
				"backend":  {DesiredTotal: 2, HealthyAllocs: 2}}},
		{ID: "d1d2d3d4-0000-4000-8000-000000000002", JobID: "web", JobVersion: 3, Status: "successful",
			CreateTime: now.Add(-5 * time.Hour), Groups: map[string]*api.DeploymentGroup{"frontend": {DesiredTotal: 3, HealthyAllocs: 3}}},
	}
	servers := []*api.Server{
		{Name: "server-1", HTTPAddr: "10.0.0.1:4646", Version: "0.9.0", Leader: true, StartTime: now.Add(-26 * time.Hour)},
		{Name: "server-2", HTTPAddr: "10.0.0.2:4646", Version: "0.9.0", StartTime: now.Add(-10 * time.Second)},
	}
	services := []*api.ServiceSummary{
		{Name: "web", Namespace: "default", Instances: 3, Healthy: 2, Tags: []string{"http", "public"}},
		{Name: "db", Namespace: "prod", Instances: 1, Healthy: 1},
	}
	instances := []*api.ServiceRegistration{
		{ID: "_nomad-task-1", ServiceName: "web", AllocID: "0a1b2c3d-0000-4000-8000-000000000001", NodeID: "9f8e7d6c-0000-4000-8000-000000000001",
			Address: "10.0.0.5", Port: 8080, Checks: []api.CheckStatus{{Name: "alive", Status: api.CheckPassing}, {Name: "ready", Status: api.CheckCritical}}},
		{ID: "_nomad-task-2", ServiceName: "web", AllocID: "0a1b2c3d-0000-4000-8000-000000000002", NodeID: "9f8e7d6c-0000-4000-8000-000000000002",
			Address: "fd00::6", Port: 8080},
	}
	for name, objs := range map[string]any{"jobs": jobs, "allocs": allocs, "nodes": nodes, "evals": evals,
		"deployments": deployments, "servers": servers, "services": services, "instances": instances} {
		for _, output := range []string{"", "wide", "name"} {
			var buf bytes.Buffer
			if err := printTable(&buf, objs, output, true); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join("testdata", name+"-"+map[string]string{"": "table", "wide": "wide", "name": "name"}[output]+".golden")
			if *update {
				if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/nctl -update)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs from its golden file:\n%s", file, buf.String())
			}
		}
	}
}

func TestStatusColoursKeepTheTableAligned(t *testing.T) {
	table := "ID         STATUS    AGE\nabc        running   3s\nabcdef     failed    1m\nx          other     2h\n"
	got := colorColumns(table, "STATUS")
	want := "ID         STATUS    AGE\nabc        " + green + "running" + reset + "   3s\nabcdef     " + red + "failed" + reset + "    1m\nx          other     2h\n"
	if got != want {
		t.Fatalf("got:\n%q\nwant:\n%q", got, want)
	}
	// Stripped of colour, the table is what it was.
	if plain := strings.NewReplacer(green, "", red, "", reset, "").Replace(got); plain != table {
		t.Fatalf("colour moved text: %q", plain)
	}
	var b strings.Builder
	if colorOn(&b) {
		t.Fatal("colour on a non-terminal writer")
	}
}
