// Package controllers holds the server's control loops. Each one is
// level-triggered: events only say which key to look at, the work reads the
// stored state again, and running it twice does no harm.
package controllers

import (
	"encoding/json"

	"github.com/nomadic-project/nomadic/pkg/store"
)

// handlerFuncs adapts functions to store.Handler. A nil replace calls apply
// for every listed key.
type handlerFuncs struct {
	replace func(items map[string][]byte, rev int64)
	apply   func(ev store.Event)
}

func (h handlerFuncs) Replace(items map[string][]byte, rev int64) {
	if h.replace != nil {
		h.replace(items, rev)
		return
	}
	for k, v := range items {
		h.apply(store.Event{Key: k, Value: v, Rev: rev})
	}
}

func (h handlerFuncs) Apply(ev store.Event) { h.apply(ev) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
