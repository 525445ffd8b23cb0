package store

import (
	"context"
	"errors"
	"strconv"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Compactor keeps etcd's history bounded without a leader, as
// kube-apiserver does. Every server keeps one and calls Round once per
// interval. A round swaps the shared "compact" key only if its version is
// still the one this server saw at its own previous round, that is when no
// other server took a round since; the winner compacts etcd up to the
// revision it read at its previous round, an interval ago by its own
// clock. So about one interval of history is kept however many servers run
// and however their tickers are skewed, and one server compacts per
// interval (the same one while it lives). A server that loses a round
// learns the key's version and the current revision, and takes over when
// the winner stops.
type Compactor struct {
	s *Store
	// version is the compact key's version at this server's last round
	// (0: the key did not exist); rev the cluster's revision then.
	version, rev int64
}

// Compactor returns a compactor of this store's cluster. It is not safe
// for concurrent use.
func (s *Store) Compactor() *Compactor { return &Compactor{s: s} }

// Round takes this server's turn. It returns the revision compacted to, or
// 0 when it compacted nothing (another server took the round, or this was
// this server's first round).
func (c *Compactor) Round(ctx context.Context) (int64, error) {
	key := c.s.keys.Compact()
	resp, err := c.s.cli.Txn(ctx).If(clientv3.Compare(clientv3.Version(key), "=", c.version)).
		Then(clientv3.OpPut(key, strconv.FormatInt(c.rev, 10))).
		Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return 0, err
	}
	cur := resp.Header.Revision
	if !resp.Succeeded {
		c.version = 0
		if rr := resp.Responses[0].GetResponseRange(); rr != nil && len(rr.Kvs) == 1 {
			c.version = rr.Kvs[0].Version
		}
		c.rev = cur
		return 0, nil
	}
	target := c.rev
	c.version++
	c.rev = cur
	if target == 0 {
		return 0, nil
	}
	if _, err := c.s.cli.Compact(ctx, target); err != nil {
		if errors.Is(err, rpctypes.ErrCompacted) {
			// Compacted further already (etcd's own periodic
			// compaction, or an operator's maintenance).
			return 0, nil
		}
		return 0, err
	}
	return target, nil
}
