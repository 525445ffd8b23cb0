package nodes

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/prometheus/client_golang/prometheus"
)

// The status relay: node agents hand their allocation statuses to a server,
// which writes the statuses of many nodes in one etcd transaction. A node
// writing its statuses itself costs etcd one raft entry per write, and
// allocations seldom change together on one node, so at a placement rate
// of thousands a second these single writes were most of what each etcd
// member applied (a 3-member etcd spent more CPU on them than on
// everything else). The relay is a shortcut, never a dependency: an
// agent whose relay request fails writes the same statuses to etcd
// itself, as before.
//
// What a node may write through the relay is what its etcd role lets it
// write directly: the statuses of allocation IDs under its own node ID.
// It proves who it is with its etcd password (HTTP basic auth), which the
// servers check against the SHA-256 hash the join recorded
// (nodeauth/<node>). A node that never joined (shared etcd credentials,
// a dev agent) has no password: the relay takes its statuses without one
// only when the API itself is open (no -acl, no -http-token-file).

const (
	// RelayPath is the relay's route on the servers' API.
	RelayPath = "/v1/node/{node}/allocation-statuses"
	// relayMaxStatuses and relayMaxBytes bound one request, and
	// relayMaxStatusBytes one status in it: stored, a status may grow
	// up to sixfold (JSON escapes <, > and & as \u003c), and one etcd
	// request holds at most store.MaxRequestBytes.
	relayMaxStatuses    = 1024
	relayMaxBytes       = 1 << 20
	relayMaxStatusBytes = 192 << 10
	// RelayBudgetHeader carries how long (milliseconds) the agent waits
	// for this request before it writes the statuses itself: the server
	// starts no transaction that could end after that.
	RelayBudgetHeader = "X-Nomadic-Relay-Budget-Ms"
	// relayWindow is how long a writer gathers requests for one
	// transaction once it has one.
	relayWindow = 5 * time.Millisecond
	// relayWriters commit transactions side by side.
	relayWriters = 2
	// relayQueue bounds the requests waiting for a writer; more are
	// refused (503), and their agents write to etcd themselves.
	relayQueue = 8192
	// relayMaxWait is how long a request may wait in the queue, and
	// relayMaxTimeout the longest a transaction may take: together less
	// than the agents' 10 s, so that a status is written (or given up)
	// before its agent gives up and writes it, and newer ones, itself.
	relayMaxWait    = 4 * time.Second
	relayMaxTimeout = 4 * time.Second
	// relayHashTTL is how long a server trusts a node's password hash it
	// read: a rotated or purged node's old password still passes the
	// relay for up to this long on servers that read it before (etcd
	// refuses it at once).
	relayHashTTL = 30 * time.Second
)

var (
	metricRelayed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "nomadic_server_relayed_statuses_total",
		Help: "Allocation statuses node agents handed to this server's status relay that it wrote to etcd.",
	})
	metricRelayTxns = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "nomadic_server_relay_writes_total",
		Help: "Batches of relayed statuses this server wrote to etcd (each one transaction when it fits etcd's limits).",
	})
	metricRelayRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nomadic_server_relay_refused_total",
		Help: "Status relay requests refused, by reason (their agents write to etcd themselves).",
	}, []string{"reason"})
)

func init() { prometheus.MustRegister(metricRelayed, metricRelayTxns, metricRelayRefused) }

// StatusRelay serves PUT RelayPath on a server. Start its writers with Run.
type StatusRelay struct {
	Store *store.Store
	// Open lets nodes without a recorded password relay without one:
	// true only for servers whose API takes requests without tokens.
	Open bool
	// Timeout bounds one transaction (default and at most 4 s); an
	// agent waits longer than that before it writes to etcd itself.
	Timeout time.Duration

	// Known, when set, tells whether this server knows a node (its
	// cache holds the node's record): a node it does not know gets a 503
	// before any etcd read, so made-up node IDs cost nothing.
	Known func(node string) (known, ok bool)

	initOnce sync.Once
	queue    chan *relayRequest
	running  chan struct{}
	stopped  chan struct{}

	mu     sync.Mutex
	hashes map[string]relayHash
}

type relayRequest struct {
	ctx context.Context
	// deadline is when the agent stops waiting and writes the statuses
	// itself, as far as this server can tell.
	deadline time.Time
	node     string
	statuses map[string]*api.AllocStatus
	done     chan error
}

type relayHash struct {
	hash string
	at   time.Time
}

func (r *StatusRelay) init() {
	r.initOnce.Do(func() {
		r.queue = make(chan *relayRequest, relayQueue)
		r.running = make(chan struct{})
		r.stopped = make(chan struct{})
		r.hashes = map[string]relayHash{}
	})
}

// Run writes relayed statuses until ctx ends.
func (r *StatusRelay) Run(ctx context.Context) {
	r.init()
	close(r.running)
	var wg sync.WaitGroup
	for range relayWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.writer(ctx)
		}()
	}
	wg.Wait()
	close(r.stopped)
	r.drain(ctx.Err())
}

func (r *StatusRelay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.init()
	arrived := time.Now()
	deadline := arrived.Add(relayMaxWait + r.timeout())
	if ms, err := strconv.ParseInt(req.Header.Get(RelayBudgetHeader), 10, 64); err == nil && ms > 0 {
		deadline = arrived.Add(time.Duration(min(ms, int64(time.Minute/time.Millisecond))) * time.Millisecond)
	}
	node := req.PathValue("node")
	if !nodeIDPattern.MatchString(node) {
		r.refuse(w, http.StatusBadRequest, "invalid", fmt.Errorf("node id %q: want letters, digits, '-' or '_', at most 64", node))
		return
	}
	if code, err := r.authorize(req, node); err != nil {
		reason := "forbidden"
		switch {
		case errors.Is(err, errUnknownNode):
			reason = "unknown_node"
		case code == http.StatusServiceUnavailable:
			reason = "failed"
		}
		r.refuse(w, code, reason, err)
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, req.Body, relayMaxBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			r.refuse(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Errorf("a status relay request holds at most %d bytes", relayMaxBytes))
			return
		}
		r.refuse(w, http.StatusBadRequest, "invalid", fmt.Errorf("reading the statuses: %w", err))
		return
	}
	statuses, code, reason, err := decodeRelayed(raw)
	if err != nil {
		r.refuse(w, code, reason, err)
		return
	}
	if len(statuses) == 0 {
		writeJSON(w, http.StatusOK, api.StatusRelayResponse{})
		return
	}
	select {
	case <-r.stopped:
		r.refuse(w, http.StatusServiceUnavailable, "overloaded", errors.New("this server's status relay stopped"))
		return
	case <-r.running:
	default:
		r.refuse(w, http.StatusServiceUnavailable, "overloaded", errors.New("this server's status relay is not running"))
		return
	}
	rr := &relayRequest{ctx: req.Context(), deadline: deadline, node: node, statuses: statuses, done: make(chan error, 1)}
	select {
	case r.queue <- rr:
	default:
		r.refuse(w, http.StatusServiceUnavailable, "overloaded", errors.New("the status relay is full: write to etcd directly"))
		return
	}
	select {
	case err := <-rr.done:
		if err != nil {
			r.refuse(w, http.StatusServiceUnavailable, "failed", err)
			return
		}
		writeJSON(w, http.StatusOK, api.StatusRelayResponse{Written: len(statuses)})
	case <-r.stopped:
		// Queued after the writers' last drain: nobody will write it.
		r.refuse(w, http.StatusServiceUnavailable, "overloaded", errors.New("this server's status relay stopped"))
	case <-req.Context().Done():
		// The agent gave up and writes to etcd itself; the writer drops
		// the request if it has not sent it yet.
	}
}

// decodeRelayed reads a relay request's statuses, or says why not (an HTTP
// code and a reason for the metric).
func decodeRelayed(raw []byte) (map[string]*api.AllocStatus, int, string, error) {
	var statuses map[string]*api.AllocStatus
	if len(raw) <= relayMaxStatusBytes {
		// No status in it can be larger than the request: one pass.
		var ok bool
		if statuses, ok = store.DecodeStatusRelay(raw); !ok {
			var body api.StatusRelayRequest
			if err := json.Unmarshal(raw, &body); err != nil {
				return nil, http.StatusBadRequest, "invalid", fmt.Errorf("decoding the statuses: %w", err)
			}
			statuses = body.Statuses
		}
	} else {
		var body struct {
			Statuses map[string]json.RawMessage `json:"statuses"`
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			return nil, http.StatusBadRequest, "invalid", fmt.Errorf("decoding the statuses: %w", err)
		}
		statuses = make(map[string]*api.AllocStatus, len(body.Statuses))
		for id, one := range body.Statuses {
			if len(one) > relayMaxStatusBytes {
				return nil, http.StatusRequestEntityTooLarge, "too_large", fmt.Errorf("allocation %s: a relayed status holds at most %d bytes", id, relayMaxStatusBytes)
			}
			var st *api.AllocStatus
			if err := json.Unmarshal(one, &st); err != nil {
				return nil, http.StatusBadRequest, "invalid", fmt.Errorf("allocation %s: %w", id, err)
			}
			statuses[id] = st
		}
	}
	if len(statuses) > relayMaxStatuses {
		return nil, http.StatusRequestEntityTooLarge, "too_large", fmt.Errorf("%d statuses: a status relay request holds at most %d", len(statuses), relayMaxStatuses)
	}
	for id, st := range statuses {
		if !nodeIDPattern.MatchString(id) {
			return nil, http.StatusBadRequest, "invalid", fmt.Errorf("allocation id %q: want letters, digits, '-' or '_', at most 64", id)
		}
		if st == nil {
			return nil, http.StatusBadRequest, "invalid", fmt.Errorf("allocation %s: no status", id)
		}
	}
	return statuses, 0, "", nil
}

// authorize checks that the request comes from the node it names.
func (r *StatusRelay) authorize(req *http.Request, node string) (int, error) {
	_, password, hasPassword := req.BasicAuth()
	want, err := r.hash(req.Context(), node, relayHashTTL)
	if err != nil {
		return http.StatusServiceUnavailable, err
	}
	if hasPassword && (want == "" || !samePassword(password, want)) {
		// A node that joined or rotated its password sends the new one
		// before this server's cached hash (or its absence) expires:
		// read it again (at most once a second a node).
		if want, err = r.hash(req.Context(), node, time.Second); err != nil {
			return http.StatusServiceUnavailable, err
		}
	}
	switch {
	case want != "" && hasPassword:
		if samePassword(password, want) {
			return 0, nil
		}
		return http.StatusForbidden, fmt.Errorf("Permission denied: not node %s's password", node)
	case want != "":
		return http.StatusForbidden, fmt.Errorf("Permission denied: node %s joined: send its etcd password", node)
	case hasPassword:
		return http.StatusForbidden, fmt.Errorf("Permission denied: the servers hold no password of node %s (it joined before they recorded them): it writes to etcd itself", node)
	case r.Open:
		return 0, nil
	}
	return http.StatusForbidden, fmt.Errorf("Permission denied: node %s has no password of its own (it did not join) and this server's API needs tokens", node)
}

// errUnknownNode answers for a node this server's cache has no record of.
var errUnknownNode = errors.New("this server does not know the node (yet): write to etcd directly")

func samePassword(password, hash string) bool {
	return subtle.ConstantTimeCompare([]byte(store.PasswordHash(password)), []byte(hash)) == 1
}

// hash returns a node's password hash, read at most maxAge ago.
func (r *StatusRelay) hash(ctx context.Context, node string, maxAge time.Duration) (string, error) {
	now := time.Now()
	r.mu.Lock()
	h, ok := r.hashes[node]
	r.mu.Unlock()
	if ok && now.Sub(h.at) < maxAge {
		return h.hash, nil
	}
	if r.Known != nil {
		if known, ok := r.Known(node); ok && !known {
			return "", errUnknownNode
		}
	}
	c, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	hash, err := r.Store.NodeAuthHash(c, node)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	if len(r.hashes) >= 1<<17 {
		// Bounded: start over rather than grow with node IDs (made-up
		// ones, when no cache tells which nodes exist).
		r.hashes = map[string]relayHash{}
	}
	r.hashes[node] = relayHash{hash: hash, at: now}
	r.mu.Unlock()
	return hash, nil
}

func (r *StatusRelay) timeout() time.Duration {
	if r.Timeout > 0 {
		return min(r.Timeout, relayMaxTimeout)
	}
	return relayMaxTimeout
}

// writer gathers the requests that arrive within relayWindow of the first
// (up to a transaction's worth of statuses) and writes them together.
func (r *StatusRelay) writer(ctx context.Context) {
	timer := time.NewTimer(relayWindow)
	timer.Stop()
	for {
		var first *relayRequest
		select {
		case <-ctx.Done():
			return // Run answers what is still queued
		case first = <-r.queue:
		}
		batch := []*relayRequest{first}
		n := len(first.statuses)
		timer.Reset(relayWindow)
	gather:
		for n < store.MaxTxnOps {
			select {
			case q := <-r.queue:
				batch = append(batch, q)
				n += len(q.statuses)
			case <-timer.C:
				break gather
			case <-ctx.Done():
				break gather
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		r.write(ctx, batch)
	}
}

// write commits one batch and answers its requests.
func (r *StatusRelay) write(ctx context.Context, batch []*relayRequest) {
	byNode := map[string]map[string]*api.AllocStatus{}
	var live []*relayRequest
	n := 0
	for _, q := range batch {
		if q.ctx.Err() != nil {
			// Its agent gave up and writes to etcd itself: writing this
			// older status after its own could undo it.
			q.done <- q.ctx.Err()
			continue
		}
		if time.Now().Add(r.timeout()).After(q.deadline) {
			// The transaction could end after its agent gave up and
			// wrote this status, and newer ones, itself.
			q.done <- errors.New("the status relay is behind: write to etcd directly")
			continue
		}
		live = append(live, q)
		m := byNode[q.node]
		if m == nil {
			m = map[string]*api.AllocStatus{}
			byNode[q.node] = m
		}
		for id, st := range q.statuses {
			m[id] = st // a later request of the same node wins
		}
		n += len(q.statuses)
	}
	if len(live) == 0 {
		return
	}
	c, cancel := context.WithTimeout(ctx, r.timeout())
	err := r.Store.PutNodesAllocStatuses(c, byNode)
	cancel()
	if err == nil {
		metricRelayed.Add(float64(n))
		metricRelayTxns.Inc()
	} else {
		slog.Warn("status relay: writing statuses", "nodes", len(byNode), "statuses", n, "err", err)
	}
	for _, q := range live {
		q.done <- err
	}
}

// drain answers what is queued once the relay stops.
func (r *StatusRelay) drain(err error) {
	for {
		select {
		case q := <-r.queue:
			q.done <- err
		default:
			return
		}
	}
}

func (r *StatusRelay) refuse(w http.ResponseWriter, code int, reason string, err error) {
	metricRelayRefused.WithLabelValues(reason).Inc()
	writeJSON(w, code, api.ErrorResponse{Error: err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
