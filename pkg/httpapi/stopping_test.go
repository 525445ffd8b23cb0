package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// A server that begins to stop ends its event streams as complete
// responses and answers blocking queries at once.
func TestStoppingEndsStreamsCleanly(t *testing.T) {
	stopping := make(chan struct{})
	s := &Server{Store: store.New(testutil.Etcd(t), "/stopping"), Name: "t", Version: "test", Stopping: stopping}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	resp, err := http.Get(ts.URL + "/v1/jobs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	index, err := strconv.ParseInt(resp.Header.Get(IndexHeader), 10, 64)
	if err != nil {
		t.Fatalf("index %q: %v", resp.Header.Get(IndexHeader), err)
	}
	stream, err := http.Get(ts.URL + "/v1/event/stream?topic=Job")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	type answer struct {
		code int
		err  error
	}
	blocked := make(chan answer, 1)
	go func() {
		r, err := http.Get(ts.URL + "/v1/jobs?wait=5m&index=" + strconv.FormatInt(index, 10))
		if err != nil {
			blocked <- answer{err: err}
			return
		}
		_, err = io.ReadAll(r.Body)
		r.Body.Close()
		blocked <- answer{r.StatusCode, err}
	}()
	streamed := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(stream.Body) // nil at a clean end, an error when cut
		streamed <- err
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case a := <-blocked:
		t.Fatalf("the blocking query answered before any change or stop: %+v", a)
	case err := <-streamed:
		t.Fatalf("the stream ended before the stop: %v", err)
	default:
	}
	close(stopping)
	for range 2 {
		select {
		case a := <-blocked:
			if a.err != nil || a.code != http.StatusOK {
				t.Fatalf("the blocking query at the stop: %+v", a)
			}
		case err := <-streamed:
			if err != nil {
				t.Fatalf("the stream at the stop: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a request still runs after the stop")
		}
	}
}

// A stream from a compacted revision says so and ends: the UI relists.
func TestEventStreamFromACompactedRevisionEnds(t *testing.T) {
	cli := testutil.Etcd(t)
	s := &Server{Store: store.New(cli, "/compacted"), Name: "t", Version: "test"}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	for i := range 3 {
		if _, err := cli.Put(t.Context(), "/compacted/jobs/default/j"+strconv.Itoa(i), "{}"); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := cli.Get(t.Context(), "/compacted/none")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(t.Context(), resp.Header.Revision); err != nil {
		t.Fatal(err)
	}
	stream, err := http.Get(ts.URL + "/v1/event/stream?index=2")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	done := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(stream.Body)
		done <- b
	}()
	select {
	case b := <-done:
		if !strings.Contains(string(b), "compacted") {
			t.Fatalf("the stream said %q", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end after its compacted revision")
	}
}
