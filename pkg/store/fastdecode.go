package store

import (
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// The two records a server decodes most — an allocation's desired state
// and its status, each written once or twice per allocation and decoded
// by every server's cache from the watch — have a fast decoder for the
// shape they have nearly always: the fields below, strings of printable
// ASCII without escapes, integers, booleans and times. Anything else (a
// field they do not handle, an escape, a null, a number with a fraction,
// a byte past ASCII, trailing data) makes them decline, and the record is
// decoded by encoding/json instead; so the result is always what
// json.Unmarshal gives (FuzzFastDecode checks that). encoding/json spends
// 6.6 µs and 15 allocations on a typical allocation record; see
// BenchmarkDecodeAlloc.

// fastDecode decodes allocation records and statuses with the fast
// decoders; nil for other types and for records they decline.
func fastDecode[T any](b []byte, in *interner) *T {
	var v any
	var ok bool
	switch any((*T)(nil)).(type) {
	case *api.Allocation:
		v, ok = fastAlloc(b, in)
	case *api.AllocStatus:
		v, ok = fastStatus(b, in)
	}
	if !ok {
		return nil
	}
	return v.(*T)
}

// interner hands out one copy of strings that many records repeat (a
// node's, a job's, an evaluation's ID), so that a million cached
// allocations do not hold a million copies of each. It is not safe for
// concurrent use; nil interns nothing. It holds at most internMax strings
// and starts over when full, so IDs of objects long gone are not kept.
type interner struct{ m map[string]string }

const internMax = 1 << 16

func newInterner() *interner { return &interner{m: make(map[string]string)} }

func (in *interner) str(b []byte) string {
	if in == nil {
		return string(b)
	}
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	if len(in.m) >= internMax {
		clear(in.m)
	}
	s := string(b)
	in.m[s] = s
	return s
}

// scanner reads a JSON text of the subset the fast decoders take.
type scanner struct {
	b  []byte
	i  int
	in *interner
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next consumes c after optional whitespace.
func (s *scanner) next(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// raw returns a string's bytes, quotes excluded; false for a string with
// an escape, a control character or a byte past ASCII.
func (s *scanner) raw() ([]byte, bool) {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return s.b[start:j], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
	}
	return nil, false
}

func (s *scanner) str(dst *string) bool {
	b, ok := s.raw()
	if ok {
		*dst = string(b)
	}
	return ok
}

// istr is str for strings many records share.
func (s *scanner) istr(dst *string) bool {
	b, ok := s.raw()
	if ok {
		*dst = s.in.str(b)
	}
	return ok
}

// delimited reports whether the value just read ends where a JSON value
// may end.
func (s *scanner) delimited() bool {
	if s.i == len(s.b) {
		return true
	}
	switch s.b[s.i] {
	case ' ', '\t', '\n', '\r', ',', '}', ']':
		return true
	}
	return false
}

// integer reads an integer of at most 18 digits (no fraction, no
// exponent), so it cannot overflow.
func (s *scanner) integer(signed bool) (int64, bool) {
	s.ws()
	neg := false
	if signed && s.i < len(s.b) && s.b[s.i] == '-' {
		neg = true
		s.i++
	}
	start := s.i
	var n int64
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		n = n*10 + int64(s.b[s.i]-'0')
		s.i++
	}
	digits := s.i - start
	if digits == 0 || digits > 18 || (digits > 1 && s.b[start] == '0') || !s.delimited() {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

func (s *scanner) int(dst *int) bool {
	n, ok := s.integer(true)
	*dst = int(n)
	return ok
}

func (s *scanner) uint64(dst *uint64) bool {
	n, ok := s.integer(false)
	*dst = uint64(n)
	return ok
}

func (s *scanner) bool(dst *bool) bool {
	s.ws()
	switch {
	case len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "true":
		s.i += 4
		*dst = true
	case len(s.b)-s.i >= 5 && string(s.b[s.i:s.i+5]) == "false":
		s.i += 5
		*dst = false
	default:
		return false
	}
	return s.delimited()
}

// time reads a time as encoding/json does, through time.Time's
// UnmarshalJSON.
func (s *scanner) time(dst *time.Time) bool {
	s.ws()
	start := s.i
	if _, ok := s.raw(); !ok {
		return false
	}
	return dst.UnmarshalJSON(s.b[start:s.i]) == nil
}

// object reads an object, handing each key to field, which reads the
// value.
func (s *scanner) object(field func(key []byte) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	for {
		k, ok := s.raw()
		if !ok || !s.next(':') || !field(k) {
			return false
		}
		if s.next(',') {
			continue
		}
		return s.next('}')
	}
}

// end reports whether only whitespace is left.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// fastAlloc decodes an allocation record, or reports false for one to
// leave to encoding/json.
func fastAlloc(b []byte, in *interner) (*api.Allocation, bool) {
	s := &scanner{b: b, in: in}
	a := &api.Allocation{}
	ok := s.object(func(k []byte) bool {
		switch string(k) {
		case "id":
			return s.str(&a.ID)
		case "name":
			return s.str(&a.Name)
		case "namespace":
			return s.istr(&a.Namespace)
		case "job_id":
			return s.istr(&a.JobID)
		case "job_version":
			return s.uint64(&a.JobVersion)
		case "job_priority":
			return s.int(&a.JobPriority)
		case "task_group":
			return s.istr(&a.TaskGroup)
		case "index":
			return s.int(&a.Index)
		case "node_id":
			return s.istr(&a.NodeID)
		case "eval_id":
			return s.istr(&a.EvalID)
		case "resources":
			return s.resources(&a.Resources)
		case "desired_status":
			return s.istr(&a.DesiredStatus)
		case "desired_description":
			return s.istr(&a.DesiredDescription)
		case "node_lost":
			return s.bool(&a.NodeLost)
		case "disconnect_time":
			return s.time(&a.DisconnectTime)
		case "previous_allocation":
			return s.str(&a.PreviousAllocation)
		case "next_allocation":
			return s.str(&a.NextAllocation)
		case "preempted_by":
			return s.str(&a.PreemptedBy)
		case "migrate":
			return s.bool(&a.Migrate)
		case "migrated":
			return s.bool(&a.Migrated)
		case "canary":
			return s.bool(&a.Canary)
		case "deployment_id":
			return s.istr(&a.DeploymentID)
		case "create_time":
			return s.time(&a.CreateTime)
		case "modify_time":
			return s.time(&a.ModifyTime)
		case "create_index":
			return s.uint64(&a.CreateIndex)
		case "modify_index":
			return s.uint64(&a.ModifyIndex)
		}
		return false
	})
	if !ok || !s.end() {
		return nil, false
	}
	return a, true
}

func (s *scanner) resources(r *api.Resources) bool {
	return s.object(func(k []byte) bool {
		switch string(k) {
		case "cpu":
			return s.int(&r.CPU)
		case "cores":
			return s.int(&r.Cores)
		case "memory":
			return s.int(&r.MemoryMB)
		case "memory_max":
			return s.int(&r.MemoryMax)
		case "disk":
			return s.int(&r.DiskMB)
		}
		return false
	})
}

// fastStatus decodes an allocation status, or reports false for one to
// leave to encoding/json.
func fastStatus(b []byte, in *interner) (*api.AllocStatus, bool) {
	s := &scanner{b: b, in: in}
	st := &api.AllocStatus{}
	if !s.status(st) || !s.end() {
		return nil, false
	}
	return st, true
}

// DecodeAlloc decodes an allocation record as the store reads it.
func DecodeAlloc(key string, b []byte) (*api.Allocation, error) {
	return decode[api.Allocation](key, b)
}

// DecodeStatusRelay decodes the body of a status relay request
// (api.StatusRelayRequest) with the fast decoder, or reports false for a
// body to leave to encoding/json.
func DecodeStatusRelay(b []byte) (map[string]*api.AllocStatus, bool) {
	s := &scanner{b: b}
	var out map[string]*api.AllocStatus
	ok := s.object(func(k []byte) bool {
		if string(k) != "statuses" {
			return false
		}
		if out == nil {
			// Like encoding/json: a second "statuses" adds to the first.
			out = make(map[string]*api.AllocStatus)
		}
		return s.object(func(id []byte) bool {
			st := &api.AllocStatus{}
			if !s.status(st) {
				return false
			}
			out[string(id)] = st
			return true
		})
	})
	if !ok || !s.end() {
		return nil, false
	}
	return out, true
}

func (s *scanner) status(st *api.AllocStatus) bool {
	return s.object(func(k []byte) bool {
		switch string(k) {
		case "client_status":
			return s.istr(&st.ClientStatus)
		case "description":
			return s.istr(&st.Description)
		case "network_address":
			return s.str(&st.NetworkAddress)
		case "handled_restart":
			return s.str(&st.HandledRestart)
		case "handled_signal":
			return s.str(&st.HandledSignal)
		case "update_time":
			return s.time(&st.UpdateTime)
		case "tasks":
			// Like encoding/json: a second "tasks" adds to the first.
			if st.Tasks == nil {
				st.Tasks = make(map[string]*api.TaskState, 1)
			}
			return s.object(func(name []byte) bool {
				ts := &api.TaskState{}
				if !s.taskState(ts) {
					return false
				}
				st.Tasks[s.in.str(name)] = ts
				return true
			})
		}
		return false
	})
}

func (s *scanner) taskState(ts *api.TaskState) bool {
	return s.object(func(k []byte) bool {
		switch string(k) {
		case "state":
			return s.istr(&ts.State)
		case "failed":
			return s.bool(&ts.Failed)
		case "exit_code":
			if ts.ExitCode == nil {
				ts.ExitCode = new(int)
			}
			return s.int(ts.ExitCode)
		case "pid":
			return s.int(&ts.PID)
		case "restarts":
			return s.int(&ts.Restarts)
		case "started_at":
			return s.time(&ts.StartedAt)
		case "finished_at":
			return s.time(&ts.FinishedAt)
		case "events":
			return s.events(&ts.Events)
		case "handle":
			// Like encoding/json: a second "handle" adds to the first.
			if ts.Handle == nil {
				ts.Handle = make(map[string]string, 2)
			}
			return s.object(func(k []byte) bool {
				var v string
				if !s.str(&v) {
					return false
				}
				ts.Handle[string(k)] = v
				return true
			})
		}
		return false
	})
}

// events reads a task's events; like encoding/json, an empty array gives
// an empty slice, not nil.
func (s *scanner) events(dst *[]api.TaskEvent) bool {
	if *dst != nil {
		// A second "events": encoding/json decodes it over the first's
		// elements, keeping fields the second leaves out. Leave that to it.
		return false
	}
	if !s.next('[') {
		return false
	}
	evs := make([]api.TaskEvent, 0, 4)
	if !s.next(']') {
		for {
			var e api.TaskEvent
			ok := s.object(func(k []byte) bool {
				switch string(k) {
				case "time":
					return s.time(&e.Time)
				case "type":
					return s.istr(&e.Type)
				case "message":
					return s.str(&e.Message)
				}
				return false
			})
			if !ok {
				return false
			}
			evs = append(evs, e)
			if s.next(',') {
				continue
			}
			if !s.next(']') {
				return false
			}
			break
		}
	}
	*dst = evs
	return true
}
