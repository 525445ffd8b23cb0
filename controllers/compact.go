package controllers

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/nomadic-project/nomadic/pkg/store"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Compactor keeps etcd's history bounded without a leader, as
// kube-apiserver does: every Interval each server reads the shared
// "compact" key; the one that swaps it from the value it read (the
// revision seen an interval ago) to the current revision wins, and
// compacts etcd up to the revision it read. So history older than about
// one interval goes, and however many servers run, one compacts per
// interval.
type Compactor struct {
	Store    *store.Store
	Interval time.Duration
}

// Run compacts every Interval until ctx ends.
func (c *Compactor) Run(ctx context.Context) {
	every(ctx, max(c.Interval, time.Second), "compaction failed", c.Once)
}

// Once runs one round: it records the current revision in the compact
// key, and compacts to the revision the key held before, when this server
// won the swap.
func (c *Compactor) Once(ctx context.Context) error {
	cli := c.Store.Client()
	key := c.Store.Keys().Compact()
	resp, err := cli.Get(ctx, key)
	if err != nil {
		return err
	}
	var prevRev int64
	var prevMod int64
	if len(resp.Kvs) == 1 {
		prevRev, _ = strconv.ParseInt(string(resp.Kvs[0].Value), 10, 64)
		prevMod = resp.Kvs[0].ModRevision
	}
	cur := resp.Header.Revision
	txn, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", prevMod)).
		Then(clientv3.OpPut(key, strconv.FormatInt(cur, 10))).Commit()
	if err != nil {
		return err
	}
	if !txn.Succeeded || prevRev == 0 {
		return nil // another server took this round, or the first round
	}
	if _, err := cli.Compact(ctx, prevRev); err != nil {
		return err
	}
	slog.Debug("compacted etcd history", "revision", prevRev)
	metricCompactions.Inc()
	return nil
}
