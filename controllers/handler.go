// Package controllers holds the server's control loops. Each one is
// level-triggered: events only say which key to look at, the work reads the
// stored state again, and running it twice does no harm.
package controllers

import (
	"github.com/nomadic-project/nomadic/pkg/store"
)

// onEach returns a subscriber of the kinds that hands fn every object at
// each resync and every change after.
func onEach(fn func(store.Change), kinds ...store.Kind) store.Subscriber {
	return store.Subscriber{
		Kinds: kinds,
		Resync: func(all []store.Change) {
			for _, c := range all {
				fn(c)
			}
		},
		Changed: fn,
	}
}

// onChange returns a subscriber of the kinds that hands fn every change
// after the first list, and nothing of a resync.
func onChange(fn func(store.Change), kinds ...store.Kind) store.Subscriber {
	return store.Subscriber{Kinds: kinds, Changed: fn}
}
