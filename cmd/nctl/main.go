// Command nctl is nomadic's command-line client, in the manner of kubectl.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nomadic-project/nomadic/pkg/client"
	"github.com/nomadic-project/nomadic/pkg/version"
	"github.com/spf13/cobra"
)

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit code %d", e.code)
	}
	return e.err.Error()
}

type globals struct {
	addr      string
	addrSet   bool
	namespace string
	out       io.Writer
	errOut    io.Writer
	// sec holds --token, --ca-cert, --client-cert and --client-key (or
	// their NCTL_ variables); set ones win over the context's.
	sec Context
}

// client returns a client of the cluster: --addr when given, else
// NCTL_ADDR, else the current context of the config file, else the dev
// agent's default address. The security flags apply on top.
func (g *globals) client() *client.Client {
	if g.addrSet || os.Getenv("NCTL_ADDR") != "" {
		return client.New(g.addr, clientOptions(&g.sec)...)
	}
	if conf, err := loadConfig(); err == nil {
		if cur := conf.current(); cur != nil {
			merged := *cur
			for _, f := range []struct{ dst, src *string }{{&merged.Token, &g.sec.Token}, {&merged.CACert, &g.sec.CACert},
				{&merged.ClientCert, &g.sec.ClientCert}, {&merged.ClientKey, &g.sec.ClientKey}} {
				if *f.src != "" {
					*f.dst = *f.src
				}
			}
			return client.New(merged.Address, clientOptions(&merged)...)
		}
	}
	return client.New(g.addr, clientOptions(&g.sec)...)
}

func (g *globals) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	g := &globals{out: stdout, errOut: stderr}
	return runRoot(newRoot(g), args, stdout, stderr)
}

// runRoot executes the command tree and turns its error into an exit code.
func runRoot(root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				fmt.Fprintln(stderr, "Error:", ee.err)
			}
			return ee.code
		}
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	return 0
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "nctl",
		Short:         "nctl controls a nomadic cluster",
		Long:          "nctl controls a nomadic cluster: submit jobs, watch allocations, nodes and evaluations.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	defAddr := os.Getenv("NCTL_ADDR")
	if defAddr == "" {
		defAddr = client.DefaultAddr
	}
	root.PersistentFlags().StringVar(&g.addr, "addr", defAddr, "address of a nomadic server (env NCTL_ADDR)")
	root.PersistentFlags().StringVarP(&g.namespace, "namespace", "n", "default", "namespace of the jobs")
	root.PersistentFlags().BoolVar(&noColor, "no-color", false, "no colours in tables (they are used only on a terminal; env NO_COLOR too)")
	for _, f := range []struct {
		dst       *string
		name, env string
		usage     string
	}{
		{&g.sec.Token, "token", "NCTL_TOKEN", "API token: an ACL token's secret (servers with -acl) or one of -http-token-file's"},
		{&g.sec.CACert, "ca-cert", "NCTL_CACERT", "CA certificate (PEM) that signed the server's, for https:// addresses"},
		{&g.sec.ClientCert, "client-cert", "NCTL_CLIENT_CERT", "client certificate (PEM), for servers started with -http-tls-client-ca"},
		{&g.sec.ClientKey, "client-key", "NCTL_CLIENT_KEY", "key of --client-cert (PEM)"},
	} {
		root.PersistentFlags().StringVar(f.dst, f.name, os.Getenv(f.env), f.usage+" (env "+f.env+")")
	}
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) {
		g.addrSet = cmd.Flags().Changed("addr")
		if !cmd.Flags().Changed("namespace") && os.Getenv("NCTL_ADDR") == "" && !g.addrSet {
			if conf, err := loadConfig(); err == nil {
				if cur := conf.current(); cur != nil && cur.Namespace != "" {
					g.namespace = cur.Namespace
				}
			}
		}
	}
	root.AddCommand(
		newApplyCmd(g),
		newPlanCmd(g),
		newOperatorCmd(g),
		newGetCmd(g),
		newDescribeCmd(g),
		newLogsCmd(g),
		newAllocCmd(g),
		newDeleteCmd(g),
		newJobCmd(g),
		newValidateCmd(g),
		newFmtCmd(g),
		newServerCmd(g),
		newNodeCmd(g),
		newRolloutCmd(g),
		newConfigCmd(g),
		newVarCmd(g),
		newACLCmd(g),
		newNamespaceCmd(g),
		&cobra.Command{
			Use:   "version",
			Short: "Print the version of nctl",
			Args:  cobra.NoArgs,
			Run: func(cmd *cobra.Command, _ []string) {
				fmt.Fprintln(g.out, "nctl", version.Version)
			},
		},
	)
	return root
}
