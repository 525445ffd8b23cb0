package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/loop"
	"github.com/nomadic-project/nomadic/pkg/store"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// watchMux keeps every hollow node's watch of its own allocation prefix
// on a few watch streams, as clientv3 multiplexes a process's watches on
// one stream — but without the two goroutines a watch costs through
// clientv3 (its substream's and the reader's): etcd holds the same 5,000
// watchers, each on its node's prefix with progress notifications, and
// sends the same events; the sim hands each event to its node on the
// stream's own goroutine. At 5,000 nodes that was 10,000 goroutines and
// 60 MB of stacks, a quarter of the sim.
//
// A watch is created with an ID the shard picks (etcd 3.4 and later take
// a client's watch IDs; none is used twice on a stream), from the
// revision after its node's last event; when a stream breaks, every watch
// of it is created again on the next one from there; a watch whose
// revision was compacted lists its prefix again.
type watchMux struct {
	cli    *clientv3.Client
	st     *store.Store
	shards []*watchShard
}

// watchStreams is how many watch streams the hollow nodes share: spread
// over the members as the keep-alive streams are (hollowlease.go).
const watchStreams = 32

type watchShard struct {
	m *watchMux

	mu     sync.Mutex
	all    []*nodeWatch
	byID   map[int64]*nodeWatch // the current stream's watches
	nextID int64
	create []*nodeWatch // to create on the current stream
	relist []*nodeWatch // to list again (compacted), then create
	kick   chan struct{}
}

// nodeWatch is one hollow node's watch.
type nodeWatch struct {
	n      *hollowNode
	prefix string
	rev    int64 // the last revision handed to the node (guarded by the shard's mu)
}

func newWatchMux(cli *clientv3.Client, st *store.Store) *watchMux {
	m := &watchMux{cli: cli, st: st}
	for range watchStreams {
		m.shards = append(m.shards, &watchShard{m: m, byID: map[int64]*nodeWatch{}, kick: make(chan struct{}, 1)})
	}
	return m
}

// add lists a node's allocations, hands them to it, and watches its
// prefix from there on one of the streams.
func (m *watchMux) add(ctx context.Context, n *hollowNode, seq int) error {
	sh := m.shards[seq%len(m.shards)]
	w := &nodeWatch{n: n, prefix: m.st.Keys().NodeAllocs(n.node.ID)}
	if err := sh.list(ctx, w); err != nil {
		return err
	}
	sh.mu.Lock()
	sh.all = append(sh.all, w)
	sh.create = append(sh.create, w)
	sh.mu.Unlock()
	sh.wake()
	return nil
}

// list reads a node's prefix and hands the node what is there.
func (s *watchShard) list(ctx context.Context, w *nodeWatch) error {
	type item struct {
		id    string
		value []byte
	}
	var items []item
	rev, err := s.m.st.List(ctx, w.prefix, func(key string, value []byte) error {
		items = append(items, item{key[strings.LastIndexByte(key, '/')+1:], value})
		return nil
	})
	if err != nil {
		return err
	}
	for _, it := range items {
		w.n.changed(ctx, it.id, false, it.value)
	}
	s.mu.Lock()
	w.rev = rev
	s.mu.Unlock()
	return nil
}

func (s *watchShard) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// run keeps the watches of every shard until ctx ends, each stream on
// its own (keepStreams).
func (m *watchMux) run(ctx context.Context) {
	streams := make([]func(context.Context) error, len(m.shards))
	for i, sh := range m.shards {
		streams[i] = sh.stream
	}
	keepStreams(ctx, "watch", streams)
}

// stream creates the shard's watches on a new stream and hands their
// events to the nodes until the stream fails or ctx ends.
func (s *watchShard) stream(ctx context.Context) error {
	sctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	ws, err := pb.NewWatchClient(s.m.cli.ActiveConnection()).Watch(sctx)
	if err != nil {
		return err
	}
	// Every watch is created again on a new stream, from its revision.
	s.mu.Lock()
	// (A watch waiting to be listed again is created from its old
	// revision too: etcd answers that it was compacted, as before.)
	s.byID = map[int64]*nodeWatch{}
	s.create = append(s.create[:0], s.all...)
	s.relist = nil
	s.mu.Unlock()
	recvErr := make(chan error, 1)
	go func() { recvErr <- s.receive(ctx, ws) }()
	// The receiver is done before another stream creates the watches
	// again: no node hears from two.
	defer func() {
		cancel()
		<-recvErr
	}()
	for {
		s.mu.Lock()
		create, relist := s.create, s.relist
		s.create, s.relist = nil, nil
		s.mu.Unlock()
		for i, w := range relist {
			if err := s.list(ctx, w); err != nil {
				s.mu.Lock()
				s.relist = append(s.relist, relist[i:]...)
				s.mu.Unlock()
				slog.Warn("hollow node: listing its allocations again", "prefix", w.prefix, "err", err)
				loop.Sleep(ctx, 200*time.Millisecond)
				s.wake()
				break
			}
			create = append(create, w)
		}
		for _, w := range create {
			s.mu.Lock()
			s.nextID++
			id, rev := s.nextID, w.rev
			s.byID[id] = w
			s.mu.Unlock()
			req := &pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{
				Key: []byte(w.prefix), RangeEnd: []byte(clientv3.GetPrefixRangeEnd(w.prefix)),
				StartRevision: rev + 1, ProgressNotify: true, WatchId: id,
			}}}
			if err := ws.Send(req); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-recvErr:
			recvErr <- err // for the deferred wait
			return err
		case <-s.kick:
		}
	}
}

// receive hands the stream's events to their nodes until it fails.
func (s *watchShard) receive(ctx context.Context, ws pb.Watch_WatchClient) error {
	for {
		resp, err := ws.Recv()
		if err != nil {
			return err
		}
		s.mu.Lock()
		w := s.byID[resp.WatchId]
		if w != nil && (resp.CompactRevision > 0 || resp.Canceled) {
			delete(s.byID, resp.WatchId)
		}
		s.mu.Unlock()
		switch {
		case w == nil:
			continue
		case resp.CompactRevision > 0:
			// Compacted past the watch's revision: list again.
			s.mu.Lock()
			s.relist = append(s.relist, w)
			s.mu.Unlock()
			s.wake()
			continue
		case resp.Canceled:
			return fmt.Errorf("etcd cancelled the watch of %s: %s", w.prefix, resp.CancelReason)
		}
		for _, ev := range resp.Events {
			k := ev.Kv.Key
			w.n.changed(ctx, string(k[lastSlash(k)+1:]), ev.Type == mvccpb.DELETE, ev.Kv.Value)
		}
		if len(resp.Events) > 0 {
			s.mu.Lock()
			w.rev = resp.Events[len(resp.Events)-1].Kv.ModRevision
			s.mu.Unlock()
		}
	}
}

func lastSlash(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '/' {
			return i
		}
	}
	return -1
}
