package nomadapi

import (
	"context"
	"strings"
	"testing"
	"time"

	napi "github.com/hashicorp/nomad/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// A stream without an index starts with the latest changes kept, as
// Nomad's starts at the oldest of its event buffer: a job registered just
// before is in it. A topic key with more than one colon is refused.
func TestEventStreamWithoutAnIndexReplaysTheLatest(t *testing.T) {
	c := nomadClient(t, &Server{Store: store.New(testutil.Etcd(t), "/evreplay"), Name: "t", Version: "test"})
	if _, _, err := c.Jobs().Register(mockJob("before"), nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	events, err := c.EventStream().Stream(ctx, map[napi.Topic][]string{napi.TopicJob: {"*"}}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for seen := false; !seen; {
		select {
		case evs := <-events:
			if evs == nil || evs.Err != nil {
				t.Fatalf("stream: %+v", evs)
			}
			for _, e := range evs.Events {
				if j, err := e.Job(); err == nil && j != nil && *j.ID == "before" {
					seen = true
				}
			}
		case <-ctx.Done():
			t.Fatal("the job registered before the stream was not replayed")
		}
	}
	if _, err := c.EventStream().Stream(ctx, map[napi.Topic][]string{napi.TopicEvaluation: {"::*"}}, 0, nil); err == nil || !strings.Contains(err.Error(), "Invalid key value pair") {
		t.Fatalf("a key with colons: %v", err)
	}
}

// A stream from an index etcd compacted away starts at the oldest index
// kept, as Nomad's starts at the closest its buffer holds, and stays live.
func TestEventStreamFromACompactedIndexStartsAtTheOldestKept(t *testing.T) {
	cli := testutil.Etcd(t)
	c := nomadClient(t, &Server{Store: store.New(cli, "/evcompact"), Name: "t", Version: "test"})
	register := func(id string) {
		if _, _, err := c.Jobs().Register(mockJob(id), nil); err != nil {
			t.Fatal(err)
		}
	}
	register("old")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rev, err := cli.Get(ctx, "/evcompact/none")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctx, rev.Header.Revision); err != nil {
		t.Fatal(err)
	}
	events, err := c.EventStream().Stream(ctx, map[napi.Topic][]string{napi.TopicJob: {"*"}}, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	register("new")
	for {
		select {
		case evs := <-events:
			if evs == nil || evs.Err != nil {
				t.Fatalf("stream: %+v", evs)
			}
			for _, e := range evs.Events {
				if j, err := e.Job(); err == nil && j != nil && *j.ID == "new" {
					return
				}
			}
		case <-ctx.Done():
			t.Fatal("no event after the compacted index")
		}
	}
}
