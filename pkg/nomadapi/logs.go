package nomadapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/nodes"
)

// frameSize is the most log bytes one frame carries.
const frameSize = 64 << 10

// allocLogs streams a task's log in Nomad's framed form: JSON frames
// {"Offset","Data"(base64),"File"} one after another, "{}" as a heartbeat
// while a followed log is quiet. The bytes come from the node agent that
// runs the allocation, through this server, so Nomad's CLI never needs to
// reach a node (nodes show an empty HTTPAddr).
func (s *Server) allocLogs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	a, node, err := s.allocNode(r, r.PathValue("alloc"))
	if err != nil {
		return err
	}
	task := q.Get("task")
	if task == "" {
		var tasks []string
		if a.Status != nil {
			for name := range a.Status.Tasks {
				tasks = append(tasks, name)
			}
		}
		sort.Strings(tasks)
		if len(tasks) != 1 {
			return badRequest("must include task name")
		}
		task = tasks[0]
	}
	typ := q.Get("type")
	switch typ {
	case "stdout", "stderr":
	default:
		return badRequest("must include a log type of stdout or stderr")
	}
	follow := q.Get("follow") == "true"
	var offset int64
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.ParseInt(v, 10, 64); err != nil || offset < 0 {
			return badRequest("offset %q is not a number of bytes", v)
		}
	}
	origin := q.Get("origin")
	if origin == "" {
		origin = "start"
	}
	if origin != "start" && origin != "end" {
		return badRequest("origin must be start or end")
	}
	nq := url.Values{"type": {typ}}
	if follow {
		nq.Set("follow", "true")
	}
	if origin == "end" {
		nq.Set("tail_bytes", strconv.FormatInt(max(offset, 1), 10))
	}
	resp, err := s.nodeGet(r, node, "/v1/client/logs/"+url.PathEscape(a.ID)+"/"+url.PathEscape(task), nq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	startFrames(w)
	file := fmt.Sprintf("alloc/logs/%s.%s.0", task, typ)
	skip := int64(0)
	if origin == "start" {
		skip = offset
	}
	ctx, cancel := s.streamCtx(r)
	defer cancel()
	return streamFrames(ctx, w, resp.Body, file, skip, follow)
}

// nodeGet asks the agent of node for path (its answer, 200, for the
// caller to close), through this server: over mutual TLS when the node
// serves it. An answer other than 200 is returned as its error.
func (s *Server) nodeGet(r *http.Request, node *api.Node, path string, q url.Values) (*http.Response, error) {
	if node.HTTPAddr == "" {
		return nil, &httpError{code: http.StatusServiceUnavailable, msg: fmt.Sprintf("node %s does not serve files or logs", node.Name)}
	}
	u := url.URL{Scheme: "http", Host: node.HTTPAddr, Path: path, RawQuery: q.Encode()}
	hc := http.DefaultClient
	if node.HTTPTLS {
		if s.NodeTLS == nil {
			return nil, &httpError{code: http.StatusServiceUnavailable, msg: fmt.Sprintf("node %s serves over mutual TLS and this server has no node CA (-node-ca-cert)", node.Name)}
		}
		u.Scheme = "https"
		tr := &http.Transport{TLSClientConfig: nodes.ForNode(s.NodeTLS, node.ID), ForceAttemptHTTP2: true}
		hc = &http.Client{Transport: closingTransport{tr}}
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, &httpError{code: http.StatusBadGateway, msg: fmt.Sprintf("node %s (%s) did not answer: %v", node.Name, node.HTTPAddr, err)}
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var e struct{ Error string }
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			b = []byte(e.Error)
		}
		return nil, &httpError{code: resp.StatusCode, msg: string(b)}
	}
	return resp, nil
}

// closingTransport is a transport of one request's: its idle connection
// is closed once the answer's body is.
type closingTransport struct{ *http.Transport }

func (t closingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.Transport.RoundTrip(req)
	if err != nil {
		t.CloseIdleConnections()
		return nil, err
	}
	resp.Body = closeWith{resp.Body, t.CloseIdleConnections}
	return resp, nil
}

type closeWith struct {
	io.ReadCloser
	after func()
}

func (c closeWith) Close() error {
	err := c.ReadCloser.Close()
	c.after()
	return err
}

// startFrames answers 200 for a stream of frames at once: the client
// waits for the headers before it reads anything, and a quiet file must
// not hold them back until its first heartbeat.
func startFrames(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// streamFrames reads body and writes it as frames, after skipping skip
// bytes; while following, a quiet stream gets a heartbeat frame every 5
// seconds.
func streamFrames(ctx context.Context, w http.ResponseWriter, body io.Reader, file string, skip int64, follow bool) error {
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	type chunk struct {
		b   []byte
		err error
	}
	chunks := make(chan chunk)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			buf := make([]byte, frameSize)
			n, err := body.Read(buf)
			select {
			case chunks <- chunk{buf[:n], err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	heartbeat := time.NewTicker(5 * time.Second)
	defer heartbeat.Stop()
	var offset int64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-heartbeat.C:
			if follow {
				if err := enc.Encode(struct{}{}); err != nil {
					return nil
				}
				if flusher != nil {
					flusher.Flush()
				}
			}
		case c := <-chunks:
			data := c.b
			if skip > 0 {
				n := min(skip, int64(len(data)))
				data, skip = data[n:], skip-n
				offset += n
			}
			if len(data) > 0 {
				offset += int64(len(data))
				if err := enc.Encode(&StreamFrame{Offset: offset, Data: data, File: file}); err != nil {
					return nil
				}
				if flusher != nil {
					flusher.Flush()
				}
			}
			if c.err != nil {
				return nil
			}
		}
	}
}
