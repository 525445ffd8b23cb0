package nodes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// RelayClient hands a node's statuses to the servers' status relay, one
// server after another until one writes them.
type RelayClient struct {
	// Addrs returns the servers' API addresses (host:port, or a URL with
	// its scheme); they are asked at most every 10 seconds.
	Addrs func(ctx context.Context) []string
	HTTP  *http.Client
	// Password is the node's etcd password; empty for a node that did
	// not join.
	Password string
	// Scheme is used for addresses without one: "https" when the
	// servers' API has TLS (default "http").
	Scheme string

	next atomic.Uint64

	mu      sync.Mutex
	addrs   []string
	addrsAt time.Time
}

// relayMargin is what a request keeps of its budget for the way back.
const relayMargin = 500 * time.Millisecond

// PutAllocStatuses sends a node's statuses, at most relayMaxStatuses a
// request; an error means some were not written (the caller writes them
// all to etcd itself).
func (c *RelayClient) PutAllocStatuses(ctx context.Context, node string, statuses map[string]*api.AllocStatus) error {
	addrs := c.servers(ctx)
	if len(addrs) == 0 {
		return errors.New("no server to relay statuses through")
	}
	chunk := make(map[string]*api.AllocStatus, min(len(statuses), relayMaxStatuses))
	for id, st := range statuses {
		chunk[id] = st
		if len(chunk) == relayMaxStatuses {
			if err := c.send(ctx, addrs, node, chunk); err != nil {
				return err
			}
			clear(chunk)
		}
	}
	if len(chunk) == 0 {
		return nil
	}
	return c.send(ctx, addrs, node, chunk)
}

// send hands one request to one server after another until one writes
// it, while enough of ctx's time is left for a server to.
func (c *RelayClient) send(ctx context.Context, addrs []string, node string, statuses map[string]*api.AllocStatus) error {
	body, err := json.Marshal(api.StatusRelayRequest{Statuses: statuses})
	if err != nil {
		return err
	}
	start := int(c.next.Load() % uint64(len(addrs)))
	var last error
	for i := range addrs {
		budget := time.Minute
		if d, ok := ctx.Deadline(); ok {
			budget = time.Until(d) - relayMargin
		}
		if budget < time.Second {
			if last == nil {
				last = errors.New("too little time left to relay statuses")
			}
			return last
		}
		addr := addrs[(start+i)%len(addrs)]
		if last = c.put(ctx, addr, node, body, budget); last == nil || ctx.Err() != nil {
			return last
		}
		c.next.Add(1)
	}
	return last
}

func (c *RelayClient) put(ctx context.Context, addr, node string, body []byte, budget time.Duration) error {
	if !strings.Contains(addr, "://") {
		scheme := c.Scheme
		if scheme == "" {
			scheme = "http"
		}
		addr = scheme + "://" + addr
	}
	u := strings.TrimRight(addr, "/") + strings.Replace(RelayPath, "{node}", url.PathEscape(node), 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(RelayBudgetHeader, strconv.FormatInt(budget.Milliseconds(), 10))
	if c.Password != "" {
		req.SetBasicAuth("node", c.Password)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil
	}
	var e api.ErrorResponse
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
	if e.Error == "" {
		e.Error = resp.Status
	}
	return &RelayError{Addr: addr, Code: resp.StatusCode, Message: e.Error}
}

// RelayError is a server's refusal of a relay request.
type RelayError struct {
	Addr    string
	Code    int
	Message string
}

func (e *RelayError) Error() string {
	return fmt.Sprintf("status relay at %s: %d: %s", e.Addr, e.Code, e.Message)
}

// Permanent says whether asking again soon would get the same answer: the
// server refused who the node is or what it sent, or has no relay (a
// server from before it), rather than being overloaded.
func (e *RelayError) Permanent() bool {
	switch e.Code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusRequestEntityTooLarge:
		// Too large: this batch; the next is likely smaller.
		return false
	}
	return e.Code >= 400 && e.Code < 500
}

// servers returns the servers' addresses, read at most every 10 seconds.
func (c *RelayClient) servers(ctx context.Context) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.addrs == nil || time.Since(c.addrsAt) > 10*time.Second {
		if a := c.Addrs(ctx); len(a) > 0 || c.addrs == nil {
			c.addrs = a
		}
		c.addrsAt = time.Now()
	}
	return c.addrs
}
