package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/loop"
	"github.com/nomadic-project/nomadic/pkg/store"
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
func (s *Server) blocking(kinds []store.Kind, h http.HandlerFunc) http.HandlerFunc {
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
			wctx, wcancel := loop.WithStop(r.Context(), s.Stopping)
			err = s.Store.WaitForChange(wctx, kinds, index, wait)
			wcancel()
			if err != nil && r.Context().Err() != nil {
				return // the client went away
			}
			// Or the server is stopping: the answer as it is now.
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
var topics = map[store.Kind]string{
	store.KindJobs: "Job", store.KindAllocs: "Allocation", store.KindAllocStatus: "Allocation", store.KindNodes: "Node",
	store.KindHeartbeats: "Node", store.KindNodeAdmin: "Node", store.KindEvals: "Evaluation",
	store.KindDeployments: "Deployment", store.KindServices: "Service",
}

// eventKey is the key an event names: the object's path below its kind.
func eventKey(r store.Ref) string {
	var parts []string
	for _, p := range []string{r.Namespace, r.Job, r.Node, r.Name, r.ID} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
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
	// Keep-alives go out from their own goroutine while the watch waits;
	// sends are serialised by mu.
	var mu sync.Mutex
	sendLocked := func(v any) error {
		mu.Lock()
		defer mu.Unlock()
		if !send(v) {
			return errClientGone
		}
		return nil
	}
	ctx, cancel := loop.WithStop(r.Context(), s.Stopping)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		keepalive := time.NewTicker(30 * time.Second)
		defer keepalive.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-keepalive.C:
				if sendLocked(struct{}{}) != nil {
					cancel()
					return
				}
			}
		}
	}()
	defer func() {
		cancel() // the keepalives end with the stream
		wg.Wait()
	}()
	err := s.Store.WatchChanges(ctx, from-1, func(c store.Change) error {
		topic := topics[c.Kind]
		if topic == "" || (len(want) > 0 && !want[topic]) {
			return nil
		}
		e := Event{Index: c.Rev, Topic: topic, Key: eventKey(c.Ref)}
		switch {
		case c.Kind == store.KindHeartbeats && c.Deleted:
			e.Type = "NodeDown"
		case c.Kind == store.KindHeartbeats:
			e.Type = "NodeReady"
		case c.Deleted:
			e.Type = topic + "Deleted"
			e.Payload = json.RawMessage(c.Prev)
		case c.Kind == store.KindAllocStatus:
			e.Type = "AllocationStatus"
			e.Payload = json.RawMessage(c.Value)
		default:
			e.Type = topic + "Updated"
			e.Payload = json.RawMessage(c.Value)
		}
		if len(e.Payload) > 0 && !json.Valid(e.Payload) {
			e.Payload = nil
		}
		return sendLocked(e)
	})
	switch {
	case errors.Is(err, store.ErrCompacted):
		_ = sendLocked(map[string]string{"error": fmt.Sprintf("index %d was compacted; read the current state and resume from its index", from-1)})
	case err != nil && ctx.Err() == nil && !errors.Is(err, errClientGone):
		_ = sendLocked(map[string]string{"error": err.Error()})
	}
}

// errClientGone ends an event stream whose client went away.
var errClientGone = errors.New("client gone")
