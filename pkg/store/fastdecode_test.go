package store

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// fastRecords are records of the shape the fast decoders take: what
// servers store for allocations and what agents report.
func fastRecords(t testing.TB) (allocs, statuses [][]byte) {
	now := time.Date(2026, 12, 3, 7, 42, 30, 720000000, time.UTC)
	exit := 3
	plain := &api.Allocation{ID: "3f1c2d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f", Name: "c1m-0042.app[517]", Namespace: "default",
		JobID: "c1m-0042", TaskGroup: "app", Index: 517, NodeID: "sim-000001234",
		EvalID: "7a1c2d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f", Resources: api.Resources{CPU: 20, MemoryMB: 10},
		DesiredStatus: api.AllocDesiredRun, CreateTime: now}
	full := *plain
	full.JobVersion, full.JobPriority = 7, 70
	full.Resources = api.Resources{CPU: 500, Cores: 2, MemoryMB: 256, MemoryMax: -1, DiskMB: 300}
	full.DesiredStatus, full.DesiredDescription = api.AllocDesiredStop, "alloc is being migrated"
	full.NodeLost, full.Migrate, full.Migrated, full.Canary = true, true, true, true
	full.DisconnectTime = now.Add(time.Minute)
	full.PreviousAllocation, full.NextAllocation, full.PreemptedBy = "prev-1", "next-2", "pre-3"
	full.DeploymentID = "dep-9"
	full.ModifyTime = now.Add(time.Hour).In(time.FixedZone("x", 3600))
	for _, a := range []*api.Allocation{plain, withoutStatus(plain), &full, withoutStatus(&full)} {
		allocs = append(allocs, mustJSON(t, a))
	}
	st := &api.AllocStatus{ClientStatus: api.AllocClientRunning, UpdateTime: now,
		Tasks: map[string]*api.TaskState{"web": {State: api.TaskStateRunning, StartedAt: now}}}
	dead := &api.AllocStatus{ClientStatus: api.AllocClientFailed, Description: "task failed", NetworkAddress: "10.1.2.3",
		HandledRestart: "r-1", HandledSignal: "s-2", UpdateTime: now,
		Tasks: map[string]*api.TaskState{
			"web": {State: api.TaskStateDead, Failed: true, ExitCode: &exit, PID: 4242, Restarts: 2, StartedAt: now, FinishedAt: now.Add(time.Second),
				Events: []api.TaskEvent{{Time: now, Type: "Started"}, {Time: now, Type: "Terminated", Message: "exit 3"}},
				Handle: map[string]string{"container": "c-1", "pid": "4242"}},
			"log": {State: api.TaskStatePending, Events: []api.TaskEvent{}},
		}}
	for _, s := range []*api.AllocStatus{st, storedStatus(st), dead, storedStatus(dead), {ClientStatus: "pending"}} {
		statuses = append(statuses, mustJSON(t, s))
	}
	return allocs, statuses
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameAsJSON checks that the fast decoder, when it takes b, gives what
// encoding/json gives; it reports whether it took it.
func sameAsJSON[T any](t *testing.T, b []byte, in *interner) bool {
	t.Helper()
	fast := fastDecode[T](b, in)
	var want T
	err := json.Unmarshal(b, &want)
	if fast == nil {
		return false
	}
	if err != nil {
		t.Fatalf("the fast decoder took %s, which encoding/json refuses: %v", b, err)
	}
	if !reflect.DeepEqual(*fast, want) {
		t.Fatalf("%s:\nfast %+v\njson %+v", b, *fast, want)
	}
	return true
}

func TestFastDecodeMatchesJSON(t *testing.T) {
	allocs, statuses := fastRecords(t)
	in := newInterner()
	for _, b := range allocs {
		if !sameAsJSON[api.Allocation](t, b, in) {
			t.Errorf("the fast decoder declined %s", b)
		}
	}
	for _, b := range statuses {
		if !sameAsJSON[api.AllocStatus](t, b, in) {
			t.Errorf("the fast decoder declined %s", b)
		}
	}
	// Interned strings are shared between records.
	a1, a2 := fastDecode[api.Allocation](allocs[0], in), fastDecode[api.Allocation](allocs[1], in)
	if a1 == nil || a2 == nil || a1.NodeID != a2.NodeID || unsafeData(a1.NodeID) != unsafeData(a2.NodeID) {
		t.Errorf("node IDs not interned")
	}

	// What it leaves to encoding/json, which then decodes it (or refuses
	// it) as it always did.
	plain := string(allocs[1])
	declined := map[string]string{
		"unknown field":         strings.Replace(plain, `"id":`, `"ports":[{"label":"http","value":8080}],"id":`, 1),
		"field in another case": strings.Replace(plain, `"id":`, `"ID":`, 1),
		"escape":                strings.Replace(plain, `"default"`, `"def\u0061ult"`, 1),
		"non-ASCII":             strings.Replace(plain, `"default"`, `"défault"`, 1),
		"null":                  strings.Replace(plain, `"default"`, `null`, 1),
		"fraction":              strings.Replace(plain, `"index":517`, `"index":517.0`, 1),
		"exponent":              strings.Replace(plain, `"index":517`, `"index":5e2`, 1),
		"leading zero":          strings.Replace(plain, `"index":517`, `"index":0517`, 1),
		"too many digits":       strings.Replace(plain, `"index":517`, `"index":99999999999999999999`, 1),
		"string for a number":   strings.Replace(plain, `"index":517`, `"index":"517"`, 1),
		"bad time":              strings.Replace(plain, `"create_time":"`, `"create_time":"x`, 1),
		"trailing data":         plain + `{}`,
		"truncated":             plain[:len(plain)-1],
		"not an object":         `[` + plain + `]`,
		"top-level null":        `null`,
		"devices":               strings.Replace(plain, `"cpu":20`, `"cpu":20,"devices":[{"name":"gpu","count":1}]`, 1),
		"negative unsigned":     strings.Replace(plain, `"index":517`, `"index":517,"job_version":-1`, 1),
	}
	for name, b := range declined {
		if sameAsJSON[api.Allocation](t, []byte(b), in) {
			t.Errorf("%s: the fast decoder took %s", name, b)
		}
		var want api.Allocation
		wantErr := json.Unmarshal([]byte(b), &want)
		got, err := decode[api.Allocation]("k", []byte(b))
		if (err != nil) != (wantErr != nil) {
			t.Errorf("%s: decode error %v, encoding/json's %v", name, err, wantErr)
		} else if err == nil {
			readAllocRecord(&want)
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("%s: decode gives %+v, encoding/json %+v", name, *got, want)
			}
		}
	}
	// A second "events" is decoded by encoding/json over the first.
	twice := `{"client_status":"running","tasks":{"t":{"state":"running","events":[{"type":"a","message":"m"}],"events":[{"type":"b"}]}},"update_time":"2026-12-03T07:42:30Z"}`
	if sameAsJSON[api.AllocStatus](t, []byte(twice), in) {
		t.Errorf("the fast decoder took two events arrays")
	}
	// Repeated keys that it takes: the last wins, maps and objects merge.
	merged := `{"client_status":"pending","tasks":{"a":{"state":"x","handle":{"k":"1"},"handle":{"j":"2"}}},"client_status":"running","tasks":{"b":{"state":"y","exit_code":1,"exit_code":2}},"update_time":"2026-12-03T07:42:30Z"}`
	if !sameAsJSON[api.AllocStatus](t, []byte(merged), in) {
		t.Errorf("the fast decoder declined %s", merged)
	}
	resources := strings.Replace(plain, `"index":517`, `"resources":{"disk":5},"index":517`, 1)
	if !sameAsJSON[api.Allocation](t, []byte(resources), in) {
		t.Errorf("the fast decoder declined %s", resources)
	}
}

func TestFastStatusRelayMatchesJSON(t *testing.T) {
	_, statuses := fastRecords(t)
	body := `{"statuses":{"a1":` + string(statuses[0]) + `,"a2":` + string(statuses[2]) + `}}`
	for _, b := range []string{body, `{}`, `{"statuses":{}}`, `{"statuses":{"a1":` + string(statuses[1]) + `},"statuses":{"a2":` + string(statuses[3]) + `}}`} {
		if !sameRelayAsJSON(t, []byte(b)) {
			t.Errorf("the fast decoder declined %s", b)
		}
	}
	for _, b := range []string{`{"statuses":null}`, `{"statuses":{"a1":null}}`, `{"other":{}}`, `{"statuses":{"a\u0031":{}}}`, body + ` x`} {
		if sameRelayAsJSON(t, []byte(b)) {
			t.Errorf("the fast decoder took %s", b)
		}
	}
}

func sameRelayAsJSON(t *testing.T, b []byte) bool {
	t.Helper()
	fast, ok := DecodeStatusRelay(b)
	var want api.StatusRelayRequest
	err := json.Unmarshal(b, &want)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("the fast decoder took %s, which encoding/json refuses: %v", b, err)
	}
	if !reflect.DeepEqual(fast, want.Statuses) {
		t.Fatalf("%s:\nfast %+v\njson %+v", b, fast, want.Statuses)
	}
	return true
}

func TestInternerIsBounded(t *testing.T) {
	in := newInterner()
	for i := range internMax + 10 {
		in.str([]byte(strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune(i))))
	}
	if len(in.m) > internMax {
		t.Fatalf("%d strings held, at most %d", len(in.m), internMax)
	}
	var none *interner
	if none.str([]byte("a")) != "a" {
		t.Fatal("a nil interner must copy")
	}
}

// FuzzFastDecode checks that whatever the fast decoders take, encoding/json
// decodes the same way (go test -fuzz FastDecode ./pkg/store).
func FuzzFastDecode(f *testing.F) {
	allocs, statuses := fastRecords(f)
	for _, b := range append(allocs, statuses...) {
		f.Add(b)
	}
	f.Add([]byte(`{"statuses":{"a1":` + string(statuses[3]) + `}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sameAsJSON[api.Allocation](t, b, newInterner())
		sameAsJSON[api.AllocStatus](t, b, newInterner())
		sameRelayAsJSON(t, b)
	})
}

func BenchmarkDecodeAlloc(b *testing.B) {
	allocs, _ := fastRecords(b)
	v := allocs[1]
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var a api.Allocation
			if err := json.Unmarshal(v, &a); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		in := newInterner()
		b.ReportAllocs()
		for b.Loop() {
			if fastDecode[api.Allocation](v, in) == nil {
				b.Fatal("declined")
			}
		}
	})
}

func BenchmarkDecodeStatus(b *testing.B) {
	_, statuses := fastRecords(b)
	v := statuses[1]
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var st api.AllocStatus
			if err := json.Unmarshal(v, &st); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		in := newInterner()
		b.ReportAllocs()
		for b.Loop() {
			if fastDecode[api.AllocStatus](v, in) == nil {
				b.Fatal("declined")
			}
		}
	})
}

func unsafeData(s string) *byte { return unsafe.StringData(s) }
