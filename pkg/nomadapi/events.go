package nomadapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// The event stream: GET /v1/event/stream in Nomad's frame shape, one JSON
// object per line — {"Index":N,"Events":[…]} for the changes of one etcd
// revision, {} as a heartbeat — resumable from ?index=. Topics: Job,
// Allocation, Evaluation, Deployment, Node, Service; ?topic=Topic:Key
// (repeatable, "*" a wildcard) filters, ?namespace= too ("*" all).

// topicOf maps the kinds of the key layout to topics.
var topicOf = map[store.Kind]string{
	store.KindJobs: "Job", store.KindAllocs: "Allocation", store.KindAllocStatus: "Allocation",
	store.KindEvals: "Evaluation", store.KindDeployments: "Deployment", store.KindNodes: "Node",
	store.KindHeartbeats: "Node", store.KindNodeAdmin: "Node", store.KindServices: "Service",
}

// topicFilter is what a client subscribed to: topic → keys ("*": all).
type topicFilter map[string]map[string]bool

func parseTopics(values []string) (topicFilter, error) {
	f := topicFilter{}
	known := map[string]bool{"*": true}
	for _, t := range topicOf {
		known[t] = true
	}
	for _, v := range values {
		topic, key, ok := strings.Cut(v, ":")
		if !ok {
			key = "*"
		}
		if strings.Contains(key, ":") {
			return nil, badRequest("Invalid key value pair for topic %q: want Topic or Topic:Key, with one colon", v)
		}
		if !known[topic] {
			return nil, badRequest("unknown topic %q (nomadic streams Job, Allocation, Evaluation, Deployment, Node, Service)", topic)
		}
		if f[topic] == nil {
			f[topic] = map[string]bool{}
		}
		f[topic][key] = true
	}
	if len(f) == 0 {
		f["*"] = map[string]bool{"*": true}
	}
	return f, nil
}

func (f topicFilter) wants(e *Event) bool {
	for _, topic := range []string{e.Topic, "*"} {
		keys := f[topic]
		if keys == nil {
			continue
		}
		if keys["*"] || keys[e.Key] {
			return true
		}
		for _, k := range e.FilterKeys {
			if keys[k] {
				return true
			}
		}
	}
	return false
}

func (s *Server) eventStream(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	topics, err := parseTopics(q["topic"])
	if err != nil {
		return err
	}
	ns := nsFilter(namespace(r))
	var after int64
	if v := q.Get("index"); v != "" {
		n, err := strconv.ParseUint(v, 10, 63)
		if err != nil {
			return badRequest("index %q is not an index", v)
		}
		after = int64(n)
	}
	// Without an index the stream starts with the latest changes that
	// are kept, as Nomad's starts at the oldest events of its buffer
	// (the last 100 by default): replayRevisions before now, or from now
	// when history is compacted closer than that.
	if after == 0 {
		ctx, cancel := s.ctx(r)
		rev, err := s.Store.Revision(ctx)
		cancel()
		if err != nil {
			return err
		}
		after = max(rev-replayRevisions, 0)
		if after == 0 {
			after = 1 // etcd's first revision holds nothing
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	var mu sync.Mutex
	send := func(v any) error {
		mu.Lock()
		defer mu.Unlock()
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return errClientGone
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	}
	if err := send(struct{}{}); err != nil {
		return nil
	}
	ctx, cancel := s.streamCtx(r)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if send(struct{}{}) != nil {
					cancel()
					return
				}
			}
		}
	}()
	defer func() {
		cancel() // the heartbeats end with the stream
		wg.Wait()
	}()
	var frame *Events
	flush := func() error {
		if frame == nil || len(frame.Events) == 0 {
			frame = nil
			return nil
		}
		f := frame
		frame = nil
		return send(f)
	}
	watch := func(c store.Change) error {
		if frame != nil && frame.Index != uint64(c.Rev) {
			if err := flush(); err != nil {
				return err
			}
		}
		e := s.event(ctx, c)
		if e == nil || (ns != "" && e.Namespace != "" && e.Namespace != ns) || !topics.wants(e) {
			return nil
		}
		if frame == nil {
			frame = &Events{Index: uint64(c.Rev)}
		}
		frame.Events = append(frame.Events, *e)
		// A transaction's events all arrive before the next revision's;
		// flushing each at once keeps the stream live.
		return flush()
	}
	// An index etcd no longer holds starts the stream at the oldest one
	// it does, as Nomad's starts at the closest index its buffer holds
	// (Nomad's clients read no error frame). A few tries: each may race
	// with another compaction.
	err = s.Store.WatchChanges(ctx, after, watch)
	for try := 0; try < 3; try++ {
		var compacted *store.CompactedError
		if !errors.As(err, &compacted) || ctx.Err() != nil {
			break
		}
		after = max(compacted.Oldest-1, after)
		err = s.Store.WatchChanges(ctx, after, watch)
	}
	switch {
	case errors.Is(err, store.ErrCompacted):
		_ = send(map[string]any{"Error": fmt.Sprintf("index %d was compacted: read the current state and resume from its index", after)})
	case err != nil && ctx.Err() == nil && !errors.Is(err, errClientGone):
		_ = send(map[string]any{"Error": err.Error()})
	}
	return nil
}

// replayRevisions is how far back a stream without an index starts.
const replayRevisions = 100

// errClientGone ends a stream whose client went away.
var errClientGone = errors.New("client gone")

// event turns a change into Nomad's event, with its payload read as the
// object is now (nil when the change is of no topic).
func (s *Server) event(ctx context.Context, c store.Change) *Event {
	topic := topicOf[c.Kind]
	if topic == "" {
		return nil
	}
	e := &Event{Topic: topic, Index: uint64(c.Rev), Namespace: c.Namespace, Payload: map[string]any{}}
	value := c.Value
	if c.Deleted {
		value = c.Prev
	}
	switch c.Kind {
	case store.KindJobs:
		j, err := store.Decode[api.Job](store.Change{Value: value})
		if err != nil {
			return nil
		}
		e.Key, e.Type = j.ID, "JobRegistered"
		if c.Deleted {
			e.Type = "JobDeregistered"
		}
		j.SetIndexes(c.Rev, c.Rev)
		e.Payload["Job"] = toJob(j, s.Region)
	case store.KindAllocs, store.KindAllocStatus:
		e.Key = c.ID
		var a *api.Allocation
		if c.Kind == store.KindAllocs && value != nil {
			a, _ = store.Decode[api.Allocation](store.Change{Value: value})
		}
		rctx, cancel := context.WithTimeout(ctx, s.RequestTimeout)
		if cur, err := s.Store.GetAlloc(rctx, c.ID); err == nil {
			a = cur
		}
		cancel()
		if a == nil {
			return nil
		}
		e.Namespace = a.Namespace
		e.FilterKeys = []string{a.JobID, a.EvalID}
		if a.DeploymentID != "" {
			e.FilterKeys = append(e.FilterKeys, a.DeploymentID)
		}
		switch {
		case c.Kind == store.KindAllocs && c.Created:
			e.Type = "PlanResult"
		case c.Kind == store.KindAllocs:
			e.Type = "AllocationUpdateDesiredStatus"
		default:
			e.Type = "AllocationUpdated"
		}
		e.Payload["Allocation"] = toAllocStub(a, "", "")
	case store.KindEvals:
		ev, err := store.Decode[api.Evaluation](store.Change{Value: value})
		if err != nil {
			return nil
		}
		ev.SetIndexes(c.Rev, c.Rev)
		e.Key, e.Type, e.FilterKeys = ev.ID, "EvaluationUpdated", []string{ev.JobID}
		if ev.DeploymentID != "" {
			e.FilterKeys = append(e.FilterKeys, ev.DeploymentID)
		}
		e.Payload["Evaluation"] = toEvals(ev, nil)[0]
	case store.KindDeployments:
		d, err := store.Decode[api.Deployment](store.Change{Value: value})
		if err != nil {
			return nil
		}
		d.SetIndexes(c.Rev, c.Rev)
		e.Key, e.Type, e.FilterKeys = d.ID, "DeploymentStatusUpdate", []string{d.JobID}
		e.Payload["Deployment"] = toDeployment(d)
	case store.KindNodes, store.KindHeartbeats, store.KindNodeAdmin:
		e.Key = c.Node
		switch {
		case c.Kind == store.KindNodes && c.Deleted:
			e.Type = "NodeDeregistration"
		case c.Kind == store.KindHeartbeats && c.Deleted:
			e.Type = "NodeStreamEvent"
		case c.Kind == store.KindNodeAdmin:
			e.Type = "NodeDrain"
		default:
			e.Type = "NodeRegistration"
		}
		rctx, cancel := context.WithTimeout(ctx, s.RequestTimeout)
		n, err := s.Store.GetNode(rctx, c.Node)
		cancel()
		if err != nil {
			return nil
		}
		e.Payload["Node"] = toNode(n)
	case store.KindServices:
		reg, err := store.Decode[api.ServiceRegistration](store.Change{Value: value})
		if err != nil {
			return nil
		}
		e.Key, e.Type, e.FilterKeys = reg.ID, "ServiceRegistration", []string{reg.JobID, reg.ServiceName}
		if c.Deleted {
			e.Type = "ServiceDeregistration"
		}
		e.Payload["Service"] = toServiceRegistration(reg, c.Rev)
	}
	return e
}

// ServiceRegistration is a service instance as Nomad shows it.
type ServiceRegistration struct {
	ID          string
	ServiceName string
	Namespace   string
	NodeID      string
	Datacenter  string
	JobID       string
	AllocID     string
	Tags        []string
	Address     string
	Port        int
	CreateIndex uint64
	ModifyIndex uint64
}

// toServiceRegistration shapes an instance; rev, when not 0, is the
// revision of the change an event reports, else the instance's own
// indexes are used.
func toServiceRegistration(r *api.ServiceRegistration, rev int64) *ServiceRegistration {
	out := &ServiceRegistration{ID: r.ID, ServiceName: r.ServiceName, Namespace: r.Namespace, NodeID: r.NodeID,
		JobID: r.JobID, AllocID: r.AllocID, Tags: r.Tags, Address: r.Address, Port: r.Port,
		CreateIndex: r.CreateIndex, ModifyIndex: r.ModifyIndex}
	if rev > 0 {
		out.CreateIndex, out.ModifyIndex = uint64(rev), uint64(rev)
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	return out
}
