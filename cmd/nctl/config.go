package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/nomadic-project/nomadic/pkg/client"
	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// Context is a named way to reach a cluster, as kubeconfig has them.
type Context struct {
	Address    string `json:"address"`
	Namespace  string `json:"namespace,omitempty"`
	Token      string `json:"token,omitempty"`
	CACert     string `json:"ca-cert,omitempty"`
	ClientCert string `json:"client-cert,omitempty"`
	ClientKey  string `json:"client-key,omitempty"`
}

// Config is nctl's configuration file.
type Config struct {
	CurrentContext string              `json:"current-context,omitempty"`
	Contexts       map[string]*Context `json:"contexts,omitempty"`
}

// configPath is $NCTL_CONFIG, or ~/.config/nctl/config.yaml.
func configPath() string {
	if p := os.Getenv("NCTL_CONFIG"); p != "" {
		return p
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = "."
	}
	return filepath.Join(dir, "nctl", "config.yaml")
}

func loadConfig() (*Config, error) {
	b, err := os.ReadFile(configPath())
	if errors.Is(err, os.ErrNotExist) {
		return &Config{Contexts: map[string]*Context{}}, nil
	}
	if err != nil {
		return nil, err
	}
	var c Config
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return nil, fmt.Errorf("reading %s: %w", configPath(), err)
	}
	if c.Contexts == nil {
		c.Contexts = map[string]*Context{}
	}
	return &c, nil
}

func (c *Config) save() error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	p := configPath()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// current returns the current context, or nil.
func (c *Config) current() *Context {
	if c == nil || c.CurrentContext == "" {
		return nil
	}
	return c.Contexts[c.CurrentContext]
}

func clientOptions(ctx *Context) []client.Option {
	if ctx == nil {
		return nil
	}
	return []client.Option{client.WithToken(ctx.Token), client.WithTLSFiles(ctx.CACert, ctx.ClientCert, ctx.ClientKey)}
}

func newConfigCmd(g *globals) *cobra.Command {
	cfg := &cobra.Command{Use: "config", Short: "Named contexts: which cluster nctl talks to (" + "$NCTL_CONFIG or ~/.config/nctl/config.yaml)"}
	var c Context
	set := &cobra.Command{
		Use:   "set-context NAME --addr URL [--namespace NS] [--token T] [--ca-cert F] [--client-cert F --client-key F]",
		Short: "Create or change a context",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			conf, err := loadConfig()
			if err != nil {
				return err
			}
			cur := conf.Contexts[args[0]]
			if cur == nil {
				cur = &Context{}
			}
			f := cmd.Flags()
			for flag, dst := range map[string]*string{"addr": &cur.Address, "namespace": &cur.Namespace, "token": &cur.Token,
				"ca-cert": &cur.CACert, "client-cert": &cur.ClientCert, "client-key": &cur.ClientKey} {
				if f.Changed(flag) {
					v, _ := f.GetString(flag)
					*dst = v
				}
			}
			if cur.Address == "" {
				return errors.New("a context needs an address: --addr")
			}
			conf.Contexts[args[0]] = cur
			if conf.CurrentContext == "" {
				conf.CurrentContext = args[0]
			}
			if err := conf.save(); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "context %q set\n", args[0])
			return nil
		},
	}
	set.Flags().StringVar(&c.Address, "addr", "", "server address")
	set.Flags().StringVar(&c.Namespace, "namespace", "", "default namespace")
	set.Flags().StringVar(&c.Token, "token", "", "bearer token sent with every request")
	set.Flags().StringVar(&c.CACert, "ca-cert", "", "CA certificate for https addresses")
	set.Flags().StringVar(&c.ClientCert, "client-cert", "", "client certificate")
	set.Flags().StringVar(&c.ClientKey, "client-key", "", "client key")
	use := &cobra.Command{
		Use:   "use-context NAME",
		Short: "Make a context the current one",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			conf, err := loadConfig()
			if err != nil {
				return err
			}
			if conf.Contexts[args[0]] == nil {
				return fmt.Errorf("no context %q (nctl config get-contexts)", args[0])
			}
			conf.CurrentContext = args[0]
			if err := conf.save(); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "switched to context %q\n", args[0])
			return nil
		},
	}
	get := &cobra.Command{
		Use:   "get-contexts",
		Short: "List the contexts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conf, err := loadConfig()
			if err != nil {
				return err
			}
			names := make([]string, 0, len(conf.Contexts))
			for n := range conf.Contexts {
				names = append(names, n)
			}
			sort.Strings(names)
			tw := tabwriter.NewWriter(g.out, 0, 4, 3, ' ', 0)
			defer tw.Flush()
			fmt.Fprintln(tw, "CURRENT\tNAME\tADDRESS\tNAMESPACE")
			for _, n := range names {
				mark := ""
				if n == conf.CurrentContext {
					mark = "*"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", mark, n, conf.Contexts[n].Address, conf.Contexts[n].Namespace)
			}
			return nil
		},
	}
	del := &cobra.Command{
		Use:   "delete-context NAME",
		Short: "Remove a context",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			conf, err := loadConfig()
			if err != nil {
				return err
			}
			if conf.Contexts[args[0]] == nil {
				return fmt.Errorf("no context %q", args[0])
			}
			delete(conf.Contexts, args[0])
			if conf.CurrentContext == args[0] {
				conf.CurrentContext = ""
			}
			return conf.save()
		},
	}
	cfg.AddCommand(set, use, get, del)
	return cfg
}
