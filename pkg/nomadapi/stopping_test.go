package nomadapi

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	napi "github.com/hashicorp/nomad/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// A server that begins to stop ends its event streams as a clean end of
// the response (Nomad's api package reads io.EOF, not a cut connection)
// and answers its blocking queries at once, so that a graceful shutdown
// has nothing to cut.
func TestStoppingEndsStreamsCleanly(t *testing.T) {
	stopping := make(chan struct{})
	c := nomadClient(t, &Server{Store: store.New(testutil.Etcd(t), "/stopping"), Name: "t", Version: "test", Stopping: stopping})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	events, err := c.EventStream().Stream(ctx, map[napi.Topic][]string{napi.TopicJob: {"*"}}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, qm, err := c.Jobs().List(nil)
	if err != nil {
		t.Fatal(err)
	}
	blocked := make(chan error, 1)
	go func() {
		_, bm, err := c.Jobs().List(&napi.QueryOptions{WaitIndex: qm.LastIndex, WaitTime: 5 * time.Minute})
		if err == nil && bm.LastIndex != qm.LastIndex {
			err = errors.New("the index moved with no change")
		}
		blocked <- err
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-blocked:
		t.Fatalf("the blocking query answered before any change or stop: %v", err)
	default:
	}
	close(stopping)
	select {
	case err := <-blocked:
		if err != nil {
			t.Fatalf("the blocking query at the stop: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the blocking query still waits after the stop")
	}
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("the stream closed without its end")
			}
			if e.Err == nil {
				continue
			}
			if !errors.Is(e.Err, io.EOF) {
				t.Fatalf("the stream ended with %v, want a clean EOF", e.Err)
			}
			return
		case <-time.After(10 * time.Second):
			t.Fatal("the event stream still runs after the stop")
		}
	}
}
