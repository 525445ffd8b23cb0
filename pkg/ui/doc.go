// Package ui serves nomadic's web UI under /ui/: an HTML page, a style
// sheet and JavaScript modules embedded in the binary with go:embed.
//
// The UI is written in plain JavaScript modules that the browser loads as
// they are: there is no framework, no bundler and no build step, so `make
// dev` and `make test` need no JavaScript toolchain and what is committed
// is what runs. The files hold no data: the page reads the native API
// (/v1) from the browser, with the token the user gave it, and follows
// the API's event stream, so every server serves the same UI and a page
// is as fresh as etcd.
//
// Lists (overview, jobs, nodes, topology, evaluations) are kept in the
// browser as a model of compact rows, loaded once from
// GET /v1/ui/snapshot and then changed by the events of the stream alone;
// pages of one object (a job, an allocation, a node) read that object
// again when an event names it. The stream resumes from the last index it
// saw after a network blip or a server restart, and the page shows
// whether it is live or reconnecting. docs/ui.md describes the pages.
package ui
