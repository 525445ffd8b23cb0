package store

import (
	"context"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// CompactRound keeps etcd's history bounded without a leader, as
// kube-apiserver does: every server calls it once per interval; it reads
// the shared "compact" key, and the server that swaps it from the value
// it read (the revision recorded an interval ago) to the current revision
// wins and compacts etcd up to the revision it read. So history older
// than about one interval goes, and however many servers run, one
// compacts per interval. It returns the revision compacted to, or 0 when
// another server took the round (or on the first round).
func (s *Store) CompactRound(ctx context.Context) (int64, error) {
	key := s.keys.Compact()
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	var prevRev, prevMod int64
	if len(resp.Kvs) == 1 {
		prevRev, _ = strconv.ParseInt(string(resp.Kvs[0].Value), 10, 64)
		prevMod = resp.Kvs[0].ModRevision
	}
	cur := resp.Header.Revision
	txn, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", prevMod)).
		Then(clientv3.OpPut(key, strconv.FormatInt(cur, 10))).Commit()
	if err != nil {
		return 0, err
	}
	if !txn.Succeeded || prevRev == 0 {
		return 0, nil
	}
	if _, err := s.cli.Compact(ctx, prevRev); err != nil {
		return 0, err
	}
	return prevRev, nil
}
