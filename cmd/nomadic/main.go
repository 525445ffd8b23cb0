// Command nomadic runs the nomadic agent: a server (API and controllers), a
// node agent (client), or both with an embedded etcd in dev mode.
package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/nomadic-project/nomadic/pkg/driver/rawexec"
	"github.com/nomadic-project/nomadic/pkg/logmon"
	"github.com/nomadic-project/nomadic/pkg/version"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	switch os.Args[1] {
	case "agent":
		if err := runAgent(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "nomadic:", err)
			os.Exit(1)
		}
	case "sim":
		if err := runSim(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "nomadic:", err)
			os.Exit(1)
		}
	case "acl":
		if err := runACL(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "nomadic:", err)
			os.Exit(1)
		}
	case "task-guard":
		// What a dev agent starts its raw_exec tasks under (rawexec.RunGuard).
		args := os.Args[2:]
		if len(args) > 0 && args[0] == "--" {
			args = args[1:]
		}
		if err := rawexec.RunGuard(args); err != nil {
			fmt.Fprintln(os.Stderr, "nomadic:", err)
			os.Exit(127)
		}
	case "etcd-maintain":
		if err := runMaintain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "nomadic:", err)
			os.Exit(1)
		}
	case "etcd-restore":
		if err := runRestore(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "nomadic:", err)
			os.Exit(1)
		}
	case "node-ca":
		if err := runNodeCA(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "nomadic:", err)
			os.Exit(1)
		}
	case "version", "-version", "--version":
		fmt.Println("nomadic", version.Version)
	case "help", "-h", "-help", "--help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "nomadic: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `Usage: nomadic <command> [flags]

Commands:
  agent     run a server, a node agent (client), or both (-dev)
  sim       run many simulated node agents (mock driver) against a cluster
  acl bootstrap-reset  forget the ACL bootstrap (in etcd), so that it can be done again
  etcd-maintain  compact and defragment the cluster's etcd (and clear its NOSPACE alarm with -disarm)
  etcd-restore   restore a snapshot (nctl operator snapshot save) into a stopped server's embedded etcd
  node-ca   make the cluster's node CA (for -node-ca-cert and -node-ca-key)
  version   print the version

Run "nomadic agent -h" for the agent's flags.
`)
}

func setupLogging(level string) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	slog.SetDefault(slog.New(logHub.Handler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))))
}

// logHub hands the process's log to its followers (nomad monitor).
var logHub = logmon.NewHub()
