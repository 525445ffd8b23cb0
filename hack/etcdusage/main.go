// Command etcdusage prints what a cluster keeps in etcd, by kind of key:
// how many keys, and the bytes of their keys and values, read in pages of
// 5,000 keys. hack/c1m.sh runs it with ETCD_USAGE=1.
//
//	go run ./hack/etcdusage -endpoints http://127.0.0.1:2379 -prefix /nomadic
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func main() {
	endpoints := flag.String("endpoints", "http://127.0.0.1:2379", "etcd endpoints, comma-separated")
	prefix := flag.String("prefix", "/nomadic", "the cluster's key prefix")
	flag.Parse()
	if err := run(strings.Split(*endpoints, ","), strings.TrimSuffix(*prefix, "/")+"/"); err != nil {
		fmt.Fprintln(os.Stderr, "etcdusage:", err)
		os.Exit(1)
	}
}

type usage struct{ keys, keyBytes, valueBytes int64 }

// maxPages bounds the listing: 20,000 pages of 5,000 keys.
const maxPages = 20000

func run(endpoints []string, prefix string) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second,
		MaxCallRecvMsgSize: 256 << 20})
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	byKind := map[string]*usage{}
	end := clientv3.GetPrefixRangeEnd(prefix)
	from := prefix
	var rev int64
	for page := 0; ; page++ {
		if page == maxPages {
			return fmt.Errorf("more than %d pages of keys", maxPages)
		}
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(5000)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := cli.Get(ctx, from, opts...)
		if err != nil {
			return err
		}
		rev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			kind, _, _ := strings.Cut(strings.TrimPrefix(string(kv.Key), prefix), "/")
			u := byKind[kind]
			if u == nil {
				u = &usage{}
				byKind[kind] = u
			}
			u.keys++
			u.keyBytes += int64(len(kv.Key))
			u.valueBytes += int64(len(kv.Value))
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	kinds := make([]string, 0, len(byKind))
	var total usage
	for k, u := range byKind {
		kinds = append(kinds, k)
		total.keys += u.keys
		total.keyBytes += u.keyBytes
		total.valueBytes += u.valueBytes
	}
	sort.Slice(kinds, func(i, j int) bool {
		a, b := byKind[kinds[i]], byKind[kinds[j]]
		return a.keyBytes+a.valueBytes > b.keyBytes+b.valueBytes
	})
	fmt.Printf("%-16s %10s %12s %12s %10s\n", "kind", "keys", "key bytes", "value bytes", "per key")
	for _, k := range append(kinds, "total") {
		u := byKind[k]
		if k == "total" {
			u = &total
		}
		fmt.Printf("%-16s %10d %12d %12d %10.0f\n", k, u.keys, u.keyBytes, u.valueBytes,
			float64(u.keyBytes+u.valueBytes)/float64(max(u.keys, 1)))
	}
	return nil
}
