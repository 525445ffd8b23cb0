package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// IndexHeader carries the etcd revision a read saw. A client passes it
// back as ?index= to wait for the next change (a blocking query).
const IndexHeader = "X-Nomadic-Index"

// Blocking queries wait at most this long (Nomad's limit too).
const (
	defaultWait = 5 * time.Minute
	maxWait     = 10 * time.Minute
)

// blocking makes a GET handler a blocking query: with ?index=N it answers
// once a key of the given kinds changed after revision N (or after
// ?wait=, default 5m); every answer carries the revision it read.
func (s *Server) blocking(kinds []string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if v := q.Get("index"); v != "" {
			index, err := strconv.ParseInt(v, 10, 64)
			if err != nil || index < 0 {
				writeError(w, http.StatusBadRequest, fmt.Errorf("index %q is not a revision", v))
				return
			}
			wait := defaultWait
			if v := q.Get("wait"); v != "" {
				d, err := time.ParseDuration(v)
				if err != nil || d <= 0 {
					writeError(w, http.StatusBadRequest, fmt.Errorf("wait %q is not a duration such as \"30s\"", v))
					return
				}
				wait = min(d, maxWait)
			}
			if err := s.Store.WaitForChange(r.Context(), kinds, index, wait); err != nil {
				return // the client went away
			}
		}
		ctx, cancel := reqCtx(r)
		rev, err := s.Store.Revision(ctx)
		cancel()
		if err != nil {
			storeError(w, "revision", err)
			return
		}
		w.Header().Set(IndexHeader, strconv.FormatInt(rev, 10))
		h(w, r)
	}
}

// topics maps key kinds to event stream topics.
var topics = map[string]string{
	"jobs": "Job", "allocs": "Allocation", "allocstatus": "Allocation", "nodes": "Node", "heartbeats": "Node",
	"nodeadmin": "Node", "evals": "Evaluation", "deployments": "Deployment", "services": "Service",
}

// Event is one line of the event stream.
type Event struct {
	Index   int64           `json:"index"`
	Topic   string          `json:"topic"`
	Type    string          `json:"type"`
	Key     string          `json:"key"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// eventStream streams changes as newline-delimited JSON (or server-sent
// events with Accept: text/event-stream), from ?index= on when given, for
// the ?topic= topics (all when none): Job, Allocation, Node, Evaluation,
// Deployment, Service.
func (s *Server) eventStream(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	want := map[string]bool{}
	for _, t := range q["topic"] {
		for _, one := range strings.Split(t, ",") {
			if one = strings.TrimSpace(one); one != "" {
				ok := false
				for _, known := range topics {
					ok = ok || known == one
				}
				if !ok {
					writeError(w, http.StatusBadRequest, fmt.Errorf("unknown topic %q (Job, Allocation, Node, Evaluation, Deployment, Service)", one))
					return
				}
				want[one] = true
			}
		}
	}
	var from int64
	if v := q.Get("index"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Errorf("index %q is not a revision", v))
			return
		}
		from = n + 1
	} else {
		rev, err := s.Store.Revision(r.Context())
		if err != nil {
			storeError(w, "revision", err)
			return
		}
		from = rev + 1
	}
	sse := strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	if sse {
		w.Header().Set("Content-Type", "text/event-stream")
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
	}
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	send := func(v any) bool {
		b, _ := json.Marshal(v)
		var err error
		if sse {
			_, err = fmt.Fprintf(w, "data: %s\n\n", b)
		} else {
			_, err = fmt.Fprintf(w, "%s\n", b)
		}
		if flusher != nil {
			flusher.Flush()
		}
		return err == nil
	}
	prefix := s.Store.Keys().Prefix() + "/"
	ctx := clientv3.WithRequireLeader(r.Context())
	ch := s.Store.Client().Watch(ctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(from), clientv3.WithPrevKV())
	keepalive := time.NewTicker(30 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepalive.C:
			if !send(struct{}{}) {
				return
			}
		case resp, ok := <-ch:
			if !ok {
				return
			}
			if err := resp.Err(); err != nil {
				msg := err.Error()
				if errors.Is(err, rpctypes.ErrCompacted) {
					msg = fmt.Sprintf("index %d was compacted; read the current state and resume from its index", from-1)
				}
				send(map[string]string{"error": msg})
				return
			}
			for _, ev := range resp.Events {
				rest := strings.TrimPrefix(string(ev.Kv.Key), prefix)
				kind, id, _ := strings.Cut(rest, "/")
				topic := topics[kind]
				if topic == "" || (len(want) > 0 && !want[topic]) {
					continue
				}
				e := Event{Index: ev.Kv.ModRevision, Topic: topic, Key: id}
				switch {
				case kind == "heartbeats" && ev.Type == clientv3.EventTypeDelete:
					e.Type = "NodeDown"
				case kind == "heartbeats":
					e.Type = "NodeReady"
				case ev.Type == clientv3.EventTypeDelete:
					e.Type = topic + "Deleted"
					if ev.PrevKv != nil {
						e.Payload = json.RawMessage(ev.PrevKv.Value)
					}
				case kind == "allocstatus":
					e.Type = "AllocationStatus"
					e.Payload = json.RawMessage(ev.Kv.Value)
				default:
					e.Type = topic + "Updated"
					e.Payload = json.RawMessage(ev.Kv.Value)
				}
				if len(e.Payload) > 0 && !json.Valid(e.Payload) {
					e.Payload = nil
				}
				if !send(e) {
					return
				}
			}
		}
	}
}
